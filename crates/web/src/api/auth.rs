//! `/auth`: signup, login, logout, refresh.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::ToSchema;

use super::views::{AccountView, TokenView};
use crate::extract::{ApiJson, ClientInfo, Viewer};
use crate::flows::{self, SignupInput, Tokens};
use crate::{ApiError, AppState, Problem};

/// Signup input.
#[derive(Deserialize, ToSchema)]
pub struct SignupBody {
    pub organization_name: String,
    pub name: String,
    pub email: String,
    /// 12 characters to 72 bytes; not a common password; not your email.
    pub password: String,
    /// You must be 18 or older.
    pub confirm_over_18: bool,
}

/// Create an organization and its first user (an executive and admin).
#[utoipa::path(post, path = "/auth/signup", tag = "auth", request_body = SignupBody,
    responses((status = 201, body = AccountView), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignupBody>,
) -> Result<Response, ApiError> {
    let (org, user, tokens) = flows::signup(
        &state,
        SignupInput {
            organization_name: body.organization_name,
            name: body.name,
            email: body.email,
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
    Ok(with_session_cookie(
        &state,
        &tokens,
        (StatusCode::CREATED, axum::Json(view)).into_response(),
    ))
}

/// Login input.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

/// Log in. Also sets the session cookie for browsers.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginBody,
    responses((status = 200, body = TokenView), (status = 401, body = Problem),
        (status = 429, body = Problem, description = "Locked out or rate-limited; see Retry-After")))]
pub(super) async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let tokens = flows::login(&state, &body.email, &body.password, &client).await?;
    let response = axum::Json(TokenView::from(&tokens)).into_response();
    Ok(with_session_cookie(&state, &tokens, response))
}

/// End the current session. Its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub(super) async fn logout(
    State(state): State<AppState>,
    viewer: Viewer,
) -> Result<Response, ApiError> {
    state.store.logout(&viewer.scope).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(v) = HeaderValue::from_str(&state.config.cookie(state.config.session_cookie(), "", 0))
    {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

/// Refresh input.
#[derive(Deserialize, ToSchema)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// Exchange a refresh token for new tokens. The refresh token rotates: presenting an
/// old one again revokes the whole session.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", request_body = RefreshBody,
    responses((status = 200, body = TokenView), (status = 401, body = Problem)))]
pub(super) async fn refresh(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<axum::Json<TokenView>, ApiError> {
    let tokens = flows::refresh(&state, &body.refresh_token, &client).await?;
    Ok(axum::Json(TokenView::from(&tokens)))
}

/// Attach the session cookie carrying the refresh token.
pub(crate) fn with_session_cookie(
    state: &AppState,
    tokens: &Tokens,
    mut response: Response,
) -> Response {
    let cookie = state.config.cookie(
        state.config.session_cookie(),
        &tokens.refresh_token,
        tokens.refresh_max_age,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}
