//! Logging in and out, signing up, and accepting an invitation.
//!
//! These forms are shown before there is a session, so their CSRF token is bound to a
//! random pre-session cookie ([`PreSession`]) instead of a session id. Login failures
//! all look the same: a wrong password, an unknown email and a disabled account give
//! one status and one body (SECURITY.md AUTH-04), which is why the login form does not
//! echo the email back.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::common::{
    FormErrors, PageForm, PageResult, PathId, PreSession, clear_session_cookie, done_message,
    optional, see_other, session_cookie, ticked, with_cookies,
};
use super::errors::{conflict_text, too_many_attempts};
use crate::extract::{ClientInfo, PageViewer, cookie_scope};
use crate::flows::{self, AcceptInput, SignupInput};
use crate::{ApiError, AppState};

/// The one message of every failed login.
const WRONG_CREDENTIALS: &str = "Email or password is not correct.";

const SIGNUP_LABELS: &[(&str, &str)] = &[
    ("organization_name", "Organization name"),
    ("name", "Your name"),
    ("email", "Email"),
    ("password", "Password"),
    ("confirm_over_18", "Age"),
];

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    section: &'static str,
    csrf: String,
    notice: Option<&'static str>,
    problem: Option<String>,
    errors: FormErrors,
}

/// Render the login page with a status and the pre-session cookie.
fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    notice: Option<&'static str>,
    problem: Option<String>,
) -> Response {
    let pre = PreSession::from_headers(state, headers);
    let page = LoginPage {
        section: "login",
        csrf: pre.token.clone(),
        notice,
        problem,
        errors: FormErrors::default(),
    };
    with_cookies((status, page).into_response(), &[pre.cookie(state)])
}

/// Whether the browser already holds a live session (then the login and signup forms
/// send it to the dashboard instead).
async fn signed_in(state: &AppState, headers: &HeaderMap) -> bool {
    matches!(cookie_scope(headers, state).await, Ok(Some(_)))
}

