//! `POST /crm/v3/objects/{object}/search`: filter groups (OR of ANDs) on the
//! modification date and `hs_object_id`, one sort rule, `limit` ≤ 200, `after` as an
//! offset that may not reach 10,000, a 3,000-character body, HubSpot's filter-count
//! limits, and the per-second search rate (`SECONDLY` 429s) when rate limiting is on.
//!
//! Candidates come from [`World::changed_since`] from the lowest date bound of any
//! group, in modification order, so a narrow window costs only what it matches.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::handlers::json;
use super::objects::Object;
use super::records::{self, Associations, Ctx};
use super::{Shared, activity_type, error_response, numeric_id, throttled};
use crate::server::MockState;
use crate::world::World;

/// Results beyond this offset are never returned (HubSpot answers 400).
pub const MAX_RESULTS: usize = 10_000;
/// Largest page.
pub const MAX_LIMIT: usize = 200;
/// Longest request body, in characters.
const MAX_BODY: usize = 3_000;

#[derive(Deserialize)]
struct SearchRequest {
    #[serde(default, rename = "filterGroups")]
    filter_groups: Vec<FilterGroup>,
    #[serde(default)]
    sorts: Vec<SortRule>,
    #[serde(default)]
    properties: Vec<String>,
    #[serde(default)]
    limit: Option<serde_json::Value>,
    #[serde(default)]
    after: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct FilterGroup {
    #[serde(default)]
    filters: Vec<FilterRule>,
}

#[derive(Deserialize)]
struct FilterRule {
    #[serde(rename = "propertyName")]
    property: String,
    operator: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
    #[serde(default, rename = "highValue")]
    high_value: Option<serde_json::Value>,
    #[serde(default)]
    values: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SortRule {
    Rule {
        #[serde(rename = "propertyName")]
        property: String,
        #[serde(default)]
        direction: Option<String>,
    },
    Name(String),
}

/// What a filter looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Modified,
    Id,
}

#[derive(Clone, Debug)]
enum Op {
    Eq(i64),
    Neq(i64),
    Gt(i64),
    Gte(i64),
    Lt(i64),
    Lte(i64),
    Between(i64, i64),
    In(Vec<i64>),
    Has,
}

impl Op {
    fn test(&self, v: i64) -> bool {
        match self {
            Op::Eq(x) => v == *x,
            Op::Neq(x) => v != *x,
            Op::Gt(x) => v > *x,
            Op::Gte(x) => v >= *x,
            Op::Lt(x) => v < *x,
            Op::Lte(x) => v <= *x,
            Op::Between(lo, hi) => v >= *lo && v <= *hi,
            Op::In(xs) => xs.contains(&v),
            Op::Has => true,
        }
    }

