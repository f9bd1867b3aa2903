//! The mock's list endpoints: v2 cursor listings (`cursor`/`limit` ≤ 500,
//! `sort_by=id|update_time`, `updated_since`/`updated_until`, deals' `status` filter
//! including `deleted`) and the unpaged v1 users list (v1 notes are in
//! [`super::notes`]).
//!
//! Everything is read from the shared [`World`] page by page; nothing materializes the
//! whole dataset.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::crm::ObjectKind;

use super::{error_response, is_note, render};
use crate::server::{MockState, parse_form};
use crate::world::World;

/// Pipedrive's largest page.
const MAX_LIMIT: usize = 500;
const DEFAULT_LIMIT: usize = 100;
/// World indices read per step while filling a page.
const CHUNK: usize = 512;
/// How long `status=deleted` still lists a deleted deal.
const DELETED_RETENTION_MS: i64 = 30 * 86_400_000;
/// When pipelines, stages and users were last changed (they never change in the world).
pub(super) const SETUP_MS: i64 = 1_704_067_200_000;

/// One row of a listing: a live world record, or a deleted one (deals only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Item {
    Live { idx: u64, ms: i64 },
    Gone { idx: u64, ms: i64 },
}

impl Item {
    pub(super) fn idx(self) -> u64 {
        match self {
            Item::Live { idx, .. } | Item::Gone { idx, .. } => idx,
        }
    }
    fn ms(self) -> i64 {
        match self {
            Item::Live { ms, .. } | Item::Gone { ms, .. } => ms,
        }
    }
}

/// Where the previous page of a v2 listing ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cursor {
    Id(u64),
    Time(i64, u64),
}

fn encode_cursor(c: Cursor) -> String {
    let plain = match c {
        Cursor::Id(idx) => format!("i:{idx}"),
        Cursor::Time(ms, idx) => format!("t:{ms}:{idx}"),
    };
    URL_SAFE_NO_PAD.encode(plain)
}

fn decode_cursor(s: &str) -> Option<Cursor> {
    let bytes = URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split(':');
    match (parts.next()?, parts.next(), parts.next(), parts.next()) {
        ("i", Some(idx), None, None) => Some(Cursor::Id(idx.parse().ok()?)),
        ("t", Some(ms), Some(idx), None) => Some(Cursor::Time(ms.parse().ok()?, idx.parse().ok()?)),
        _ => None,
    }
}

/// The parameters of a v2 list request.
#[derive(Debug)]
struct V2Query {
    limit: usize,
    cursor: Option<Cursor>,
    by_time: bool,
    since: Option<i64>,
    until: Option<i64>,
    statuses: Option<Vec<String>>,
    pipeline: Option<u64>,
}

pub(super) fn parse_time(value: &str) -> Option<i64> {
    let dt =
        time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()
}

pub(super) fn parse_limit(value: Option<&String>) -> Result<usize, String> {
    match value {
        None => Ok(DEFAULT_LIMIT),
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(format!(
                "Validation failed: limit: must be an integer between 1 and {MAX_LIMIT}"
            )),
        },
    }
}

fn parse_v2(query: &str) -> Result<V2Query, String> {
    let p = parse_form(query.as_bytes());
    let limit = parse_limit(p.get("limit"))?;
    let by_time = match p.get("sort_by").map(String::as_str) {
        None | Some("id") => false,
        Some("update_time") => true,
        Some("add_time" | "due_date" | "order_nr") => {
            return Err("the mock sorts by id or update_time only".into());
        }
        Some(_) => return Err("Validation failed: sort_by: invalid value".into()),
    };
    match p.get("sort_direction").map(String::as_str) {
        None | Some("asc") => {}
        Some("desc") => return Err("the mock sorts ascending only".into()),
        Some(_) => return Err("Validation failed: sort_direction: invalid value".into()),
    }
    let time = |name: &str| -> Result<Option<i64>, String> {
        p.get(name)
            .map(|v| parse_time(v).ok_or(format!("Validation failed: {name}: not RFC 3339")))
            .transpose()
    };
    let since = time("updated_since")?;
    let until = time("updated_until")?;
    if (since.is_some() || until.is_some()) && !by_time {
        return Err("the mock filters on update_time only with sort_by=update_time".into());
    }
    let cursor = match p.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match (decode_cursor(c), by_time) {
            (Some(c @ Cursor::Id(_)), false) | (Some(c @ Cursor::Time(..)), true) => Some(c),
            _ => return Err("Validation failed: cursor: invalid cursor".into()),
        },
    };
    let statuses = match p.get("status") {
        None => None,
        Some(s) => {
            let list: Vec<String> = s.split(',').map(|x| x.trim().to_owned()).collect();
            if list
                .iter()
                .any(|x| !matches!(x.as_str(), "open" | "won" | "lost" | "deleted"))
            {
                return Err("Validation failed: status: invalid value".into());
            }
            Some(list)
        }
    };
    let pipeline = match p.get("pipeline_id") {
        None => None,
        Some(v) => Some(
            v.parse()
                .map_err(|_| "Validation failed: pipeline_id: not an integer".to_owned())?,
        ),
    };
    Ok(V2Query {
        limit,
        cursor,
        by_time,
        since,
        until,
        statuses,
        pipeline,
    })
}

