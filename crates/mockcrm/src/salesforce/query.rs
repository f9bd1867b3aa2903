//! The `query` and `queryAll` resources and their `nextRecordsUrl` chains. A query
//! opens a server-side cursor (a query locator `0r8…`); each page's URL is
//! `/services/data/vXX.X/query/{locator}-{offset}`. The mock keeps, per cursor, where
//! each offset starts (a key in the result order), so a page can be fetched again
//! (replays are harmless) and nothing of the world is materialized. Unknown or expired
//! locators get `INVALID_QUERY_LOCATOR`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::crm::ObjectKind;

use super::render::{self, Json};
use super::soql::{self, Object, Order, Soql};
use super::{base62, sf_error, sf_id};
use crate::server::{MockState, parse_form};
use crate::world::{STAGES, World};

/// Cursors expire after this long unused (as Salesforce's do after inactivity).
const CURSOR_IDLE: Duration = Duration::from_secs(15 * 60);

/// A position in a result: the start, or just after a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
    Start,
    /// After record `idx` (ORDER BY Id).
    Idx(u64),
    /// After (SystemModstamp ms, idx) (ORDER BY SystemModstamp, Id).
    Time(i64, u64),
}

struct Cursor {
    soql: Soql,
    all: bool,
    total: u64,
    batch: usize,
    /// offset → where the page at that offset starts.
    positions: HashMap<u64, Key>,
    touched: Instant,
}

/// The open query cursors of one mock.
#[derive(Default)]
pub struct Cursors {
    open: Mutex<HashMap<String, Cursor>>,
    next: AtomicU64,
}

impl Cursors {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Cursor>> {
        match self.open.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}

fn kind_of(object: Object) -> Option<ObjectKind> {
    match object {
        Object::User => Some(ObjectKind::Owner),
        Object::Account => Some(ObjectKind::Company),
        Object::Contact => Some(ObjectKind::Contact),
        Object::Opportunity => Some(ObjectKind::Deal),
        Object::Task | Object::Event => Some(ObjectKind::Activity),
        Object::OpportunityStage | Object::OpportunityContactRole | Object::OpportunityHistory => {
            None
        }
    }
}

fn prefix(object: Object) -> &'static str {
    match object {
        Object::User => "005",
        Object::OpportunityStage => "01J",
        Object::Account => "001",
        Object::Contact => "003",
        Object::Opportunity => "006",
        Object::Task => "00T",
        Object::Event => "00U",
        Object::OpportunityContactRole => "00K",
        Object::OpportunityHistory => "008",
    }
}

/// Is world record `idx` of this object (activities split into Tasks and Events)?
fn in_class(object: Object, idx: u64) -> bool {
    match object {
        Object::Task => !render::is_event(idx),
        Object::Event => render::is_event(idx),
        _ => true,
    }
}

fn index_count(world: &World, object: Object) -> u64 {
    match object {
        Object::OpportunityStage => STAGES.len() as u64,
        o => kind_of(o).map_or(0, |k| world.count(k)),
    }
}

/// The first index after `Id > 'id'`.
fn first_after(object: Object, id: &str) -> u64 {
    let p = prefix(object);
    if id.len() >= 15 && id.starts_with(p) {
        return base62::decode(&id[6..15]).map_or(u64::MAX, |i| i.saturating_add(1));
    }
    if id < p { 0 } else { u64::MAX }
}

/// Rows that pass the filters, counted without rendering.
fn total(world: &World, q: &Soql, all: bool) -> u64 {
    let with_deleted = all && !q.live_only;
    let Some(kind) = kind_of(q.object) else {
        return index_count(world, q.object);
    };
    match q.order {
        Order::Id => {
            let start = q
                .after_id
                .as_deref()
                .map_or(0, |id| first_after(q.object, id));
            let end = world.count(kind);
            let in_range = (start..end).filter(|i| in_class(q.object, *i)).count() as u64;
            if with_deleted {
                in_range
            } else {
                let gone = world
                    .deleted(kind)
                    .iter()
                    .filter(|(_, i)| *i >= start && in_class(q.object, *i))
                    .count() as u64;
                in_range - gone
            }
        }
        Order::Modstamp => {
            let since = q.since_ms.unwrap_or(0);
            let mut n = 0;
            let mut after = None;
            loop {
                let chunk = world.changed_since(kind, since, after, 10_000);
                n += chunk.iter().filter(|(_, i)| in_class(q.object, *i)).count() as u64;
                match chunk.last() {
                    Some(last) if chunk.len() == 10_000 => after = Some(*last),
                    _ => break,
                }
            }
            if with_deleted {
                n += world
                    .deleted_since(kind, since)
                    .iter()
                    .filter(|(_, i)| in_class(q.object, *i))
                    .count() as u64;
            }
            n
        }
    }
}

