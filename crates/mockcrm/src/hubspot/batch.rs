//! `POST /crm/v3/objects/{object}/batch/read`: records by id, with the properties asked
//! for (or the defaults) and, for deals, the history of `dealstage` under
//! `propertiesWithHistory` — every stage the world deal entered, newest first, as
//! HubSpot lists versions. At most 100 ids, or 50 when any history is asked for (what
//! HubSpot accepts); ids that are not live records come back under `errors` with a 207.
//!
//! The mock keeps no other property history: asking for one is a 400 naming what it
//! can do (as search does for filters it cannot apply).

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::handlers::{bad_request, batch_answer, now_ms};
use super::json::{Small, esc};
use super::objects::Object;
use super::records::{self, Associations, Ctx};
use super::{Shared, activity_type, index_of, stage_id};
use crate::server::{MockState, rfc3339_ms};
use crate::world::DealSeed;

/// Ids per batch read.
pub const MAX_INPUTS: usize = 100;
/// Ids per batch read that asks for property history.
pub const MAX_HISTORY_INPUTS: usize = 50;

#[derive(Deserialize)]
struct BatchRead {
    #[serde(default)]
    inputs: Vec<Input>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default, rename = "propertiesWithHistory")]
    properties_with_history: Vec<String>,
    #[serde(default, rename = "idProperty")]
    id_property: Option<String>,
}

#[derive(Deserialize)]
struct Input {
    id: serde_json::Value,
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

/// `POST /crm/v3/objects/{object}/batch/read`.
pub(crate) async fn batch_read(
    State(state): State<Arc<MockState>>,
    Extension(shared): Extension<Arc<Shared>>,
    Path(object): Path<String>,
    body: Bytes,
) -> Response {
    let Some(obj) = Object::parse(&object) else {
        return bad_request(&format!("Unable to infer object type from: {object}"));
    };
    let Ok(request) = serde_json::from_slice::<BatchRead>(&body) else {
        return bad_request("Invalid input JSON on line 1.");
    };
    if request.id_property.is_some() {
        return bad_request("The mock reads by record id only (no idProperty).");
    }
    let history = !request.properties_with_history.is_empty();
    if history
        && (obj != Object::Deals
            || request
                .properties_with_history
                .iter()
                .any(|p| p != "dealstage"))
    {
        return bad_request("The mock keeps the history of deals' dealstage only.");
    }
    if history && request.inputs.len() > MAX_HISTORY_INPUTS {
        return bad_request(
            "The maximum number of inputs supported in a batch request for property histories is 50. Please reduce the number of items and try again",
        );
    }
    if request.inputs.len() > MAX_INPUTS {
        return bad_request("Batch read accepts at most 100 inputs.");
    }
    let started = rfc3339_ms(now_ms());
    let world = &state.world;
    let seed = world.spec().seed;
    let ctx = Ctx {
        world,
        shared: &shared,
        obj,
        wanted: obj.wanted(&request.properties),
        associations: Associations::default(),
    };
    let mut results = String::with_capacity(request.inputs.len() * 1200);
    let mut missing: Vec<String> = Vec::new();
    for input in &request.inputs {
        let id = match &input.id {
            serde_json::Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        };
        let idx = index_of(obj.kind(), &id).filter(|i| match obj {
            Object::Engagement(t) => activity_type(seed, *i) == t,
            _ => true,
        });
        let mark = results.len();
        if !results.is_empty() {
            results.push(',');
        }
        let written = idx.is_some_and(|i| records::record(&mut results, &ctx, i, false));
        let deal = idx
            .filter(|_| written && history)
            .and_then(|i| world.deal(i));
        if let Some(d) = deal {
            // Reopen the record to add its history.
            results.pop();
            results.push_str(",\"propertiesWithHistory\":");
            stage_versions(&mut results, &d);
            results.push('}');
        }
        if !written {
            results.truncate(mark);
            missing.push(id);
        }
    }
    let errors = if missing.is_empty() {
        String::new()
    } else {
        let ids = serde_json::to_string(&missing).unwrap_or_else(|_| "[]".into());
        format!(
            "{{\"status\":\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"message\":\"Could not get some {} objects, they may be deleted or not exist. Check that ids are valid.\",\"context\":{{\"ids\":{ids}}},\"errors\":[]}}",
            obj.singular().to_ascii_uppercase()
        )
    };
    batch_answer(
        &started,
        &results,
        usize::from(!missing.is_empty()),
        &errors,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::World;
    use crate::world::WorldSpec;

    #[test]
    fn stage_versions_are_newest_first_with_millisecond_times() {
        let world = World::new(WorldSpec::small());
        for idx in 0..30 {
            world.modify(domain::crm::ObjectKind::Deal, idx);
            world.modify(domain::crm::ObjectKind::Deal, idx);
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
}