/// Live records of `kind` in index order after `after` that pass `keep`, merged with
/// deleted records (`gone`, sorted by index); at most `want`.
pub(super) fn by_id(
    world: &World,
    kind: ObjectKind,
    after: Option<u64>,
    want: usize,
    keep: &dyn Fn(u64) -> bool,
    gone: &[(u64, i64)],
) -> Vec<Item> {
    let mut out = Vec::with_capacity(want.min(CHUNK * 2));
    let mut g = gone.partition_point(|(i, _)| after.is_some_and(|a| *i <= a));
    let mut next = after;
    while out.len() < want {
        let chunk = world.page(kind, next, CHUNK);
        let exhausted = chunk.len() < CHUNK;
        for idx in chunk {
            while g < gone.len() && gone[g].0 < idx && out.len() < want {
                out.push(Item::Gone {
                    idx: gone[g].0,
                    ms: gone[g].1,
                });
                g += 1;
            }
            if out.len() >= want {
                return out;
            }
            if keep(idx) {
                out.push(Item::Live { idx, ms: 0 });
            }
            next = Some(idx);
        }
        if exhausted {
            break;
        }
    }
    while g < gone.len() && out.len() < want {
        out.push(Item::Gone {
            idx: gone[g].0,
            ms: gone[g].1,
        });
        g += 1;
    }
    out
}

/// Live records modified in `[since, until)` in (time, index) order after `after` that
/// pass `keep`, merged with deletions (`gone`, sorted by time); at most `want`.
#[allow(clippy::too_many_arguments)]
pub(super) fn by_time(
    world: &World,
    kind: ObjectKind,
    since: i64,
    until: Option<i64>,
    after: Option<(i64, u64)>,
    want: usize,
    keep: &dyn Fn(u64) -> bool,
    gone: &[(i64, u64)],
) -> Vec<Item> {
    // World times are all after the epoch; this also keeps the world's arithmetic in range.
    let since = since.max(0);
    let before_end = |ms: i64| until.is_none_or(|u| ms < u);
    let mut out = Vec::with_capacity(want.min(CHUNK * 2));
    let mut g = gone.partition_point(|k| *k < (since, 0) || after.is_some_and(|a| *k <= a));
    let mut next = after;
    'outer: while out.len() < want {
        let chunk = world.changed_since(kind, since, next, CHUNK);
        let exhausted = chunk.len() < CHUNK;
        for (ms, idx) in chunk {
            while g < gone.len() && gone[g] < (ms, idx) && out.len() < want {
                if !before_end(gone[g].0) {
                    break 'outer;
                }
                out.push(Item::Gone {
                    idx: gone[g].1,
                    ms: gone[g].0,
                });
                g += 1;
            }
            if out.len() >= want || !before_end(ms) {
                break 'outer;
            }
            if keep(idx) {
                out.push(Item::Live { idx, ms });
            }
            next = Some((ms, idx));
        }
        if exhausted {
            while g < gone.len() && out.len() < want && before_end(gone[g].0) {
                out.push(Item::Gone {
                    idx: gone[g].1,
                    ms: gone[g].0,
                });
                g += 1;
            }
            break;
        }
    }
    out
}

