//! Deal stage history from Pipedrive's deal flow.
//!
//! A v2 deal says when it last changed stage (`stage_change_time`, null if it never
//! did) but not where it came from. A deal that never moved has been in its stage since
//! it was added: its history is `[(stage_id, add_time)]`, mapped with the deal and free.
//! A deal that moved gets `[(stage_id, stage_change_time)]` from the mapping and, after
//! its page, the full history from `GET /api/v1/deals/{id}/flow?items=dealChange`
//! ([`fill`]): one v1 request ([`FLOW_COST`] budget tokens) per moved deal and per
//! [`FLOW_LIMIT`] changes, newest first. Its `dealChange` entries whose `field_key` is
//! `stage_id` fold into the history: the first change's `old_value` from `add_time`,
//! then each `new_value` from its `log_time` (`YYYY-MM-DD HH:MM:SS`, UTC). Status changes
//! (won, lost, reopened) are not stage changes and are left out, as Pipedrive's own
//! `stage_change_time` leaves them out.
//!
//! An incremental pass reads the flow only of deals whose `stage_change_time` is at or
//! after its lower bound less [`STAGE_MARGIN_MS`]: a deal modified otherwise (its
//! amount, say) has not changed stage since the last sync read its history, so it is
//! sent with [`Deal::stage_history_kept`](domain::crm::Deal::stage_history_kept) and
//! the mirror keeps that history. A full pass reads every moved deal's flow.

use domain::crm::{RecordData, StageChange};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::convert::parse_time_ms;
use super::dialect::FLOW_COST;
use super::lenient::{Id, Text};
use super::wire::V1Page;
use super::{check_success, parse};
use crate::{Change, ConnectorError, Http};

/// Flow entries per request.
pub const FLOW_LIMIT: u64 = 100;
/// Pages of one deal's flow read at most (longer flows keep their newest changes).
const FLOW_PAGES: usize = 50;
/// How long before an incremental pass's lower bound a deal's `stage_change_time` may
/// lie and its flow still be read: room for skew between the clock that stamps
/// `stage_change_time` and the one the lower bound comes from.
pub const STAGE_MARGIN_MS: i64 = 3_600_000;

/// One flow entry: `{"object":"dealChange","timestamp":…,"data":{…}}`.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(borrow, default)]
    object: Text<'a>,
    #[serde(borrow, default)]
    timestamp: Text<'a>,
    #[serde(borrow, default)]
    data: Option<FieldChange<'a>>,
}

/// `data` of a `dealChange` entry (stage ids as numbers or numeric strings).
#[derive(Deserialize)]
struct FieldChange<'a> {
    #[serde(borrow, default)]
    field_key: Text<'a>,
    #[serde(default)]
    old_value: Id,
    #[serde(default)]
    new_value: Id,
    #[serde(borrow, default)]
    log_time: Text<'a>,
}

/// A deal's move from one stage to another, at epoch ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Move {
    pub from: Option<u64>,
    pub to: u64,
    pub at_ms: i64,
}

/// The stage move a flow entry records, if it records one (entries of other kinds,
/// changes of other fields, and entries without a readable stage or time are not).
pub(super) fn stage_move(raw: &RawValue) -> Option<Move> {
    if !raw.get().trim_start().starts_with('{') {
        return None;
    }
    let entry: Entry = serde_json::from_str(raw.get()).ok()?;
    let change = entry.data?;
    if entry.object.get()? != "dealChange" || change.field_key.get()? != "stage_id" {
        return None;
    }
    let at_ms = change
        .log_time
        .get()
        .and_then(parse_time_ms)
        .or_else(|| entry.timestamp.get().and_then(parse_time_ms))?;
    Some(Move {
        from: change.old_value.0,
        to: change.new_value.0?,
        at_ms,
    })
}