/// Render up to `batch` rows after `from`: (rows, last key, no more rows).
fn page(
    world: &World,
    q: &Soql,
    all: bool,
    from: Key,
    batch: usize,
    out: &mut Vec<u8>,
) -> (usize, Key, bool) {
    let with_deleted = all && !q.live_only;
    let mut j = Json(out);
    let mut n = 0;
    let mut last = from;
    let kind = kind_of(q.object);
    let gone: HashMap<u64, i64> = match (with_deleted, kind) {
        (true, Some(k)) => world
            .deleted(k)
            .into_iter()
            .map(|(ms, i)| (i, ms))
            .collect(),
        _ => HashMap::new(),
    };
    match q.order {
        Order::Id => {
            let count = index_count(world, q.object);
            let mut i = match from {
                Key::Idx(i) => i + 1,
                _ => q
                    .after_id
                    .as_deref()
                    .map_or(0, |id| first_after(q.object, id)),
            };
            while i < count {
                if !in_class(q.object, i) {
                    i += 1;
                    continue;
                }
                if n == batch {
                    // Is there anything left to serve?
                    let more = (i..count).any(|k| {
                        in_class(q.object, k)
                            && (with_deleted || kind.is_none_or(|kd| world.is_live(kd, k)))
                    });
                    return (n, last, !more);
                }
                let mark = j.0.len();
                if n > 0 {
                    j.raw(",");
                }
                if render::live(&mut j, world, q.object, &q.fields, i) {
                    n += 1;
                    last = Key::Idx(i);
                } else if let Some(ms) = gone.get(&i) {
                    render::deleted(
                        &mut j,
                        q.object,
                        &q.fields,
                        &sf_id(prefix(q.object), i),
                        *ms,
                    );
                    n += 1;
                    last = Key::Idx(i);
                } else {
                    j.0.truncate(mark);
                }
                i += 1;
            }
            (n, last, true)
        }
        Order::Modstamp => {
            let Some(kind) = kind else {
                return (0, last, true);
            };
            let since = q.since_ms.unwrap_or(0);
            let after = match from {
                Key::Time(ms, i) => Some((ms, i)),
                _ => None,
            };
            // Live changes, filtered to this object, until a page's worth (+1) is known.
            let mut live = Vec::new();
            let mut cursor = after;
            let mut live_done = false;
            while live.len() <= batch {
                let chunk = world.changed_since(kind, since, cursor, batch + 1);
                live.extend(chunk.iter().filter(|(_, i)| in_class(q.object, *i)));
                match chunk.last() {
                    Some(l) if chunk.len() == batch + 1 => cursor = Some(*l),
                    _ => {
                        live_done = true;
                        break;
                    }
                }
            }
            let mut dead: Vec<(i64, u64)> = if with_deleted {
                world
                    .deleted_since(kind, since)
                    .into_iter()
                    .filter(|(ms, i)| in_class(q.object, *i) && after.is_none_or(|a| (*ms, *i) > a))
                    .collect()
            } else {
                Vec::new()
            };
            dead.sort_unstable();
            let (mut a, mut b) = (0, 0);
            while n < batch && (a < live.len() || b < dead.len()) {
                let take_live = b >= dead.len() || (a < live.len() && live[a] < dead[b]);
                let mark = j.0.len();
                if n > 0 {
                    j.raw(",");
                }
                if take_live {
                    let (ms, i) = live[a];
                    a += 1;
                    if render::live(&mut j, world, q.object, &q.fields, i) {
                        n += 1;
                        last = Key::Time(ms, i);
                    } else {
                        j.0.truncate(mark);
                    }
                } else {
                    let (ms, i) = dead[b];
                    b += 1;
                    render::deleted(&mut j, q.object, &q.fields, &sf_id(prefix(q.object), i), ms);
                    n += 1;
                    last = Key::Time(ms, i);
                }
            }
            let exhausted = live_done && a >= live.len() && b >= dead.len();
            (n, last, exhausted)
        }
    }
}

fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split([',', ';'])
                .find_map(|p| p.trim().strip_prefix("batchSize="))
                .and_then(|n| n.trim().parse::<usize>().ok())
        })
        .map_or(2000, |n| n.clamp(200, 2000))
}

fn respond(total: u64, next: Option<String>, records: &[u8]) -> Response {
    let mut body = Vec::with_capacity(records.len() + 160);
    body.extend_from_slice(
        format!("{{\"totalSize\":{total},\"done\":{}", next.is_none()).as_bytes(),
    );
    if let Some(url) = next {
        body.extend_from_slice(b",\"nextRecordsUrl\":");
        let _ = serde_json::to_writer(&mut body, &url);
    }
    body.extend_from_slice(b",\"records\":[");
    body.extend_from_slice(records);
    body.extend_from_slice(b"]}");
    (
        StatusCode::OK,
        [("content-type", "application/json;charset=UTF-8")],
        body,
    )
        .into_response()
}

fn valid_version(version: &str) -> bool {
    version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(a, b)| !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b == "0")
}

fn not_found() -> Response {
    sf_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

/// `GET /services/data/{version}/query?q=…` (`all` for `queryAll`).
pub async fn start(
    state: Arc<MockState>,
    cursors: Arc<Cursors>,
    version: String,
    raw: Option<String>,
    headers: HeaderMap,
    all: bool,
    org: super::Org,
) -> Response {
    if !valid_version(&version) {
        return not_found();
    }
    let form = parse_form(raw.unwrap_or_default().as_bytes());
    let Some(q) = form.get("q") else {
        return sf_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
    };
    let soql = match soql::parse(q, org.multi_currency) {
        Ok(s) => s,
        Err((code, message)) => return sf_error(StatusCode::BAD_REQUEST, code, &message),
    };
    let batch = batch_size(&headers);
    let world = &state.world;
    let total = total(world, &soql, all);
    let mut records = Vec::with_capacity(batch * 512);
    let (n, last, exhausted) = page(world, &soql, all, Key::Start, batch, &mut records);
    let next = (!exhausted).then(|| {
        let id = format!(
            "0r8{}",
            base62::encode(cursors.next.fetch_add(1, Ordering::Relaxed) + 1, 15)
        );
        let url = format!("/services/data/{version}/query/{id}-{n}");
        let mut open = cursors.lock();
        open.retain(|_, c| c.touched.elapsed() < CURSOR_IDLE);
        open.insert(
            id,
            Cursor {
                soql,
                all,
                total,
                batch,
                positions: HashMap::from([(n as u64, last)]),
                touched: Instant::now(),
            },
        );
        url
    });
    respond(total, next, &records)
}

/// `GET /services/data/{version}/query/{locator}-{offset}`.
pub async fn more(
    state: Arc<MockState>,
    cursors: Arc<Cursors>,
    version: String,
    locator: String,
) -> Response {
    if !valid_version(&version) {
        return not_found();
    }
    let invalid = || {
        sf_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let Some((id, offset)) = locator.rsplit_once('-') else {
        return invalid();
    };
    let Ok(offset) = offset.parse::<u64>() else {
        return invalid();
    };
    let (soql, all, total, batch, from) = {
        let mut open = cursors.lock();
        let Some(c) = open
            .get_mut(id)
            .filter(|c| c.touched.elapsed() < CURSOR_IDLE)
        else {
            return invalid();
        };
        let Some(from) = c.positions.get(&offset).copied() else {
            return invalid();
        };
        c.touched = Instant::now();
        (c.soql.clone(), c.all, c.total, c.batch, from)
    };
    let mut records = Vec::with_capacity(batch * 512);
    let (n, last, exhausted) = page(&state.world, &soql, all, from, batch, &mut records);
    let next = (!exhausted).then(|| {
        let end = offset + n as u64;
        if let Some(c) = cursors.lock().get_mut(id) {
            c.positions.insert(end, last);
        }
        format!("/services/data/{version}/query/{id}-{end}")
    });
    respond(total, next, &records)
}
