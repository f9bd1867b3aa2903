//! `/me`: the caller, and changing their password.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::views::MeView;
use crate::extract::{ApiJson, ClientInfo, Viewer};
use crate::{ApiError, AppState, Problem, flows};

/// Who am I?
#[utoipa::path(get, path = "/me", tag = "members", security(("bearer" = [])),
    responses((status = 200, body = MeView), (status = 401, body = Problem)))]
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Json<MeView>, ApiError> {
    let scope = &viewer.scope;
    let user = state.store.get_user(scope, scope.user_id()).await?;
    let org = state.store.organization(scope).await?;
    Ok(Json(MeView {
        id: user.id.to_string(),
        name: user.name,
        email: user.email,
        seat: user.seat.as_str().into(),
        organization_id: user.org_id.to_string(),
        team_id: user.team_id.map(|t| t.to_string()),
        manager_id: user.manager_id.map(|m| m.to_string()),
        is_admin: user.is_admin,
        organization: org.into(),
        csrf_token: crate::csrf::session_token(&state, &scope.session_id().to_string()),
    }))
}

/// Password change input.
#[derive(Deserialize, ToSchema)]
pub struct PasswordBody {
    pub current_password: String,
    pub new_password: String,
}

/// Change your password. Every one of your sessions is revoked, including this one;
/// log in again with the new password.
#[utoipa::path(post, path = "/me/password", tag = "members", security(("bearer" = [])), request_body = PasswordBody,
    responses((status = 204), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn change_password(
    State(state): State<AppState>,
    viewer: Viewer,
    client: ClientInfo,
    ApiJson(body): ApiJson<PasswordBody>,
) -> Result<Response, ApiError> {
    let tokens = flows::change_password(
        &state,
        &viewer.scope,
        &body.current_password,
        &body.new_password,
        &client,
        viewer.via_cookie,
    )
    .await?;
    match tokens {
        // The browser keeps a fresh session; every other session is gone.
        Some(tokens) => Ok(super::auth::with_session_cookie(
            &state,
            &tokens,
            StatusCode::NO_CONTENT.into_response(),
        )),
        // API callers get no new session.
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}
