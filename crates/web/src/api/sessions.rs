//! `/sessions`: your login sessions.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::SessionId;

use super::views::{ListView, SessionView};
use crate::extract::Viewer;
use crate::{ApiError, AppState, Problem};

/// Your active sessions.
#[utoipa::path(get, path = "/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = ListView<SessionView>), (status = 401, body = Problem)))]
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<ListView<SessionView>>, ApiError> {
    let sessions = state.store.list_sessions(&viewer.scope).await?;
    Ok(Json(ListView {
        items: sessions.into_iter().map(SessionView::from).collect(),
        next_cursor: None,
    }))
}

/// Revoke one of your sessions; its tokens stop working at once.
#[utoipa::path(delete, path = "/sessions/{id}", tag = "sessions", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 204), (status = 404, body = Problem)))]
pub(super) async fn revoke(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: SessionId = id.parse().map_err(|_| ApiError::NotFound)?;
    state.store.revoke_session(&viewer.scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
