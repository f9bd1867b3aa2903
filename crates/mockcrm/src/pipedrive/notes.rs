//! `GET /v1/notes`: notes (world activities of kind Note) with v1 offset paging
//! (`start`/`limit`, `more_items_in_collection`, `next_start`; `data: null` when empty),
//! sorted by id or by `update_time` then id, optionally `updated_since`.
//!
//! Offsets are real offsets: when earlier notes are deleted, later ones slide down, as
//! in Pipedrive. A deep `start` in id order goes through a prefix-count index
//! ([`NotesIndex`]) and costs a binary search, not a scan of the world.

use std::sync::Mutex;

use axum::response::Response;
use domain::crm::ObjectKind;

use super::lists::{Item, by_id, by_time, json_response, parse_limit, parse_time};
use super::{error_response, is_note, render};
use crate::server::{MockState, parse_form};
use crate::world::World;

/// Prefix counts of note indices in blocks of [`NotesIndex::BLOCK`] world activities,
/// so the `start`-th note is found by binary search.
#[derive(Debug, Default)]
pub(super) struct NotesIndex {
    seed: u64,
    /// `blocks[k]` = notes among activity indices `0 .. k * BLOCK`.
    blocks: Vec<u64>,
}

impl NotesIndex {
    const BLOCK: u64 = 4096;

    fn ensure(&mut self, seed: u64, count: u64) {
        if self.blocks.is_empty() || self.seed != seed {
            self.seed = seed;
            self.blocks = vec![0];
        }
        while (self.blocks.len() as u64 - 1) < count / Self::BLOCK {
            let k = self.blocks.len() as u64 - 1;
            let n = (k * Self::BLOCK..(k + 1) * Self::BLOCK)
                .filter(|i| is_note(seed, *i))
                .count() as u64;
            let last = self.blocks.last().copied().unwrap_or(0);
            self.blocks.push(last + n);
        }
    }

    /// Notes (live or not) among activity indices `0 .. i`.
    fn before(&self, i: u64) -> u64 {
        let k = (i / Self::BLOCK).min(self.blocks.len() as u64 - 1);
        let base = self.blocks.get(k as usize).copied().unwrap_or(0);
        base + (k * Self::BLOCK..i)
            .filter(|j| is_note(self.seed, *j))
            .count() as u64
    }

    /// The index of the `offset`-th live note (0-based), if there is one.
    fn nth_live(&self, offset: u64, count: u64, deleted: &[u64]) -> Option<u64> {
        let live_before = |i: u64| self.before(i) - deleted.partition_point(|d| *d < i) as u64;
        if live_before(count) <= offset {
            return None;
        }
        // Smallest j in 1..=count with live_before(j) > offset; the note is j - 1.
        let (mut lo, mut hi) = (1, count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if live_before(mid) > offset {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo - 1)
    }
}

/// `GET /v1/notes`: notes (world activities of kind Note), offset-paged, sorted by id
/// or by `update_time` (then id), optionally `updated_since`.
pub(super) fn notes(state: &MockState, query: &str, index: &Mutex<NotesIndex>) -> Response {
    let p = parse_form(query.as_bytes());
    let limit = match parse_limit(p.get("limit")) {
        Ok(l) => l,
        Err(message) => return error_response(400, &message),
    };
    let start = match p.get("start").map(|s| s.trim().parse::<usize>()) {
        None => 0,
        Some(Ok(s)) => s,
        Some(Err(_)) => return error_response(400, "Validation failed: start: not an integer"),
    };
    let sort: String = p
        .get("sort")
        .map(|s| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|| "id asc".into());
    let by_time = match sort.as_str() {
        "id" | "id asc" => false,
        "update_time"
        | "update_time asc"
        | "update_time asc, id asc"
        | "update_time asc,id asc" => true,
        _ => {
            return error_response(
                400,
                "the mock sorts notes by id or update_time ascending only",
            );
        }
    };
    let since = match p.get("updated_since") {
        None => None,
        Some(v) => match parse_time(v) {
            Some(ms) => Some(ms),
            None => return error_response(400, "Validation failed: updated_since: not RFC 3339"),
        },
    };
    if since.is_some() && !by_time {
        return error_response(
            400,
            "the mock filters notes by updated_since only sorted by update_time",
        );
    }
    let world = &state.world;
    let seed = world.spec().seed;
    let keep = |idx: u64| is_note(seed, idx);
    let mut items = if by_time {
        let mut all = by_time_notes(world, since.unwrap_or(i64::MIN), start + limit + 1, &keep);
        all.drain(..start.min(all.len()));
        all
    } else {
        let count = world.count(ObjectKind::Activity);
        let mut deleted: Vec<u64> = world
            .deleted(ObjectKind::Activity)
            .into_iter()
            .map(|(_, idx)| idx)
            .filter(|idx| is_note(seed, *idx))
            .collect();
        deleted.sort_unstable();
        let first = {
            let mut ix = match index.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            ix.ensure(seed, count);
            ix.nth_live(start as u64, count, &deleted)
        };
        match first {
            Some(first) => by_id(
                world,
                ObjectKind::Activity,
                first.checked_sub(1),
                limit + 1,
                &keep,
                &[],
            ),
            None => Vec::new(),
        }
    };
    let more = items.len() > limit;
    items.truncate(limit);
    let mut data = String::with_capacity(items.len() * 600);
    for item in &items {
        if let Some(a) = world.activity(item.idx()) {
            if !data.is_empty() {
                data.push(',');
            }
            render::note(&mut data, &a);
        }
    }
    let mut body = String::with_capacity(data.len() + 200);
    body.push_str("{\"success\":true,\"data\":");
    if data.is_empty() {
        body.push_str("null");
    } else {
        body.push('[');
        body.push_str(&data);
        body.push(']');
    }
    body.push_str(&format!(
        ",\"additional_data\":{{\"pagination\":{{\"start\":{start},\"limit\":{limit},\"more_items_in_collection\":{more}"
    ));
    if more {
        body.push_str(&format!(",\"next_start\":{}", start + items.len()));
    }
    body.push_str("}}}");
    json_response(body)
}

fn by_time_notes(world: &World, since: i64, want: usize, keep: &dyn Fn(u64) -> bool) -> Vec<Item> {
    by_time(
        world,
        ObjectKind::Activity,
        since,
        None,
        None,
        want,
        keep,
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::WorldSpec;

    #[test]
    fn the_notes_index_finds_the_nth_live_note() {
        let world = World::new(WorldSpec::sized(0, 0, 0, 10_000));
        let seed = world.spec().seed;
        let notes: Vec<u64> = (0..10_000).filter(|i| is_note(seed, *i)).collect();
        let mut ix = NotesIndex::default();
        ix.ensure(seed, 10_000);
        for n in [0usize, 1, 17, notes.len() / 2, notes.len() - 1] {
            assert_eq!(ix.nth_live(n as u64, 10_000, &[]), Some(notes[n]));
        }
        assert_eq!(ix.nth_live(notes.len() as u64, 10_000, &[]), None);
        // With the first three notes deleted, offset 0 is the fourth note.
        assert_eq!(ix.nth_live(0, 10_000, &notes[..3]), Some(notes[3]));
    }
}
