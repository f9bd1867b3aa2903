//! Deals' `dealstage` history, the only property history the mock keeps: every stage
//! the world deal entered, newest first as HubSpot lists versions, under
//! `propertiesWithHistory` in live object lists and in batch reads. Asking for property
//! history lowers the records one request may read to [`MAX_WITH_HISTORY`] (HubSpot
//! answers 400 beyond); asking for another property's history, or for any on another
//! object type, is a 400 naming what the mock can do (as search does for filters it
//! cannot apply).

use super::json::{Small, esc};
use super::objects::Object;
use super::records::{self, Ctx};
use super::stage_id;
use crate::world::DealSeed;

/// Records one request may read with property history (a list page's `limit`, a batch
/// read's inputs).
pub const MAX_WITH_HISTORY: usize = 50;

/// The 400 of a list page asking for more than [`MAX_WITH_HISTORY`] records with
/// property history.
pub const LIST_LIMIT_MESSAGE: &str = "The maximum number of objects that can be read with property histories is 50. Please reduce the limit and try again";

/// Whether a request that names `asked` under `propertiesWithHistory` gets deals' stage
/// history: `false` when it names none, and the message of the 400 when it names what
/// the mock does not keep.
pub(crate) fn asked(obj: Object, asked: &[String]) -> Result<bool, &'static str> {
    if asked.is_empty() {
        return Ok(false);
    }
    if obj != Object::Deals || asked.iter().any(|p| p != "dealstage") {
        return Err("The mock keeps the history of deals' dealstage only.");
    }
    Ok(true)
}

/// `{"dealstage":[…]}`: the deal's stages newest first, each version set by its owner
/// in the CRM.
fn stage_versions(out: &mut String, d: &DealSeed) {
    out.push_str("{\"dealstage\":[");
    for (k, (stage, ms)) in d.stage_history.iter().rev().enumerate() {
        if k > 0 {
            out.push(',');
        }
        let user = 9_000_000 + d.owner;
        out.push_str("{\"value\":");
        esc(out, &stage_id(d.pipeline, *stage));
        out.push_str(",\"timestamp\":");
        esc(out, &Small::time(*ms));
        out.push_str(&format!(
            ",\"sourceType\":\"CRM_UI\",\"sourceId\":\"userId:{user}\",\"updatedByUserId\":{user}}}"
        ));
    }
    out.push_str("]}");
}