    /// The lowest and highest values this filter lets through.
    fn bounds(&self) -> (i64, i64) {
        match self {
            Op::Eq(x) => (*x, *x),
            Op::Gt(x) => (x.saturating_add(1), i64::MAX),
            Op::Gte(x) => (*x, i64::MAX),
            Op::Lt(x) => (i64::MIN, x.saturating_sub(1)),
            Op::Lte(x) => (i64::MIN, *x),
            Op::Between(lo, hi) => (*lo, *hi),
            Op::In(xs) => (
                xs.iter().copied().min().unwrap_or(i64::MAX),
                xs.iter().copied().max().unwrap_or(i64::MIN),
            ),
            Op::Neq(_) | Op::Has => (i64::MIN, i64::MAX),
        }
    }
}

/// A number from a filter value: epoch ms or an id, as a string or a number.
fn number(v: Option<&serde_json::Value>) -> Option<i64> {
    match v? {
        serde_json::Value::String(s) => s.trim().parse().ok(),
        serde_json::Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

fn parse_filter(obj: Object, f: &FilterRule) -> Result<(Field, Op), String> {
    let field = if f.property == obj.modified_property() {
        Field::Modified
    } else if f.property == "hs_object_id" {
        Field::Id
    } else {
        return Err(format!(
            "The mock can filter on {} and hs_object_id only, not {}.",
            obj.modified_property(),
            f.property
        ));
    };
    let bad = || format!("Invalid value for {} {}.", f.property, f.operator);
    let v = || number(f.value.as_ref()).ok_or_else(bad);
    let op = match f.operator.as_str() {
        "EQ" => Op::Eq(v()?),
        "NEQ" => Op::Neq(v()?),
        "GT" => Op::Gt(v()?),
        "GTE" => Op::Gte(v()?),
        "LT" => Op::Lt(v()?),
        "LTE" => Op::Lte(v()?),
        "BETWEEN" => Op::Between(v()?, number(f.high_value.as_ref()).ok_or_else(bad)?),
        "IN" => Op::In(
            f.values
                .iter()
                .flatten()
                .map(|x| number(Some(x)).ok_or_else(bad))
                .collect::<Result<_, _>>()?,
        ),
        "HAS_PROPERTY" => Op::Has,
        other => return Err(format!("Unsupported operator {other}.")),
    };
    Ok((field, op))
}

/// One candidate: (reported modification time, world index, numeric id).
type Hit = (i64, u64, i64);

fn matches(groups: &[Vec<(Field, Op)>], hit: Hit) -> bool {
    groups.is_empty()
        || groups.iter().any(|g| {
            g.iter().all(|(field, op)| match field {
                Field::Modified => op.test(hit.0),
                Field::Id => op.test(hit.2),
            })
        })
}

/// Walk live records of `obj` with reported modification time in `lo..=hi`, in
/// modification order, until `visit` returns false.
fn walk(
    world: &World,
    shared: &Shared,
    obj: Object,
    lo: i64,
    hi: i64,
    mut visit: impl FnMut(Hit) -> bool,
) {
    let kind = obj.kind();
    let seed = world.spec().seed;
    let r = shared.config.clock_resolution_ms.max(1);
    // Reported time ≥ lo ⇔ true time ≥ lo rounded up to the resolution.
    let lo = lo.max(0);
    let since = lo.saturating_add(r - 1) / r * r;
    let mut after = None;
    loop {
        let chunk = world.changed_since(kind, since, after, 512);
        let Some(last) = chunk.last().copied() else {
            return;
        };
        after = Some(last);
        for (ms, idx) in chunk {
            let reported = shared.clock(ms);
            if reported > hi {
                return;
            }
            if let Object::Engagement(t) = obj
                && activity_type(seed, idx) != t
            {
                continue;
            }
            if !visit((reported, idx, numeric_id(kind, idx) as i64)) {
                return;
            }
        }
    }
}

fn bad(message: &str) -> Response {
    error_response(400, "VALIDATION_ERROR", message)
}

/// `POST /crm/v3/objects/{object}/search`.
pub(crate) async fn search(
    State(state): State<Arc<MockState>>,
    Extension(shared): Extension<Arc<Shared>>,
    Path(object): Path<String>,
    body: Bytes,
) -> Response {
    let Some(obj) = Object::parse(&object) else {
        return bad(&format!("Unable to infer object type from: {object}"));
    };
    if let Err(wait) = shared.admit_search(&state) {
        return throttled(
            "SECONDLY",
            "You have reached your secondly limit.",
            Some(wait),
        );
    }
    if String::from_utf8_lossy(&body).chars().count() > MAX_BODY {
        return bad("The request body may not exceed 3000 characters.");
    }
    let request: SearchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(_) => return bad("Invalid input JSON on line 1."),
    };
    let limit = match request.limit.as_ref() {
        None => 10,
        Some(v) => match number(Some(v)) {
            Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => n as usize,
            _ => return bad("limit must be between 1 and 200."),
        },
    };
    let after = match request.after.as_ref() {
        None => 0,
        Some(v) => match number(Some(v)) {
            Some(n) if n >= 0 => n as usize,
            _ => return bad("after must be an integer."),
        },
    };
    if after >= MAX_RESULTS {
        return bad("Cannot page beyond the first 10000 results of a search.");
    }
    let total_filters: usize = request.filter_groups.iter().map(|g| g.filters.len()).sum();
    if request.filter_groups.len() > 5
        || request.filter_groups.iter().any(|g| g.filters.len() > 6)
        || total_filters > 18
    {
        return bad("Too many filters: at most 5 filter groups, 6 filters each, 18 in total.");
    }
    let mut groups = Vec::with_capacity(request.filter_groups.len());
    for g in &request.filter_groups {
        match g
            .filters
            .iter()
            .map(|f| parse_filter(obj, f))
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(g) => groups.push(g),
            Err(e) => return bad(&e),
        }
    }
    let sort = match request.sorts.as_slice() {
        [] => None,
        [rule] => {
            let (property, direction) = match rule {
                SortRule::Rule {
                    property,
                    direction,
                } => (
                    property.as_str(),
                    direction.as_deref().unwrap_or("ASCENDING"),
                ),
                SortRule::Name(name) => match name.strip_prefix('-') {
                    Some(p) => (p, "DESCENDING"),
                    None => (name.as_str(), "ASCENDING"),
                },
            };
            let field = if property == obj.modified_property() {
                Field::Modified
            } else if property == "hs_object_id" {
                Field::Id
            } else {
                return bad("The mock sorts on the modification date or hs_object_id only.");
            };
            Some((field, direction == "DESCENDING"))
        }
        _ => return bad("Only one sort rule is allowed."),
    };
    // The date window every match lies in: the union of the groups' bounds.
    let (mut lo, mut hi) = if groups.is_empty() {
        (i64::MIN, i64::MAX)
    } else {
        (i64::MAX, i64::MIN)
    };
    for g in &groups {
        let (mut glo, mut ghi) = (i64::MIN, i64::MAX);
        for (field, op) in g {
            if *field == Field::Modified {
                let (a, b) = op.bounds();
                glo = glo.max(a);
                ghi = ghi.min(b);
            }
        }
        lo = lo.min(glo);
        hi = hi.max(ghi);
    }
    let world = &state.world;
    let natural = matches!(sort, None | Some((Field::Modified, false)));
    let mut hits: Vec<Hit> = Vec::new();
    let mut exhausted = true;
    walk(world, &shared, obj, lo, hi, |hit| {
        if matches(&groups, hit) {
            hits.push(hit);
            if natural && hits.len() > after + limit {
                exhausted = false;
                return false;
            }
        }
        true
    });
    if !natural {
        let key = |h: &Hit| match sort {
            Some((Field::Id, _)) => (h.2, 0),
            _ => (h.0, h.2),
        };
        let descending = matches!(sort, Some((_, true)));
        hits.sort_by(|a, b| {
            let o = key(a).cmp(&key(b));
            if descending { o.reverse() } else { o }
        });
    }
    let end = (after + limit).min(MAX_RESULTS).min(hits.len());
    let page = hits.get(after..end).unwrap_or_default();
    let more = hits.len() > end && end < MAX_RESULTS;
    let ctx = Ctx {
        world,
        shared: &shared,
        obj,
        wanted: obj.wanted(&request.properties),
        associations: Associations::default(),
    };
    // `total` is exact when every match was visited; otherwise what was seen.
    let total = if exhausted {
        hits.len()
    } else {
        hits.len().max(end + 1)
    };
    let mut out = String::with_capacity(900 * page.len() + 64);
    out.push_str(&format!("{{\"total\":{total},\"results\":["));
    let mut written = 0;
    for (_, idx, _) in page {
        let mark = out.len();
        if written > 0 {
            out.push(',');
        }
        if records::record(&mut out, &ctx, *idx, false) {
            written += 1;
        } else {
            out.truncate(mark);
        }
    }
    out.push(']');
    if more {
        out.push_str(&format!(
            ",\"paging\":{{\"next\":{{\"after\":\"{end}\",\"link\":\"?after={end}\"}}}}"
        ));
    }
    out.push('}');
    json(StatusCode::OK, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_bounds_and_tests() {
        assert_eq!(Op::Gt(5).bounds(), (6, i64::MAX));
        assert_eq!(Op::Between(1, 3).bounds(), (1, 3));
        assert!(Op::In(vec![1, 2]).test(2));
        assert!(!Op::Neq(2).test(2));
        let groups = vec![vec![(Field::Modified, Op::Eq(10)), (Field::Id, Op::Gt(5))]];
        assert!(matches(&groups, (10, 0, 6)));
        assert!(!matches(&groups, (10, 0, 5)));
        assert!(!matches(&groups, (11, 0, 6)));
    }

    #[test]
    fn sort_rules_take_objects_or_names() {
        let r: SearchRequest = serde_json::from_str(
            r#"{"sorts":[{"propertyName":"hs_lastmodifieddate","direction":"ASCENDING"}],"limit":200,"after":"0"}"#,
        )
        .expect("parses");
        assert!(
            matches!(&r.sorts[0], SortRule::Rule { property, .. } if property == "hs_lastmodifieddate")
        );
        let r: SearchRequest =
            serde_json::from_str(r#"{"sorts":["-createdate"]}"#).expect("parses");
        assert!(matches!(&r.sorts[0], SortRule::Name(n) if n == "-createdate"));
    }
}
