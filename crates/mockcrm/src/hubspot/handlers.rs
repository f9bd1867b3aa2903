//! Read endpoints other than search: object lists (live or archived), owners, deal
//! pipelines and v4 association batch reads.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::crm::ObjectKind;
use serde::Deserialize;

use super::history::{self, LIST_LIMIT_MESSAGE, MAX_WITH_HISTORY};
use super::json::esc;
use super::objects::Object;
use super::records::{self, Associations, Ctx};
use super::{Shared, activity_type, error_response, index_of, numeric_id};
use crate::server::{MockState, rfc3339_ms};

/// A query string, keeping repeated keys (`properties=a&properties=b` and `a,b` alike).
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Split and decode a raw query string.
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.unwrap_or_default()
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `key`, comma lists split.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// Percent-decoding (and `+` as space) of one query component.
pub(crate) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match (
                    (bytes[i + 1] as char).to_digit(16),
                    (bytes[i + 2] as char).to_digit(16),
                ) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A JSON response with HubSpot's content type.
pub(crate) fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

/// HubSpot's 400 `VALIDATION_ERROR` with `message`.
pub(crate) fn bad_request(message: &str) -> Response {
    error_response(400, "VALIDATION_ERROR", message)
}

/// `limit` within 1..=max (HubSpot's default is 10), or the message of the 400.
pub(crate) fn limit(q: &Query, max: usize) -> Result<usize, String> {
    match q.get("limit") {
        None => Ok(10),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!("limit must be a number between 1 and {max}")),
        },
    }
}

/// Close a `results` array and add `paging` when there is a next page.
pub(crate) fn finish_page(out: &mut String, next: Option<String>, link_base: &str) {
    out.push(']');
    if let Some(after) = next {
        out.push_str(",\"paging\":{\"next\":{\"after\":");
        esc(out, &after);
        out.push_str(",\"link\":");
        esc(out, &format!("{link_base}?after={after}"));
        out.push_str("}}");
    }
    out.push('}');
}

/// `GET /crm/v3/objects/{object}`: a page of live (or, with `archived=true`, archived)
/// records in id order; `after` is the id to start from. With
/// `propertiesWithHistory=dealstage` live deals carry their stage versions, at most 50 a
/// page ([`history`]).
pub(crate) async fn list(
    State(state): State<Arc<MockState>>,
    Extension(shared): Extension<Arc<Shared>>,
    Path(object): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(obj) = Object::parse(&object) else {
        return bad_request(&format!("Unable to infer object type from: {object}"));
    };
    let q = Query::parse(raw.as_deref());
    let history = match history::asked(obj, &q.list("propertiesWithHistory")) {
        Ok(h) => h,
        Err(m) => return bad_request(m),
    };
    let limit = match limit(&q, 100) {
        Ok(l) if history && l > MAX_WITH_HISTORY => return bad_request(LIST_LIMIT_MESSAGE),
        Ok(l) => l,
        Err(m) => return bad_request(&m),
    };
    let kind = obj.kind();
    let start = match q.get("after") {
        None | Some("") => 0,
        Some(a) => match index_of(kind, a) {
            Some(i) => i,
            None => return bad_request("Invalid paging cursor (after)."),
        },
    };
    let world = &state.world;
    let seed = world.spec().seed;
    let wanted_type = |idx: u64| match obj {
        Object::Engagement(t) => activity_type(seed, idx) == t,
        _ => true,
    };
    let ctx = Ctx {
        world,
        shared: &shared,
        obj,
        wanted: obj.wanted(&q.list("properties")),
        associations: Associations::parse(&q.list("associations")),
    };
    let mut out = String::with_capacity(1024 * (limit + 1));
    out.push_str("{\"results\":[");
    let mut next = None;
    if q.get("archived") == Some("true") {
        let mut deleted: Vec<(u64, i64)> = world
            .deleted(kind)
            .into_iter()
            .filter(|(_, idx)| *idx >= start && wanted_type(*idx))
            .map(|(ms, idx)| (idx, ms))
            .collect();
        deleted.sort_unstable();
        for (n, (idx, ms)) in deleted.iter().enumerate() {
            if n == limit {
                next = Some(numeric_id(kind, *idx).to_string());
                break;
            }
            if n > 0 {
                out.push(',');
            }
            records::archived(&mut out, &ctx, *idx, *ms);
        }
    } else {
        let mut cursor = start.checked_sub(1);
        let mut written = 0;
        'scan: loop {
            let chunk = world.page(kind, cursor, (limit + 1).max(256));
            let Some(last) = chunk.last().copied() else {
                break;
            };
            cursor = Some(last);
            for idx in chunk.into_iter().filter(|i| wanted_type(*i)) {
                if written == limit {
                    next = Some(numeric_id(kind, idx).to_string());
                    break 'scan;
                }
                if written > 0 {
                    out.push(',');
                }
                let mark = out.len();
                if history::record(&mut out, &ctx, idx, true, history) {
                    written += 1;
                } else if written > 0 {
                    out.truncate(mark - 1);
                }
            }
        }
    }
    let link = format!("{}/crm/v3/objects/{object}", state.base_url());
    finish_page(&mut out, next, &link);
    json(StatusCode::OK, out)
}

#[derive(Deserialize)]
struct BatchInput {
    #[serde(default)]
    inputs: Vec<BatchId>,
}

#[derive(Deserialize)]
struct BatchId {
    id: serde_json::Value,
}

