//! `/invitations`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::{Email, Seat};
use serde::Deserialize;
use store::NewInvitation;
use utoipa::ToSchema;

use super::views::{AccountView, InvitationView, ListView, Patch};
use crate::extract::{ApiJson, ApiQuery, ClientInfo, ListParams, Viewer};
use crate::flows::{self, AcceptInput};
use crate::{ApiError, AppState, Problem};

/// Pending invitations (yours; admins see all).
#[utoipa::path(get, path = "/invitations", tag = "invitations", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = ListView<InvitationView>), (status = 401, body = Problem)))]
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListView<InvitationView>>, ApiError> {
    let page = state
        .store
        .list_invitations(&viewer.scope, &params.page()?)
        .await?;
    Ok(Json(ListView::from_page(page, InvitationView::from)))
}

/// New invitation input.
#[derive(Deserialize, ToSchema)]
pub struct CreateInvitationBody {
    pub email: String,
    /// `executive`, `manager` or `rep`. Managers may invite reps only.
    pub seat: String,
    pub team_id: Option<String>,
}

/// Invite someone. The link is returned here and queued as an email.
#[utoipa::path(post, path = "/invitations", tag = "invitations", security(("bearer" = [])), request_body = CreateInvitationBody,
    responses((status = 201, body = InvitationView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(body): ApiJson<CreateInvitationBody>,
) -> Result<(StatusCode, Json<InvitationView>), ApiError> {
    let (view, _) =
        create_invitation(&state, &viewer.scope, &body.email, &body.seat, body.team_id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Validate and create an invitation (shared with the settings page).
pub(crate) async fn create_invitation(
    state: &AppState,
    scope: &store::Scope,
    email: &str,
    seat: &str,
    team_id: Option<String>,
) -> Result<(InvitationView, String), ApiError> {
    let mut errors = Vec::new();
    let email = Email::parse(email)
        .map_err(|m| errors.push(domain::FieldError::new("email", m)))
        .ok();
    let seat = seat
        .parse::<Seat>()
        .map_err(|e| errors.push(domain::FieldError::new("seat", e.to_string())))
        .ok();
    let team_id = super::users::parse_link(
        team_id.map_or(Patch::Absent, Patch::Value),
        "team_id",
        &mut errors,
    )
    .flatten();
    let (Some(email), Some(seat), true) = (email, seat, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let mut token_out = String::new();
    let public_url = state.config.public_url.clone();
    let (invitation, url) = state
        .store
        .create_invitation(
            scope,
            NewInvitation {
                email,
                seat,
                team_id,
            },
            |id, expires_at| {
                let ttl = expires_at - state.store.clock().now();
                let token = flows::invitation_token(
                    state,
                    &scope.org_id().to_string(),
                    &id.to_string(),
                    ttl,
                )?;
                token_out = token.clone();
                Ok(format!("{public_url}/invite/{token}"))
            },
        )
        .await?;
    let mut view = InvitationView::from(invitation);
    view.token = Some(token_out.clone());
    view.accept_url = Some(url.clone());
    Ok((view, url))
}

/// Accept input.
#[derive(Deserialize, ToSchema)]
pub struct AcceptBody {
    pub name: String,
    pub password: String,
    pub confirm_over_18: bool,
}

/// Accept an invitation: creates your account and logs you in. Single use.
#[utoipa::path(post, path = "/invitations/{token}/accept", tag = "invitations", request_body = AcceptBody,
    params(("token" = String, Path)),
    responses((status = 201, body = AccountView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn accept(
    State(state): State<AppState>,
    client: ClientInfo,
    Path(token): Path<String>,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<Response, ApiError> {
    let (org, user, tokens) = flows::accept(
        &state,
        &token,
        AcceptInput {
            name: body.name,
            password: body.password,
            confirm_over_18: body.confirm_over_18,
        },
        &client,
    )
    .await?;
    let view = AccountView {
        user: user.into(),
        organization: org.into(),
        access_token: tokens.access_token.clone(),
        token_type: "Bearer".into(),
        expires_in: tokens.expires_in,
        refresh_token: tokens.refresh_token.clone(),
    };
    Ok(super::auth::with_session_cookie(
        &state,
        &tokens,
        (StatusCode::CREATED, Json(view)).into_response(),
    ))
}
