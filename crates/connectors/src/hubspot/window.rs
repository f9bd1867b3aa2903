//! The incremental search window: a keyset over the modification date, stepping
//! through an instant shared by a whole page by `hs_object_id`, stored in
//! `Checkpoint::extra` between pages.

use serde_json::json;

use super::types::{ObjectType, SEARCH_LIMIT};
use crate::ConnectorError;

/// Where an incremental search stands inside its pass (`Checkpoint::extra`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Window {
    /// Records modified at or after `lo`, by modification time.
    From { lo: i64 },
    /// Records modified exactly at `at` with an id above `after_id`, by id.
    Tie { at: i64, after_id: u64 },
}

impl Window {
    /// The window in `extra`, or the pass's lower bound when there is none (or it is
    /// unreadable: starting the step again is always safe).
    pub fn parse(extra: Option<&str>, since: i64) -> Self {
        let parsed = extra.and_then(|e| {
            let mut parts = e.split(':');
            match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("k"), Some(lo), None, None) => Some(Window::From {
                    lo: lo.parse().ok()?,
                }),
                (Some("t"), Some(at), Some(id), None) => Some(Window::Tie {
                    at: at.parse().ok()?,
                    after_id: id.parse().ok()?,
                }),
                _ => None,
            }
        });
        parsed.unwrap_or(Window::From { lo: since })
    }

    /// The window as stored in `Checkpoint::extra`.
    pub fn encode(self) -> String {
        match self {
            Window::From { lo } => format!("k:{lo}"),
            Window::Tie { at, after_id } => format!("t:{at}:{after_id}"),
        }
    }

    /// The search request for this window.
    pub fn body(self, t: &ObjectType) -> serde_json::Value {
        let (filters, sort) = match self {
            Window::From { lo } => (
                json!([{ "propertyName": t.modified, "operator": "GTE", "value": lo.to_string() }]),
                t.modified,
            ),
            Window::Tie { at, after_id } => (
                json!([
                    { "propertyName": t.modified, "operator": "EQ", "value": at.to_string() },
                    { "propertyName": "hs_object_id", "operator": "GT", "value": after_id.to_string() },
                ]),
                "hs_object_id",
            ),
        };
        json!({
            "filterGroups": [{ "filters": filters }],
            "sorts": [{ "propertyName": sort, "direction": "ASCENDING" }],
            "properties": t.properties,
            "limit": SEARCH_LIMIT,
        })
    }

    /// The window after a page: `None` when this step is done. `span` is the oldest
    /// and newest modification time on the page, `top_id` its highest id.
    pub fn after_page(
        self,
        more: bool,
        span: Option<(i64, i64)>,
        top_id: Option<u64>,
    ) -> Result<Option<Window>, ConnectorError> {
        Ok(match self {
            Window::From { .. } if !more => None,
            Window::From { lo } => match span {
                // A full page of one instant (nothing older is left): step through that
                // instant by id, then past it.
                Some((oldest, newest)) if oldest == newest && newest >= lo => Some(Window::Tie {
                    at: newest,
                    after_id: 0,
                }),
                // Ask again from the newest instant seen (read again, harmlessly).
                Some((_, newest)) if newest > lo => Some(Window::From { lo: newest }),
                _ => Some(Window::Tie {
                    at: lo,
                    after_id: 0,
                }),
            },
            Window::Tie { at, .. } if !more => Some(Window::From {
                lo: at.saturating_add(1),
            }),
            Window::Tie { at, after_id } => match top_id {
                Some(id) if id > after_id => Some(Window::Tie { at, after_id: id }),
                _ => {
                    return Err(ConnectorError::Malformed(
                        "search paging did not advance".into(),
                    ));
                }
            },
        })
    }
}