pub(super) fn json_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `{"success":true,"data":[…],"additional_data":{"next_cursor":…}}`.
fn v2_response(data: &str, next: Option<Cursor>) -> Response {
    let mut body = String::with_capacity(data.len() + 96);
    body.push_str("{\"success\":true,\"data\":[");
    body.push_str(data);
    body.push_str("],\"additional_data\":{\"next_cursor\":");
    match next {
        Some(c) => render::push_str(&mut body, &encode_cursor(c)),
        None => body.push_str("null"),
    }
    body.push_str("}}");
    json_response(body)
}

/// The v2 listings backed by world records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum V2List {
    Organizations,
    Persons,
    Deals,
    Activities,
}

impl V2List {
    fn kind(self) -> ObjectKind {
        match self {
            V2List::Organizations => ObjectKind::Company,
            V2List::Persons => ObjectKind::Contact,
            V2List::Deals => ObjectKind::Deal,
            V2List::Activities => ObjectKind::Activity,
        }
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `GET /api/v2/{organizations,persons,deals,activities}`.
pub(super) fn v2_list(state: &MockState, query: &str, list: V2List) -> Response {
    let q = match parse_v2(query) {
        Ok(q) => q,
        Err(message) => return error_response(400, &message),
    };
    if q.statuses.is_some() && list != V2List::Deals {
        return error_response(400, "Validation failed: status: not a parameter here");
    }
    let world = &state.world;
    let kind = list.kind();
    let seed = world.spec().seed;
    // Deals: which statuses, and whether deleted deals (30 days) are listed.
    let statuses = q.statuses.clone().unwrap_or_else(|| {
        ["open", "won", "lost"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    });
    let wants = |s: &str| statuses.iter().any(|x| x == s);
    let all_live = wants("open") && wants("won") && wants("lost");
    let keep: Box<dyn Fn(u64) -> bool + '_> = match list {
        V2List::Activities => Box::new(move |idx| !is_note(seed, idx)),
        V2List::Deals if !all_live => Box::new(|idx| {
            world
                .deal(idx)
                .is_some_and(|d| wants(super::deal_placement(d.stage).1))
        }),
        _ => Box::new(|_| true),
    };
    let deleted: Vec<(i64, u64)> = if list == V2List::Deals && wants("deleted") {
        world.deleted_since(kind, now_ms() - DELETED_RETENTION_MS)
    } else {
        Vec::new()
    };
    let want = q.limit + 1;
    let mut items = if q.by_time {
        let after = match q.cursor {
            Some(Cursor::Time(ms, idx)) => Some((ms, idx)),
            _ => None,
        };
        let since = q.since.unwrap_or(i64::MIN);
        by_time(world, kind, since, q.until, after, want, &*keep, &deleted)
    } else {
        let after = match q.cursor {
            Some(Cursor::Id(idx)) => Some(idx),
            _ => None,
        };
        let mut gone: Vec<(u64, i64)> = deleted.iter().map(|(ms, idx)| (*idx, *ms)).collect();
        gone.sort_unstable();
        by_id(world, kind, after, want, &*keep, &gone)
    };
    let next = if items.len() > q.limit {
        items.truncate(q.limit);
        items.last().map(|it| {
            if q.by_time {
                Cursor::Time(it.ms(), it.idx())
            } else {
                Cursor::Id(it.idx())
            }
        })
    } else {
        None
    };
    let mut data = String::with_capacity(items.len() * 700);
    for item in items {
        let start = data.len();
        if start > 0 {
            data.push(',');
        }
        let rendered = match (item, list) {
            (Item::Gone { idx, ms }, _) => {
                render::deleted_deal(&mut data, idx, ms);
                true
            }
            (Item::Live { idx, .. }, V2List::Organizations) => world
                .company(idx)
                .map(|c| render::organization(&mut data, &c))
                .is_some(),
            (Item::Live { idx, .. }, V2List::Persons) => world
                .contact(idx)
                .map(|c| render::person(&mut data, &c))
                .is_some(),
            (Item::Live { idx, .. }, V2List::Deals) => world
                .deal(idx)
                .map(|d| render::deal(&mut data, &d))
                .is_some(),
            (Item::Live { idx, .. }, V2List::Activities) => world
                .activity(idx)
                .map(|a| render::activity(&mut data, &a))
                .is_some(),
        };
        if !rendered {
            // Deleted between listing and rendering.
            data.truncate(start);
        }
    }
    v2_response(&data, next)
}

/// `GET /api/v2/deals/archived`: the world never archives a deal, so the listing is
/// always empty (its parameters are still validated).
pub(super) fn archived_deals(query: &str) -> Response {
    match parse_v2(query) {
        Ok(_) => v2_response("", None),
        Err(message) => error_response(400, &message),
    }
}

/// `GET /api/v2/pipelines`.
pub(super) fn pipelines(state: &MockState, query: &str) -> Response {
    let q = match parse_v2(query) {
        Ok(q) => q,
        Err(message) => return error_response(400, &message),
    };
    let count = state.world.count(ObjectKind::Pipeline) as usize;
    let first = match q.cursor {
        Some(Cursor::Id(i)) => i as usize + 1,
        _ => 0,
    };
    let last = count.min(first + q.limit);
    let mut data = String::new();
    for p in first..last {
        if p > first {
            data.push(',');
        }
        render::pipeline(&mut data, p, SETUP_MS);
    }
    let next = (last < count && last > first).then(|| Cursor::Id(last as u64 - 1));
    v2_response(&data, next)
}

/// `GET /api/v2/stages` (optionally `pipeline_id=`).
pub(super) fn stages(state: &MockState, query: &str) -> Response {
    let q = match parse_v2(query) {
        Ok(q) => q,
        Err(message) => return error_response(400, &message),
    };
    let pipelines = state.world.count(ObjectKind::Pipeline) as usize;
    let all: Vec<(usize, usize)> = (0..pipelines)
        .filter(|p| q.pipeline.is_none_or(|id| super::pipeline_id(*p) == id))
        .flat_map(|p| (0..super::OPEN_STAGES).map(move |s| (p, s)))
        .collect();
    let first = match q.cursor {
        Some(Cursor::Id(i)) => i as usize + 1,
        _ => 0,
    };
    let last = all.len().min(first + q.limit);
    let mut data = String::new();
    for (n, (p, s)) in all.iter().enumerate().take(last).skip(first) {
        if n > first {
            data.push(',');
        }
        render::stage(&mut data, *p, *s, SETUP_MS);
    }
    let next = (last < all.len() && last > first).then(|| Cursor::Id(last as u64 - 1));
    v2_response(&data, next)
}

/// `GET /v1/users`: every user, unpaged.
pub(super) fn users(state: &MockState) -> Response {
    let owners = &state.world.spec().owners;
    let mut body = String::with_capacity(128 + owners.len() * 600);
    body.push_str("{\"success\":true,\"data\":[");
    for (i, (name, email)) in owners.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        render::user(&mut body, i as u64, name, email, SETUP_MS);
    }
    body.push_str("]}");
    json_response(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        for c in [
            Cursor::Id(0),
            Cursor::Id(41),
            Cursor::Time(-5, 7),
            Cursor::Time(1_746_094_333_456, 9),
        ] {
            assert_eq!(decode_cursor(&encode_cursor(c)), Some(c));
        }
        assert_eq!(decode_cursor("not a cursor"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("x:1")), None);
    }

    #[test]
    fn v2_queries_are_validated() {
        assert!(parse_v2("limit=501").is_err());
        assert!(parse_v2("limit=0").is_err());
        assert!(parse_v2("sort_by=update_time&sort_direction=desc").is_err());
        assert!(parse_v2("updated_since=2025-01-01T00:00:00Z").is_err());
        assert!(parse_v2("sort_by=update_time&updated_since=yesterday").is_err());
        assert!(parse_v2("status=open,archived").is_err());
        let q = parse_v2("limit=500&sort_by=update_time&updated_since=2025-01-01T00:00:00Z&status=open%2Cdeleted")
            .expect("valid");
        assert_eq!(q.limit, 500);
        assert!(q.by_time);
        assert_eq!(q.since, Some(1_735_689_600_000));
        assert_eq!(q.statuses.map(|s| s.len()), Some(2));
    }
}