/// HubSpot's built-in association type ids: (primary, unlabeled) from → to.
fn association_type(from: Object, to: ObjectKind) -> (u32, Option<u32>) {
    use domain::crm::ActivityType::*;
    match (from, to) {
        (Object::Contacts, ObjectKind::Company) => (1, Some(279)),
        (Object::Deals, ObjectKind::Contact) => (3, None),
        (Object::Deals, ObjectKind::Company) => (5, Some(341)),
        (Object::Engagement(t), to) => {
            let base = match t {
                Call => 194,
                Email => 198,
                Meeting => 200,
                Note => 202,
                Task => 204,
            };
            match to {
                ObjectKind::Contact => (base, None),
                ObjectKind::Company => (base - 12, None),
                _ => (base + 12, None),
            }
        }
        _ => (0, None),
    }
}

/// `POST /crm/v4/associations/{from}/{to}/batch/read` (at most 1,000 ids): for each id,
/// the associated ids of `to`; ids without any come back as errors with a 207.
pub(crate) async fn associations(
    State(state): State<Arc<MockState>>,
    Path((from, to)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let (Some(from_obj), Some(to_obj)) = (Object::parse(&from), Object::parse(&to)) else {
        return bad_request("Unknown object type.");
    };
    let Ok(input) = serde_json::from_slice::<BatchInput>(&body) else {
        return bad_request("Invalid input JSON.");
    };
    if input.inputs.len() > 1000 {
        return bad_request("Batch read associations accepts at most 1000 inputs.");
    }
    let started = rfc3339_ms(now_ms());
    let world = &state.world;
    let seed = world.spec().seed;
    let to_kind = to_obj.kind();
    let (primary, unlabeled) = association_type(from_obj, to_kind);
    let mut results = String::new();
    let mut errors = String::new();
    let (mut n_results, mut n_errors) = (0, 0);
    for input in &input.inputs {
        let id = match &input.id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let idx = index_of(from_obj.kind(), &id).filter(|i| match from_obj {
            Object::Engagement(t) => activity_type(seed, *i) == t,
            _ => true,
        });
        let (companies, contacts, deals) = idx
            .map(|i| records::targets(world, from_obj, i))
            .unwrap_or_default();
        let targets = match to_kind {
            ObjectKind::Company => companies,
            ObjectKind::Contact => contacts,
            ObjectKind::Deal => deals,
            _ => Vec::new(),
        };
        if targets.is_empty() {
            if n_errors > 0 {
                errors.push(',');
            }
            n_errors += 1;
            errors.push_str(&format!(
                "{{\"status\":\"error\",\"category\":\"OBJECT_NOT_FOUND\",\"subCategory\":\"crm.associations.NO_ASSOCIATIONS_FOUND\",\"context\":{{\"fromObjectId\":[{}]}},\"message\":",
                serde_json::Value::String(id.clone())
            ));
            esc(
                &mut errors,
                &format!("No {to} is associated with {} {id}.", from_obj.singular()),
            );
            errors.push_str(",\"errors\":[]}");
            continue;
        }
        if n_results > 0 {
            results.push(',');
        }
        n_results += 1;
        results.push_str("{\"from\":{\"id\":");
        esc(&mut results, &id);
        results.push_str("},\"to\":[");
        for (k, target) in targets.iter().enumerate() {
            if k > 0 {
                results.push(',');
            }
            results.push_str(&format!(
                "{{\"toObjectId\":{},\"associationTypes\":[",
                numeric_id(to_kind, *target)
            ));
            match unlabeled {
                Some(u) => results.push_str(&format!(
                    "{{\"category\":\"HUBSPOT_DEFINED\",\"typeId\":{primary},\"label\":\"{} with Primary Company\"}},{{\"category\":\"HUBSPOT_DEFINED\",\"typeId\":{u},\"label\":null}}",
                    if from_obj == Object::Deals { "Deal" } else { "Contact" }
                )),
                None => results.push_str(&format!(
                    "{{\"category\":\"HUBSPOT_DEFINED\",\"typeId\":{primary},\"label\":null}}"
                )),
            }
            results.push_str("]}");
        }
        results.push_str("]}");
    }
    batch_answer(&started, &results, n_errors, &errors)
}

/// A batch answer: `results` (JSON objects, comma-separated), and `errors` when
/// `n_errors > 0` (then with a 207), timed from `started`.
pub(crate) fn batch_answer(
    started: &str,
    results: &str,
    n_errors: usize,
    errors: &str,
) -> Response {
    let completed = rfc3339_ms(now_ms());
    let mut out = format!("{{\"status\":\"COMPLETE\",\"results\":[{results}]");
    if n_errors > 0 {
        out.push_str(&format!(",\"numErrors\":{n_errors},\"errors\":[{errors}]"));
    }
    out.push_str(&format!(
        ",\"startedAt\":\"{started}\",\"completedAt\":\"{completed}\"}}"
    ));
    let status = if n_errors > 0 {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::OK
    };
    json(status, out)
}

/// Now, in epoch milliseconds.
pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_keep_repeated_keys_and_decode() {
        let q = Query::parse(Some("properties=a,b&properties=c&after=%31%32&x=a+b&y=%zz"));
        assert_eq!(q.list("properties"), vec!["a", "b", "c"]);
        assert_eq!(q.get("after"), Some("12"));
        assert_eq!(q.get("x"), Some("a b"));
        assert_eq!(q.get("y"), Some("%zz"));
        assert_eq!(decode("%4"), "%4");
    }
}
