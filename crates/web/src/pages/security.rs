//! The viewer's own security: active sessions (revocable one by one) and the password.
//!
//! Changing the password revokes every session in the store; the flow opens a fresh one
//! for this browser, whose cookie the redirect carries, so the person who made the
//! change stays signed in and everyone else is signed out.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::SessionId;
use serde::Deserialize;
use store::Scope;

use super::common::{
    Chrome, FormErrors, PageForm, PageResult, PathId, clear_session_cookie, done_message,
    see_other, session_cookie, when, with_cookies,
};
use crate::extract::{ClientInfo, PageViewer};
use crate::{ApiError, AppState, flows};

const PASSWORD_LABELS: &[(&str, &str)] = &[
    ("current_password", "Current password"),
    ("new_password", "New password"),
];

struct SessionRow {
    id: String,
    user_agent: String,
    ip: String,
    created: String,
    last_seen: String,
    current: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "security.html")]
struct SecurityPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    sessions: Vec<SessionRow>,
    errors: FormErrors,
}

async fn render(
    state: &AppState,
    scope: &Scope,
    status: StatusCode,
    notice: Option<&'static str>,
    errors: FormErrors,
) -> PageResult {
    let sessions = state.store.list_sessions(scope).await?;
    let page = SecurityPage {
        chrome: Chrome::new(state, scope, "security"),
        notice,
        sessions: sessions
            .into_iter()
            .map(|s| SessionRow {
                id: s.id.to_string(),
                user_agent: if s.user_agent.trim().is_empty() {
                    "Unknown browser".into()
                } else {
                    s.user_agent
                },
                ip: if s.ip.is_empty() {
                    "Unknown".into()
                } else {
                    s.ip
                },
                created: when(s.created_at),
                last_seen: when(s.last_seen_at),
                current: s.current,
            })
            .collect(),
        errors,
    };
    Ok((status, page).into_response())
}

pub(super) async fn index(
    State(state): State<AppState>,
    viewer: PageViewer,
    RawQuery(query): RawQuery,
) -> PageResult {
    render(
        &state,
        &viewer.scope,
        StatusCode::OK,
        done_message(query.as_deref()),
        FormErrors::default(),
    )
    .await
}

pub(super) async fn revoke_session(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<SessionId>,
) -> PageResult {
    let scope = &viewer.scope;
    state.store.revoke_session(scope, id).await?;
    if id == scope.session_id() {
        // This browser's own session: it is signed out now.
        return Ok(with_cookies(
            see_other("/login?done=logged_out"),
            &[clear_session_cookie(&state)],
        ));
    }
    Ok(see_other("/settings/security?done=session_revoked"))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PasswordForm {
    current_password: String,
    new_password: String,
}

pub(super) async fn change_password(
    State(state): State<AppState>,
    viewer: PageViewer,
    client: ClientInfo,
    PageForm(form): PageForm<PasswordForm>,
) -> PageResult {
    let scope = &viewer.scope;
    match flows::change_password(
        &state,
        scope,
        &form.current_password,
        &form.new_password,
        &client,
        true,
    )
    .await
    {
        Ok(None) => Err(ApiError::Internal.into()),
        Ok(Some(tokens)) => Ok(with_cookies(
            see_other("/settings/security?done=password_changed"),
            &[session_cookie(&state, &tokens)],
        )),
        Err(ApiError::Validation(errors)) => {
            let errors = FormErrors::new(errors, PASSWORD_LABELS);
            render(
                &state,
                scope,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                errors,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
