//! Owners (`GET /crm/v3/owners`, 500 a page; the world has no deactivated owners)
//! and deal pipelines (`GET /crm/v3/pipelines/deals`, every pipeline with its stages,
//! probability and closed flag as strings).

use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::crm::ObjectKind;

use super::handlers::{Query, bad_request, finish_page, json, limit};
use super::json::esc;
use super::{Shared, index_of, numeric_id, pipeline_id, stage_id};
use crate::server::{MockState, rfc3339_ms};
use crate::world::{STAGES, World};

/// Owner `idx` as `GET /crm/v3/owners` lists it.
fn owner(out: &mut String, world: &World, shared: &Shared, idx: u64) -> bool {
    let Some((name, email)) = world.owner(idx) else {
        return false;
    };
    let (first, last) = name.split_once(' ').unwrap_or((name.as_str(), ""));
    let meta = world.meta(ObjectKind::Owner, idx);
    out.push_str("{\"id\":");
    esc(out, &numeric_id(ObjectKind::Owner, idx).to_string());
    out.push_str(",\"email\":");
    esc(out, &email);
    out.push_str(",\"type\":\"PERSON\",\"firstName\":");
    esc(out, first);
    out.push_str(",\"lastName\":");
    esc(out, last);
    let user = 9_000_000 + idx;
    out.push_str(&format!(
        ",\"userId\":{user},\"userIdIncludingInactive\":{user},\"createdAt\":"
    ));
    esc(out, &rfc3339_ms(shared.clock(meta.created_ms)));
    out.push_str(",\"updatedAt\":");
    esc(out, &rfc3339_ms(shared.clock(meta.updated_ms)));
    out.push_str(",\"archived\":false}");
    true
}

/// Deal pipeline `idx` with its stages (probability and closed flag as strings).
fn pipeline(out: &mut String, world: &World, shared: &Shared, idx: usize) {
    let meta = world.meta(ObjectKind::Pipeline, idx as u64);
    let created = rfc3339_ms(shared.clock(meta.created_ms));
    let updated = rfc3339_ms(shared.clock(meta.updated_ms));
    out.push_str("{\"label\":");
    esc(
        out,
        crate::world::PIPELINES
            .get(idx)
            .copied()
            .unwrap_or("Pipeline"),
    );
    out.push_str(&format!(",\"displayOrder\":{idx},\"id\":"));
    esc(out, &pipeline_id(idx));
    out.push_str(",\"stages\":[");
    for (s, (label, probability, closed, _)) in STAGES.iter().enumerate() {
        if s > 0 {
            out.push(',');
        }
        out.push_str("{\"label\":");
        esc(out, label);
        out.push_str(&format!(
            ",\"displayOrder\":{s},\"metadata\":{{\"isClosed\":\"{closed}\",\"probability\":\"{:.1}\"}},\"id\":",
            f64::from(*probability) / 100.0
        ));
        esc(out, &stage_id(idx, s));
        out.push_str(",\"createdAt\":");
        esc(out, &created);
        out.push_str(",\"updatedAt\":");
        esc(out, &updated);
        out.push_str(",\"archived\":false}");
    }
    out.push_str("],\"createdAt\":");
    esc(out, &created);
    out.push_str(",\"updatedAt\":");
    esc(out, &updated);
    out.push_str(",\"archived\":false}");
}

/// `GET /crm/v3/owners`: active owners (`archived=true`: deactivated ones; the world
/// has none), up to 500 a page.
pub(crate) async fn owners(
    State(state): State<Arc<MockState>>,
    Extension(shared): Extension<Arc<Shared>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let limit = match limit(&q, 500) {
        Ok(l) => l,
        Err(m) => return bad_request(&m),
    };
    let start = match q.get("after") {
        None | Some("") => 0,
        Some(a) => match index_of(ObjectKind::Owner, a) {
            Some(i) => i,
            None => return bad_request("Invalid paging cursor (after)."),
        },
    };
    let world = &state.world;
    let mut out = String::from("{\"results\":[");
    let mut next = None;
    if q.get("archived") != Some("true") {
        let count = world.count(ObjectKind::Owner);
        let email = q.get("email");
        let mut written = 0;
        for idx in start..count {
            if email.is_some_and(|e| {
                world
                    .owner(idx)
                    .is_none_or(|(_, m)| !m.eq_ignore_ascii_case(e))
            }) {
                continue;
            }
            if written == limit {
                next = Some(numeric_id(ObjectKind::Owner, idx).to_string());
                break;
            }
            if written > 0 {
                out.push(',');
            }
            if owner(&mut out, world, &shared, idx) {
                written += 1;
            }
        }
    }
    let link = format!("{}/crm/v3/owners", state.base_url());
    finish_page(&mut out, next, &link);
    json(StatusCode::OK, out)
}

/// `GET /crm/v3/pipelines/deals`: every deal pipeline with its stages.
pub(crate) async fn pipelines(
    State(state): State<Arc<MockState>>,
    Extension(shared): Extension<Arc<Shared>>,
    Path(object): Path<String>,
) -> Response {
    let mut out = String::from("{\"results\":[");
    match object.as_str() {
        "deals" | "0-3" => {
            for idx in 0..state.world.count(ObjectKind::Pipeline) as usize {
                if idx > 0 {
                    out.push(',');
                }
                pipeline(&mut out, &state.world, &shared, idx);
            }
        }
        "tickets" | "0-5" => {}
        _ => return bad_request(&format!("Unable to infer object type from: {object}")),
    }
    out.push_str("]}");
    json(StatusCode::OK, out)
}
