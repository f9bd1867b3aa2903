//! `/audit-events`: the organization's audit log, for executives and admins (for
//! anyone else it does not exist: 404).

use axum::Json;
use axum::extract::State;
use domain::UserId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiQuery, Viewer};
use crate::{ApiError, AppState, Problem};

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditParams {
    /// Only actions starting with this, e.g. `auth.` or `member.updated`.
    pub action: Option<String>,
    /// Only events by this user.
    pub actor_id: Option<String>,
    /// Epoch seconds, inclusive.
    #[param(value_type = Option<i64>)]
    pub since: Option<String>,
    /// Epoch seconds, exclusive.
    #[param(value_type = Option<i64>)]
    pub until: Option<String>,
    /// The `next_before` of the previous page.
    #[param(value_type = Option<i64>)]
    pub before: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(value_type = Option<u32>)]
    pub limit: Option<String>,
}

/// A whole-number query parameter, or a 422 naming it.
fn number(field: &str, value: Option<&str>) -> Result<Option<i64>, ApiError> {
    match value {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::field(field, format!("{field} must be a whole number"))),
    }
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    /// Position in the organization's chain.
    pub seq: i64,
    /// Epoch seconds (UTC).
    pub occurred_at: i64,
    /// `user`, `anonymous`, `operator` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// Event-specific details.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// A page of audit entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditListView {
    pub items: Vec<AuditEventView>,
    /// Pass as `before` for the next (older) page; null on the last page.
    pub next_before: Option<i64>,
}

/// The organization's audit log, newest first.
#[utoipa::path(get, path = "/audit-events", tag = "audit", security(("bearer" = [])),
    params(AuditParams),
    responses((status = 200, body = AuditListView), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Json<AuditListView>, ApiError> {
    let limit = number("limit", params.limit.as_deref())?.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::field("limit", "limit must be between 1 and 200"));
    }
    let actor_id = match params.actor_id.as_deref() {
        None | Some("") => None,
        Some(id) => Some(
            id.parse::<UserId>()
                .map_err(|_| ApiError::field("actor_id", "not a user id"))?,
        ),
    };
    let filter = store::AuditFilter {
        action_prefix: params.action.filter(|a| !a.is_empty()),
        actor_id,
        since: number("since", params.since.as_deref())?,
        until: number("until", params.until.as_deref())?,
        before_seq: number("before", params.before.as_deref())?,
    };
    let page = state
        .store
        .audit_events(&viewer.scope, &filter, limit as u32)
        .await?;
    Ok(Json(AuditListView {
        items: page
            .items
            .into_iter()
            .map(|e| AuditEventView {
                seq: e.seq,
                occurred_at: e.occurred_at,
                actor_kind: e.actor_kind,
                actor_id: e.actor_id,
                ip: e.ip,
                user_agent: e.user_agent,
                request_id: e.request_id,
                action: e.action,
                target_type: e.target_type,
                target_id: e.target_id,
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                prev_hash: e.prev_hash,
                hash: e.hash,
            })
            .collect(),
        next_before: page.next_before_seq,
    }))
}