pub(super) async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if signed_in(&state, &headers).await {
        return see_other("/");
    }
    login_page(
        &state,
        &headers,
        StatusCode::OK,
        done_message(query.as_deref()),
        None,
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct LoginForm {
    email: String,
    password: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    PageForm(form): PageForm<LoginForm>,
) -> PageResult {
    match flows::login(&state, &form.email, &form.password, &client).await {
        Ok(tokens) => Ok(with_cookies(
            see_other("/"),
            &[session_cookie(&state, &tokens)],
        )),
        Err(ApiError::Unauthorized) => Ok(login_page(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            None,
            Some(WRONG_CREDENTIALS.into()),
        )),
        Err(ApiError::TooManyRequests { retry_after }) => {
            let mut response = login_page(
                &state,
                &headers,
                StatusCode::TOO_MANY_REQUESTS,
                None,
                Some(too_many_attempts(retry_after)),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            Ok(response)
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn logout(State(state): State<AppState>, viewer: PageViewer) -> PageResult {
    // Already revoked elsewhere is as good as revoked here.
    optional(state.store.logout(&viewer.scope).await)?;
    Ok(with_cookies(
        see_other("/login?done=logged_out"),
        &[clear_session_cookie(&state)],
    ))
}

#[derive(Template, WebTemplate)]
#[template(path = "signup.html")]
struct SignupPage {
    section: &'static str,
    csrf: String,
    errors: FormErrors,
    organization_name: String,
    name: String,
    email: String,
    over_18: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct SignupForm {
    organization_name: String,
    name: String,
    email: String,
    password: String,
    confirm_over_18: Option<String>,
}

fn signup_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    form: SignupForm,
    errors: FormErrors,
) -> Response {
    let pre = PreSession::from_headers(state, headers);
    let page = SignupPage {
        section: "signup",
        csrf: pre.token.clone(),
        errors,
        over_18: ticked(form.confirm_over_18.as_deref()),
        organization_name: form.organization_name,
        name: form.name,
        email: form.email,
    };
    with_cookies((status, page).into_response(), &[pre.cookie(state)])
}

pub(super) async fn signup_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if signed_in(&state, &headers).await {
        return see_other("/");
    }
    signup_page(
        &state,
        &headers,
        StatusCode::OK,
        SignupForm::default(),
        FormErrors::default(),
    )
}

pub(super) async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    PageForm(form): PageForm<SignupForm>,
) -> PageResult {
    let input = SignupInput {
        organization_name: form.organization_name.clone(),
        name: form.name.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        confirm_over_18: ticked(form.confirm_over_18.as_deref()),
    };
    let (status, errors) = match flows::signup(&state, input, &client).await {
        Ok((_, _, tokens)) => {
            return Ok(with_cookies(
                see_other("/?done=welcome"),
                &[session_cookie(&state, &tokens)],
            ));
        }
        Err(ApiError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::new(errors, SIGNUP_LABELS),
        ),
        Err(ApiError::Conflict(code)) => (
            StatusCode::CONFLICT,
            FormErrors::one("email", "Email", conflict_text(code)),
        ),
        Err(e) => return Err(e.into()),
    };
    Ok(signup_page(&state, &headers, status, form, errors))
}

#[derive(Template, WebTemplate)]
#[template(path = "invite.html")]
struct InvitePage {
    section: &'static str,
    csrf: String,
    org_name: String,
    seat: &'static str,
    email: String,
    problem: Option<&'static str>,
    errors: FormErrors,
    name: String,
    over_18: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AcceptForm {
    name: String,
    password: String,
    confirm_over_18: Option<String>,
}

/// The accept page for a valid token; any invalid, used or expired token is the 404.
async fn invite_page(
    state: &AppState,
    headers: &HeaderMap,
    token: &str,
    status: StatusCode,
    form: AcceptForm,
    errors: FormErrors,
    problem: Option<&'static str>,
) -> PageResult {
    let (invitation, org) = flows::invitation(state, token).await?;
    let pre = PreSession::from_headers(state, headers);
    let page = InvitePage {
        section: "",
        csrf: pre.token.clone(),
        org_name: org.name,
        seat: invitation.seat.label(),
        email: invitation.email,
        problem,
        errors,
        over_18: ticked(form.confirm_over_18.as_deref()),
        name: form.name,
    };
    Ok(with_cookies(
        (status, page).into_response(),
        &[pre.cookie(state)],
    ))
}

pub(super) async fn invite_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    PathId(token): PathId<String>,
) -> PageResult {
    invite_page(
        &state,
        &headers,
        &token,
        StatusCode::OK,
        AcceptForm::default(),
        FormErrors::default(),
        None,
    )
    .await
}

pub(super) async fn accept_invite(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: HeaderMap,
    PathId(token): PathId<String>,
    form: Result<PageForm<AcceptForm>, Response>,
) -> PageResult {
    // A bad token is the 404 whatever the body holds.
    flows::invitation(&state, &token).await?;
    let PageForm(form) = match form {
        Ok(form) => form,
        Err(rejection) => return Ok(rejection),
    };
    let input = AcceptInput {
        name: form.name.clone(),
        password: form.password.clone(),
        confirm_over_18: ticked(form.confirm_over_18.as_deref()),
    };
    let (status, errors, problem) = match flows::accept(&state, &token, input, &client).await {
        Ok((_, _, tokens)) => {
            return Ok(with_cookies(
                see_other("/?done=joined"),
                &[session_cookie(&state, &tokens)],
            ));
        }
        Err(ApiError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::new(errors, SIGNUP_LABELS),
            None,
        ),
        Err(ApiError::Conflict(code)) => (
            StatusCode::CONFLICT,
            FormErrors::default(),
            Some(conflict_text(code)),
        ),
        Err(e) => return Err(e.into()),
    };
    invite_page(&state, &headers, &token, status, form, errors, problem).await
}
