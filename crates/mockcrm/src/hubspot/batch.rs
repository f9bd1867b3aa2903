//! `POST /crm/v3/objects/{object}/batch/read`: records by id, with the properties asked
//! for (or the defaults) and, for deals, the history of `dealstage` under
//! `propertiesWithHistory` ([`history`]). At most 100 ids, or 50 when any history is
//! asked for (what HubSpot accepts); ids that are not live records come back under
//! `errors` with a 207.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::handlers::{bad_request, batch_answer, now_ms};
use super::history::{self, MAX_WITH_HISTORY};
use super::objects::Object;
use super::records::{Associations, Ctx};
use super::{Shared, activity_type, index_of};
use crate::server::{MockState, rfc3339_ms};

/// Ids per batch read.
pub const MAX_INPUTS: usize = 100;

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
    let history = match history::asked(obj, &request.properties_with_history) {
        Ok(h) => h,
        Err(m) => return bad_request(m),
    };
    if history && request.inputs.len() > MAX_WITH_HISTORY {
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
        let written = idx.is_some_and(|i| history::record(&mut results, &ctx, i, false, history));
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
