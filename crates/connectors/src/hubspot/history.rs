//! Deal stage history. HubSpot lists and searches return only a property's current
//! value, so after each page of deals their `dealstage` versions are read with
//! `POST /crm/v3/objects/deals/batch/read` and `propertiesWithHistory: ["dealstage"]`,
//! at most [`HISTORY_BATCH`] ids a request (HubSpot's cap for batch reads with property
//! history), and folded into the deal's stage changes, oldest first.

use std::collections::HashMap;

use domain::crm::{RecordData, StageChange};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::map::{Parsed, Shape};
use super::types::ObjectType;
use super::values::{millis, nonempty, seconds};
use super::wire::text;
use crate::http::Reply;
use crate::{Change, ConnectorError, Http};

/// Ids per batch read that asks for property history: HubSpot answers 400 ("The maximum
/// number of inputs supported in a batch request for property histories is 50") beyond,
/// where plain batch reads take 100.
pub const HISTORY_BATCH: usize = 50;

/// The batch read of deals.
pub const BATCH_READ: &str = "/crm/v3/objects/deals/batch/read";

/// A batch read answer (`BatchResponseSimplePublicObjectWithHistory`), as far as we read
/// it. Ids HubSpot could not read come back under `errors` (status 207) and are skipped.
#[derive(Deserialize)]
struct HistoryBatch {
    #[serde(default)]
    results: Vec<HistoryResult>,
}

#[derive(Deserialize)]
struct HistoryResult {
    #[serde(default, deserialize_with = "text")]
    id: Option<String>,
    #[serde(default, rename = "propertiesWithHistory")]
    history: Option<Histories>,
}

#[derive(Deserialize, Default)]
struct Histories {
    #[serde(default, deserialize_with = "versions")]
    dealstage: Vec<Version>,
}

/// One version of a property: `{"value":…,"timestamp":…,"sourceType":…,…}`.
#[derive(Deserialize, Debug)]
pub(crate) struct Version {
    #[serde(default, deserialize_with = "text")]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "text")]
    pub timestamp: Option<String>,
}

/// A list of versions; a version that is not an object is dropped, and anything but a
/// list is an empty one (a surprising answer costs the history, not the page).
fn versions<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Version>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let serde_json::Value::Array(items) = value else {
        return Ok(Vec::new());
    };
    Ok(items
        .into_iter()
        .filter(serde_json::Value::is_object)
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

/// The stage changes of `versions` (HubSpot lists them newest first): oldest first,
/// versions without a stage or a readable time dropped, and a version that repeats the
/// stage before it (a re-save, an import) folded into that one.
pub(crate) fn fold(versions: &[Version]) -> Vec<StageChange> {
    let mut changes: Vec<StageChange> = versions
        .iter()
        .rev()
        .filter_map(|v| {
            Some(StageChange {
                stage: nonempty(v.value.clone())?,
                at: seconds(millis(v.timestamp.as_deref()?)?),
            })
        })
        .collect();
    // Stable: versions of one instant keep their (reversed) listed order.
    changes.sort_by_key(|c| c.at);
    changes.dedup_by(|later, earlier| later.stage == earlier.stage);
    changes
}

/// The stage histories of a page's deals by HubSpot id; nothing (and no request) for
/// other object types.
pub(crate) async fn for_page(
    http: &Http,
    t: &ObjectType,
    parsed: &[Parsed],
) -> Result<HashMap<String, Vec<StageChange>>, ConnectorError> {
    if t.shape != Shape::Deal {
        return Ok(HashMap::new());
    }
    let ids: Vec<&str> = parsed
        .iter()
        .filter_map(|p| p.typed.as_ref().ok())
        .map(|t| t.id())
        .collect();
    read(http, &ids).await
}

/// The stage histories of `ids`, [`HISTORY_BATCH`] a request.
async fn read(
    http: &Http,
    ids: &[&str],
) -> Result<HashMap<String, Vec<StageChange>>, ConnectorError> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(HISTORY_BATCH) {
        let inputs: Vec<serde_json::Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
        let body = json!({
            "inputs": inputs,
            "properties": [],
            "propertiesWithHistory": ["dealstage"],
        });
        let reply = http.post_read(BATCH_READ, &body).await?;
        out.extend(histories(&reply)?);
    }
    Ok(out)
}

/// The folded stage history of each deal in a batch read answer, by HubSpot id.
pub(crate) fn histories(
    reply: &Reply,
) -> Result<impl Iterator<Item = (String, Vec<StageChange>)> + use<>, ConnectorError> {
    let batch: HistoryBatch = reply.json()?;
    Ok(batch.results.into_iter().filter_map(|r| {
        let id = nonempty(r.id)?;
        Some((id, fold(&r.history.unwrap_or_default().dealstage)))
    }))
}

/// Give each deal among `changes` its history from `histories`.
pub(crate) fn attach(changes: &mut [Change], mut histories: HashMap<String, Vec<StageChange>>) {
    if histories.is_empty() {
        return;
    }
    for change in changes {
        if let Change::Upsert(record) = change
            && let RecordData::Deal(deal) = &mut record.data
            && let Some(history) = histories.remove(&record.external_id)
        {
            deal.stage_history = history;
        }
    }
}
