//! A deal's stage history as Pipedrive shows it: `stage_change_time` on the v2 deal and
//! `GET /api/v1/deals/{id}/flow` (v1 offset paging with `start`/`limit`, newest first,
//! `items` filtering by entry kind).
//!
//! The world's stages map onto Pipedrive's through [`deal_placement`]: a world move into
//! "Closed won" or "Closed lost" is a change of `status`, not of stage, unless the
//! placement moves too. So the flow holds a `dealChange` of `stage_id` for each move
//! between Pipedrive stages and one of `status` for each change of status, and
//! `stage_change_time` is the time of the last stage move (null if none).
//!
//! Deviations: the flow holds only these `dealChange` entries (no activities, notes,
//! other fields or `related_objects`), and asking for other `items` gives an empty page.

use std::fmt::Write;

use axum::response::Response;

use super::lists::{json_response, parse_limit};
use super::render::{push_str, push_v1_time};
use super::{deal_placement, error_response, stage_id};
use crate::server::{MockState, parse_form};
use crate::world::{DealSeed, STAGES};

/// The Pipedrive stages deal `d` went through, oldest first: (stage id, epoch ms it
/// entered it), moves within one Pipedrive stage left out.
pub fn stage_history(d: &DealSeed) -> Vec<(u64, i64)> {
    let mut out: Vec<(u64, i64)> = Vec::with_capacity(d.stage_history.len());
    for (stage, ms) in &d.stage_history {
        let id = stage_id(d.pipeline, deal_placement(*stage).0);
        if out.last().is_none_or(|(last, _)| *last != id) {
            out.push((id, *ms));
        }
    }
    out
}

/// The deal's `stage_change_time` (epoch ms): when it last changed stage, if it did.
pub fn stage_change_ms(d: &DealSeed) -> Option<i64> {
    let history = stage_history(d);
    (history.len() > 1).then(|| history[history.len() - 1].1)
}

/// One `dealChange`: (field, old value JSON, new value JSON, formatted old and new, ms).
struct FieldChange {
    field: &'static str,
    old: String,
    new: String,
    formatted: Option<(&'static str, &'static str)>,
    ms: i64,
}

/// The deal's changes of stage and status, oldest first.
fn changes(d: &DealSeed) -> Vec<FieldChange> {
    let mut out = Vec::new();
    for pair in d.stage_history.windows(2) {
        let ((before, _), (after, ms)) = (pair[0], pair[1]);
        let (from, from_status) = deal_placement(before);
        let (to, to_status) = deal_placement(after);
        if from != to {
            out.push(FieldChange {
                field: "stage_id",
                old: stage_id(d.pipeline, from).to_string(),
                new: stage_id(d.pipeline, to).to_string(),
                formatted: Some((STAGES[from].0, STAGES[to].0)),
                ms,
            });
        }
        if from_status != to_status {
            out.push(FieldChange {
                field: "status",
                old: format!("\"{from_status}\""),
                new: format!("\"{to_status}\""),
                formatted: None,
                ms,
            });
        }
    }
    out
}

fn entry(out: &mut String, d: &DealSeed, n: usize, c: &FieldChange) {
    let deal = d.meta.idx + 1;
    out.push_str("{\"object\":\"dealChange\",\"timestamp\":");
    push_v1_time(out, c.ms);
    let _ = write!(
        out,
        ",\"data\":{{\"id\":{},\"item_id\":{deal},\"user_id\":{},\"field_key\":\"{}\",\"old_value\":{},\"new_value\":{},\"is_bulk_update_flag\":null,\"log_time\":",
        deal * 64 + n as u64,
        d.owner + 1,
        c.field,
        c.old,
        c.new
    );
    push_v1_time(out, c.ms);
    out.push_str(",\"change_source\":\"app\",\"change_source_user_agent\":null");
    match c.formatted {
        Some((old, new)) => {
            out.push_str(",\"additional_data\":{\"old_value_formatted\":");
            push_str(out, old);
            out.push_str(",\"new_value_formatted\":");
            push_str(out, new);
            out.push_str("}}}");
        }
        None => out.push_str(",\"additional_data\":{}}}"),
    }
}

/// `GET /api/v1/deals/{id}/flow`.
pub(super) fn deal_flow(state: &MockState, id: &str, query: &str) -> Response {
    let p = parse_form(query.as_bytes());
    let limit = match parse_limit(p.get("limit")) {
        Ok(l) => l,
        Err(message) => return error_response(400, &message),
    };
    let start: usize = match p.get("start").map(|s| s.trim().parse()) {
        None => 0,
        Some(Ok(s)) => s,
        Some(Err(_)) => return error_response(400, "Validation failed: start: not an integer"),
    };
    let deal = id
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|id| id.checked_sub(1))
        .and_then(|idx| state.world.deal(idx));
    let Some(d) = deal else {
        return error_response(404, "Deal not found");
    };
    let wanted = p
        .get("items")
        .is_none_or(|items| items.split(',').any(|i| i.trim() == "dealChange"));
    let mut all = if wanted { changes(&d) } else { Vec::new() };
    all.reverse();
    let end = all.len().min(start.saturating_add(limit));
    let mut body = String::with_capacity(160 + 480 * (end.saturating_sub(start)));
    body.push_str("{\"success\":true,\"data\":[");
    for (n, c) in all.iter().enumerate().take(end).skip(start) {
        if n > start {
            body.push(',');
        }
        entry(&mut body, &d, all.len() - n, c);
    }
    let more = end < all.len();
    let _ = write!(
        body,
        "],\"additional_data\":{{\"pagination\":{{\"start\":{start},\"limit\":{limit},\"more_items_in_collection\":{more}"
    );
    if more {
        let _ = write!(body, ",\"next_start\":{end}");
    }
    body.push_str("}}}");
    json_response(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::World;
    use crate::world::WorldSpec;

    #[test]
    fn histories_follow_placements_and_flows_their_moves() {
        let world = World::new(WorldSpec::sized(0, 0, 400, 0));
        for idx in 0..400 {
            for _ in 0..(idx % 4) {
                world.modify(domain::crm::ObjectKind::Deal, idx);
            }
        }
        let (mut moved, mut won) = (0, 0);
        for idx in 0..400 {
            let Some(d) = world.deal(idx) else {
                continue;
            };
            let history = stage_history(&d);
            let (pos, _) = deal_placement(d.stage);
            assert_eq!(history.last().map(|h| h.0), Some(stage_id(d.pipeline, pos)));
            assert_eq!(history[0].1, d.meta.created_ms);
            let changes = changes(&d);
            let stage_moves = changes.iter().filter(|c| c.field == "stage_id").count();
            assert_eq!(stage_moves, history.len() - 1, "deal {idx}");
            assert_eq!(stage_change_ms(&d).is_some(), stage_moves > 0);
            moved += usize::from(stage_moves > 0);
            won += usize::from(changes.iter().any(|c| c.new == "\"won\""));
        }
        assert!(moved > 0 && won > 0, "{moved} moved, {won} won");
    }
}