/// A deal's history from its stage moves (in any order; Pipedrive lists newest first),
/// its creation time (epoch s) and `now`, the stage it is in since `stage_change_time`
/// (which closes the history should the flow end elsewhere). Oldest first, with
/// repeated stages folded.
pub(super) fn fold(
    mut moves: Vec<Move>,
    created_at: Option<i64>,
    now: Option<StageChange>,
) -> Vec<StageChange> {
    moves.reverse();
    // Stable: moves of one second keep their listed order, reversed.
    moves.sort_by_key(|m| m.at_ms);
    let mut out = Vec::with_capacity(moves.len() + 2);
    if let (
        Some(Move {
            from: Some(from), ..
        }),
        Some(at),
    ) = (moves.first(), created_at)
    {
        out.push(StageChange {
            stage: from.to_string(),
            at,
        });
    }
    out.extend(moves.iter().map(|m| StageChange {
        stage: m.to.to_string(),
        at: m.at_ms.div_euclid(1000),
    }));
    if let Some(now) = now
        && out.last().is_none_or(|last| last.stage != now.stage)
    {
        out.push(now);
    }
    out.dedup_by(|later, earlier| later.stage == earlier.stage);
    out
}

/// The stage moves in deal `id`'s flow; `None` when Pipedrive no longer knows the deal
/// (deleted since its page was listed).
async fn read(http: &Http, id: u64) -> Result<Option<Vec<Move>>, ConnectorError> {
    let mut moves = Vec::new();
    let mut start = 0;
    for _ in 0..FLOW_PAGES {
        let path =
            format!("/api/v1/deals/{id}/flow?start={start}&limit={FLOW_LIMIT}&items=dealChange");
        let reply = match http.get(&path).await {
            Ok(reply) => reply,
            Err(ConnectorError::Status { status: 404, .. }) => {
                http.meter().add_cost(FLOW_COST);
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        http.meter().add_cost(FLOW_COST);
        let page: V1Page = parse(&reply.body)?;
        check_success(page.success)?;
        let data = page.data.unwrap_or_default();
        moves.extend(data.iter().filter_map(|raw| stage_move(raw)));
        let pagination = page
            .additional_data
            .and_then(|a| a.pagination)
            .unwrap_or_default();
        if !pagination.more_items_in_collection.is() || data.is_empty() {
            return Ok(Some(moves));
        }
        let next = pagination.next_start.0.unwrap_or(start + data.len() as u64);
        if next <= start {
            return Err(ConnectorError::Malformed(
                "next_start did not advance".into(),
            ));
        }
        start = next;
    }
    tracing::warn!(
        deal = id,
        "deal flow longer than read; oldest changes left out"
    );
    Ok(Some(moves))
}

/// Replace the provisional history of each moved deal (`changes[index]`, Pipedrive id,
/// `stage_change_time` in epoch s) with the one its flow tells. In an incremental pass
/// (`since_ms`, its lower bound), a deal that last changed stage more than
/// [`STAGE_MARGIN_MS`] before it has the history the last sync read: its flow is not
/// read and the deal is marked [`stage_history_kept`](domain::crm::Deal).
pub(super) async fn fill(
    http: &Http,
    changes: &mut [Change],
    moved: &[(usize, u64, i64)],
    since_ms: Option<i64>,
) -> Result<(), ConnectorError> {
    for &(index, id, moved_at) in moved {
        let Some(Change::Upsert(record)) = changes.get_mut(index) else {
            continue;
        };
        let RecordData::Deal(deal) = &mut record.data else {
            continue;
        };
        if since_ms.is_some_and(|since| moved_at.saturating_mul(1000) < since - STAGE_MARGIN_MS) {
            deal.stage_history_kept = true;
            continue;
        }
        let Some(moves) = read(http, id).await? else {
            continue;
        };
        let now = deal.stage_history.pop();
        deal.stage_history = fold(moves, deal.created_at, now);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moves(entries: &str) -> Vec<Move> {
        let list: Vec<Box<RawValue>> = serde_json::from_str(entries).expect("json");
        list.iter().filter_map(|raw| stage_move(raw)).collect()
    }

    fn pairs(h: &[StageChange]) -> Vec<(&str, i64)> {
        h.iter().map(|c| (c.stage.as_str(), c.at)).collect()
    }

    #[test]
    fn stage_moves_are_picked_from_the_flow() {
        // Newest first, as Pipedrive lists them, among other changes and junk.
        let m = moves(
            r#"[
            {"object":"dealChange","timestamp":"2025-03-01 12:00:00","data":{"id":9,"item_id":42,"field_key":"status","old_value":"open","new_value":"won","log_time":"2025-03-01 12:00:00"}},
            {"object":"dealChange","timestamp":"2025-02-10 09:00:00","data":{"id":8,"item_id":42,"field_key":"stage_id","old_value":"3","new_value":"4","log_time":"2025-02-10 09:00:00","additional_data":{"old_value_formatted":"Demo","new_value_formatted":"Proposal"}}},
            {"object":"activity","timestamp":"2025-02-01 09:00:00","data":{"id":5,"field_key":"stage_id","new_value":2}},
            {"object":"dealChange","timestamp":"2025-01-20 09:00:00","data":{"field_key":"stage_id","old_value":2,"new_value":null,"log_time":"2025-01-20 09:00:00"}},
            {"object":"dealChange","data":{"field_key":"stage_id","old_value":2,"new_value":3,"log_time":"someday"}},
            {"object":"dealChange","data":"stage_id"},
            [1,2],
            {"object":"dealChange","timestamp":"2025-01-05 09:00:00","data":{"field_key":"stage_id","old_value":2,"new_value":3}}
        ]"#,
        );
        assert_eq!(
            m,
            vec![
                Move {
                    from: Some(3),
                    to: 4,
                    at_ms: 1_739_178_000_000
                },
                Move {
                    from: Some(2),
                    to: 3,
                    at_ms: 1_736_067_600_000
                },
            ]
        );
    }

    #[test]
    fn moves_fold_oldest_first_from_creation() {
        let created = Some(1_735_808_400); // 2025-01-02 09:00:00
        let listed = vec![
            Move {
                from: Some(4),
                to: 2,
                at_ms: 1_740_830_400_000,
            },
            Move {
                from: Some(3),
                to: 4,
                at_ms: 1_739_178_000_000,
            },
            // A move back and forth within one second, then the older one.
            Move {
                from: Some(2),
                to: 3,
                at_ms: 1_736_067_600_000,
            },
            Move {
                from: Some(3),
                to: 2,
                at_ms: 1_736_067_600_000,
            },
            Move {
                from: Some(1),
                to: 3,
                at_ms: 1_735_900_000_000,
            },
        ];
        let now = Some(StageChange {
            stage: "2".into(),
            at: 1_740_830_400,
        });
        let got = fold(listed.clone(), created, now.clone());
        assert_eq!(
            pairs(&got),
            vec![
                ("1", 1_735_808_400),
                ("3", 1_735_900_000),
                ("2", 1_736_067_600),
                ("3", 1_736_067_600),
                ("4", 1_739_178_000),
                ("2", 1_740_830_400),
            ]
        );
        // Order of listing does not matter (but for moves within one second).
        let no_ties: Vec<Move> = listed
            .into_iter()
            .filter(|m| m.at_ms != 1_736_067_600_000)
            .collect();
        let mut oldest_first = no_ties.clone();
        oldest_first.reverse();
        assert_eq!(
            fold(oldest_first, created, now.clone()),
            fold(no_ties, created, now.clone())
        );
        // A flow without stage moves keeps what the deal itself says; one that ends
        // elsewhere is closed by it; repeats fold.
        assert_eq!(
            pairs(&fold(Vec::new(), created, now.clone())),
            vec![("2", 1_740_830_400)]
        );
        let partial = vec![Move {
            from: None,
            to: 5,
            at_ms: 1_736_000_000_000,
        }];
        assert_eq!(
            pairs(&fold(partial, created, now)),
            vec![("5", 1_736_000_000), ("2", 1_740_830_400)]
        );
        let same = vec![Move {
            from: Some(7),
            to: 7,
            at_ms: 1_736_000_000_000,
        }];
        assert_eq!(
            pairs(&fold(same, created, None)),
            vec![("7", 1_735_808_400)]
        );
    }
}
