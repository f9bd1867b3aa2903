//! Deal stage history, as HubSpot's `dealstage` versions (newest first) folded into the
//! deal's stage changes, oldest first.
//!
//! The full pass lists deals with `propertiesWithHistory=dealstage`, so each listed
//! deal carries its versions, read with the deal itself (`wire::Object::history`; no
//! request of its own, but pages of 50). A
//! search returns only current values, so after each search page of deals the
//! incremental pass reads their versions with `POST /crm/v3/objects/deals/batch/read`
//! and `propertiesWithHistory: ["dealstage"]` ([`for_page`]), at most [`HISTORY_BATCH`]
//! ids a request (HubSpot's cap for batch reads with property history).

use std::collections::HashMap;

use domain::crm::{RecordData, StageChange};
use serde::{Deserialize, Deserializer};
use serde_json::json;

use super::map::Parsed;
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

/// A batch read result with its property history.
#[derive(Deserialize)]
struct HistoryResult {
    #[serde(default, deserialize_with = "text")]
    id: Option<String>,
    #[serde(default, rename = "propertiesWithHistory")]
    history: Option<Histories>,
}

/// `propertiesWithHistory` of a listed deal or a batch read result.
#[derive(Deserialize, Default)]
pub(crate) struct Histories {
    #[serde(default, deserialize_with = "versions")]
    pub(crate) dealstage: Vec<Version>,
}

/// `propertiesWithHistory` as far as it reads: anything unreadable is no history (it
/// costs the history, not the record).
pub(crate) fn lenient<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Histories>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).ok())
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