/// Append record `idx` as [`records::record`] does, and when `history` is asked for and
/// it is a deal, with its `propertiesWithHistory`.
pub(crate) fn record(
    out: &mut String,
    ctx: &Ctx<'_>,
    idx: u64,
    with_associations: bool,
    history: bool,
) -> bool {
    if !records::record(out, ctx, idx, with_associations) {
        return false;
    }
    if history
        && ctx.obj == Object::Deals
        && let Some(d) = ctx.world.deal(idx)
    {
        // Reopen the record to add its history.
        out.pop();
        out.push_str(",\"propertiesWithHistory\":");
        stage_versions(out, &d);
        out.push('}');
    }
    true
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Extension;
    use axum::extract::{Path, RawQuery, State};
    use domain::crm::ObjectKind;

    use super::super::{Config, Shared, handlers};
    use super::*;
    use crate::server::{MockState, rfc3339_ms};
    use crate::world::WorldSpec;
    use crate::{MockOptions, World};

    #[test]
    fn stage_versions_are_newest_first_with_millisecond_times() {
        let world = World::new(WorldSpec::small());
        for idx in 0..30 {
            world.modify(ObjectKind::Deal, idx);
            world.modify(ObjectKind::Deal, idx);
        }
        let d = (0..30)
            .filter_map(|i| world.deal(i))
            .find(|d| d.stage_history.len() > 1)
            .expect("a deal that moved");
        let mut out = String::new();
        stage_versions(&mut out, &d);
        let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
        let versions = v["dealstage"].as_array().expect("list");
        assert_eq!(versions.len(), d.stage_history.len());
        let (stage, ms) = d.stage_history[d.stage_history.len() - 1];
        assert_eq!(versions[0]["value"], stage_id(d.pipeline, stage).as_str());
        assert_eq!(versions[0]["timestamp"], rfc3339_ms(ms).as_str());
        let (first, _) = d.stage_history[0];
        let last = &versions[versions.len() - 1];
        assert_eq!(last["value"], stage_id(d.pipeline, first).as_str());
    }

    /// `GET /crm/v3/objects/{object}?{query}`: the status and the JSON body.
    async fn list(state: &Arc<MockState>, object: &str, query: &str) -> (u16, serde_json::Value) {
        let shared = Arc::new(Shared {
            config: Config::default(),
            search_window: Mutex::default(),
        });
        let response = handlers::list(
            State(state.clone()),
            Extension(shared),
            Path(object.to_owned()),
            RawQuery(Some(query.to_owned())),
        )
        .await;
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&body).expect("JSON"))
    }

    #[tokio::test]
    async fn deal_lists_carry_stage_history_fifty_at_most() {
        let state = Arc::new(MockState::new(
            WorldSpec::sized(10, 10, 120, 10),
            MockOptions::default(),
        ));
        let world = &state.world;
        for idx in 0..120 {
            for _ in 0..(idx % 3) {
                world.modify(ObjectKind::Deal, idx);
            }
        }
        world.delete(ObjectKind::Deal, 4);

        // Every live deal of the page, with its versions newest first.
        let (status, page) = list(
            &state,
            "deals",
            "limit=50&archived=false&properties=dealstage&propertiesWithHistory=dealstage",
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let results = page["results"].as_array().expect("results");
        assert_eq!(results.len(), 50);
        assert!(page["paging"]["next"]["after"].is_string());
        let mut moved = 0;
        for r in results {
            let id = r["id"].as_str().expect("id");
            let d = super::super::index_of(ObjectKind::Deal, id)
                .and_then(|i| world.deal(i))
                .expect("a live deal");
            let versions: Vec<(&str, &str)> = r["propertiesWithHistory"]["dealstage"]
                .as_array()
                .expect("versions")
                .iter()
                .map(|v| {
                    (
                        v["value"].as_str().expect("value"),
                        v["timestamp"].as_str().expect("time"),
                    )
                })
                .collect();
            let want: Vec<(String, String)> = d
                .stage_history
                .iter()
                .rev()
                .map(|(stage, ms)| (stage_id(d.pipeline, *stage), rfc3339_ms(*ms)))
                .collect();
            let want: Vec<(&str, &str)> =
                want.iter().map(|(s, t)| (s.as_str(), t.as_str())).collect();
            assert_eq!(versions, want, "deal {id}");
            assert_eq!(Some(versions[0].0), r["properties"]["dealstage"].as_str());
            moved += usize::from(versions.len() > 1);
        }
        assert!(moved > 0, "some deals moved");

        // Without the parameter, and in the recycle bin, no history.
        let (status, page) = list(&state, "deals", "limit=100&properties=dealstage").await;
        assert_eq!(status, 200);
        assert_eq!(page["results"].as_array().map(Vec::len), Some(100));
        assert!(page["results"][0].get("propertiesWithHistory").is_none());
        let (status, page) = list(
            &state,
            "deals",
            "limit=50&archived=true&propertiesWithHistory=dealstage",
        )
        .await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["results"].as_array().map(Vec::len), Some(1));
        assert!(page["results"][0].get("propertiesWithHistory").is_none());

        // What HubSpot (or the mock) refuses: more than 50 with history, another
        // property's history, history of another object type.
        for (object, query) in [
            ("deals", "limit=51&propertiesWithHistory=dealstage"),
            (
                "deals",
                "limit=100&archived=true&propertiesWithHistory=dealstage",
            ),
            ("deals", "limit=10&propertiesWithHistory=amount"),
            ("deals", "limit=10&propertiesWithHistory=dealstage,amount"),
            ("companies", "limit=10&propertiesWithHistory=dealstage"),
        ] {
            let (status, body) = list(&state, object, query).await;
            assert_eq!(status, 400, "{object}?{query}: {body}");
            assert_eq!(body["category"], "VALIDATION_ERROR");
        }
        let (_, body) = list(&state, "deals", "limit=51&propertiesWithHistory=dealstage").await;
        assert_eq!(body["message"], LIST_LIMIT_MESSAGE);
    }
}