/// The stage histories of a search page's deals by HubSpot id, by batch read; nothing
/// (and no request) for other object types.
pub(crate) async fn for_page(
    http: &Http,
    t: &ObjectType,
    parsed: &[Parsed],
) -> Result<HashMap<String, Vec<StageChange>>, ConnectorError> {
    if t.history().is_none() {
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

/// A result's HubSpot id and folded stage history (none without an id).
fn entry(r: HistoryResult) -> Option<(String, Vec<StageChange>)> {
    let id = nonempty(r.id)?;
    Some((id, fold(&r.history.unwrap_or_default().dealstage)))
}

/// The folded stage history of each deal in a batch read answer, by HubSpot id.
pub(crate) fn histories(
    reply: &Reply,
) -> Result<impl Iterator<Item = (String, Vec<StageChange>)> + use<>, ConnectorError> {
    let batch: HistoryBatch = reply.json()?;
    Ok(batch.results.into_iter().filter_map(entry))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::value::RawValue;

    use super::*;
    use crate::hubspot::map;
    use crate::hubspot::types::DEALS;

    /// HubSpot lists versions newest first; here with a re-save of a stage, a version
    /// without a value, one with an unreadable time and one that is not an object.
    const VERSIONS: &str = r#"[
        {"value":"closedwon","timestamp":"2025-03-01T12:00:00.000Z","sourceType":"CRM_UI","sourceId":"userId:7","updatedByUserId":7},
        {"value":"decisionmakerboughtin","timestamp":"2025-02-10T09:00:00.000Z","sourceType":"CRM_UI"},
        {"value":"","timestamp":"2025-02-05T09:00:00.000Z"},
        {"value":"qualifiedtobuy","timestamp":"last week"},
        7,
        {"value":"appointmentscheduled","timestamp":"2025-01-05T09:00:00.000Z","sourceType":"IMPORT"},
        {"value":"appointmentscheduled","timestamp":"1735808400000","sourceType":"CRM_UI"}]"#;

    /// [`VERSIONS`] oldest first (order must not matter).
    fn reversed() -> String {
        let mut v: Vec<serde_json::Value> = serde_json::from_str(VERSIONS).expect("json");
        v.reverse();
        serde_json::to_string(&v).expect("json")
    }

    /// What [`VERSIONS`] folds to.
    fn moved() -> Vec<(String, i64)> {
        vec![
            ("appointmentscheduled".to_owned(), 1_735_808_400),
            ("decisionmakerboughtin".to_owned(), 1_739_178_000),
            ("closedwon".to_owned(), 1_740_830_400),
        ]
    }

    type Folded = BTreeMap<String, Vec<(String, i64)>>;

    fn folded(histories: impl IntoIterator<Item = (String, Vec<StageChange>)>) -> Folded {
        histories
            .into_iter()
            .map(|(id, h)| (id, h.into_iter().map(|c| (c.stage, c.at)).collect()))
            .collect()
    }

    fn want(entries: &[(&str, bool)]) -> Folded {
        entries
            .iter()
            .map(|(id, has)| {
                let h = if *has { moved() } else { Vec::new() };
                ((*id).to_owned(), h)
            })
            .collect()
    }

    #[test]
    fn batch_reads_fold_oldest_first_without_repeats_or_junk() {
        // Deal 4 lists the versions oldest first; deal 2's history is not a list, deal 3
        // has none, and a result without an id is dropped.
        let body = format!(
            r#"{{"status":"COMPLETE","results":[
            {{"id":"1","properties":{{"hs_object_id":"1"}},"propertiesWithHistory":{{"dealstage":{VERSIONS}}},"archived":false}},
            {{"id":"2","propertiesWithHistory":{{"dealstage":"closedlost"}}}},
            {{"id":"3"}},
            {{"id":" 4 ","propertiesWithHistory":{{"dealstage":{}}}}},
            {{"propertiesWithHistory":{{"dealstage":[]}}}}],
            "startedAt":"2025-05-01T10:12:13.456Z","completedAt":"2025-05-01T10:12:13.500Z"}}"#,
            reversed()
        );
        let reply = Reply {
            headers: Default::default(),
            body: body.into_bytes(),
        };
        let got = folded(histories(&reply).expect("parses"));
        assert_eq!(
            got,
            want(&[("1", true), ("2", false), ("3", false), ("4", true)])
        );
        let truncated = Reply {
            headers: Default::default(),
            body: br#"{"results":[{"id":"1","propertiesWith"#.to_vec(),
        };
        assert!(matches!(
            histories(&truncated).map(|_| ()),
            Err(ConnectorError::Malformed(_))
        ));
    }

    #[test]
    fn listed_deals_carry_their_own_history() {
        // A list page with `propertiesWithHistory=dealstage`: deal 4 lists the versions
        // oldest first, deal 2's history is not a list, deal 3 has none, deal 5's
        // `propertiesWithHistory` is not an object (deal 5 keeps no history, but is
        // kept), and a record that is not an object is skipped by the mapping.
        let results = [
            format!(
                r#"{{"id":"1","properties":{{"dealname":"A","dealstage":"closedwon"}},"propertiesWithHistory":{{"dealstage":{VERSIONS}}},"archived":false}}"#
            ),
            r#"{"id":"2","properties":{"dealname":"B"},"propertiesWithHistory":{"dealstage":"closedlost"}}"#.to_owned(),
            r#"{"id":"3","properties":{"dealname":"C"}}"#.to_owned(),
            format!(
                r#"{{"id":" 4 ","properties":{{"dealname":"D"}},"propertiesWithHistory":{{"dealstage":{}}}}}"#,
                reversed()
            ),
            r#"{"id":"5","properties":{"dealname":"E"},"propertiesWithHistory":"dealstage"}"#.to_owned(),
            "7".to_owned(),
        ];
        let parse = |t: &ObjectType| -> Vec<Parsed> {
            results
                .iter()
                .map(|r| map::parse(t.shape, RawValue::from_string(r.clone()).expect("raw")))
                .collect()
        };
        let deals = parse(&DEALS);
        assert_eq!(deals.iter().filter(|p| p.typed.is_ok()).count(), 5);
        // Each deal reads its history with the rest of it (no second parse, no attach).
        let changes: Vec<Change> = deals
            .into_iter()
            .filter_map(|p| p.build(None).ok())
            .map(Change::Upsert)
            .collect();
        let attached: Folded = changes
            .iter()
            .filter_map(|c| match c {
                Change::Upsert(r) => match &r.data {
                    RecordData::Deal(d) => Some((
                        r.external_id.clone(),
                        d.stage_history
                            .iter()
                            .map(|c| (c.stage.clone(), c.at))
                            .collect(),
                    )),
                    _ => None,
                },
                Change::Delete { .. } => None,
            })
            .collect();
        assert_eq!(
            attached,
            want(&[
                ("1", true),
                ("2", false),
                ("3", false),
                ("4", true),
                ("5", false)
            ])
        );
    }
}
