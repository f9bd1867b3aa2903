//! Plumbing shared by every page: the layout data a signed-in page carries, the
//! extractors whose failures become HTML pages (never a framework's plain-text
//! rejection), form errors shown next to their fields, cookies, the fixed flash
//! messages of POST-redirect-GET, and directory lookups.

use std::str::FromStr;

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use serde::de::DeserializeOwned;
use store::{PageRequest, Scope, StoreError, Team, User};
use time::OffsetDateTime;
use time::macros::format_description;

use super::errors::{error_page, not_found_page};
use crate::csrf::{pre_session_token, session_token};
use crate::extract::{cookie, form_pairs};
use crate::{ApiError, AppState};

/// Why a page handler failed; rendered by [`error_page`], so every failure is an
/// HTML page with the right status (and NotFound is always the one fixed 404).
#[derive(Debug)]
pub(crate) struct PageError(pub(crate) ApiError);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        error_page(self.0)
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self(e.into())
    }
}

/// What a page handler returns.
pub(crate) type PageResult = Result<Response, PageError>;

/// The part of the layout every signed-in page shares: who is signed in, the CSRF
/// token of the nav's logout form, and which nav item is current.
pub(crate) struct Chrome {
    pub(crate) user_name: String,
    pub(crate) csrf: String,
    /// One of `dashboard`, `teams`, `settings`, `security`, `audit`.
    pub(crate) section: &'static str,
    /// Executives and admins read the audit log.
    pub(crate) show_audit: bool,
}

impl Chrome {
    pub(crate) fn new(state: &AppState, scope: &Scope, section: &'static str) -> Self {
        Self {
            user_name: scope.name().to_owned(),
            csrf: session_token(state, &scope.session_id().to_string()),
            section,
            show_audit: scope.sees_everyone(),
        }
    }
}

/// A form body. Fields should be `String`/`Option<String>` with `#[serde(default)]`,
/// so a missing field is never an error. A body sent without a `Content-Type` is read
/// as URL-encoded (an empty body is then simply an empty form); any other failure
/// becomes an HTML error page.
pub(crate) struct PageForm<T>(pub(crate) T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PageForm<T> {
    type Rejection = Response;

    async fn from_request(mut req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !req.headers().contains_key(header::CONTENT_TYPE) {
            req.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
        }
        match Form::<T>::from_request(req, state).await {
            Ok(Form(value)) => Ok(PageForm(value)),
            Err(rejection) => Err(error_page(match rejection.status() {
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType,
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::BadRequest("The form could not be read.".into()),
            })),
        }
    }
}

/// The single path parameter (`{id}` or `{token}`), parsed. Anything that does not
/// parse is the same 404 as an id that does not exist.
pub(crate) struct PathId<T>(pub(crate) T);

impl<T: FromStr, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| not_found_page())?;
        raw.parse().map(PathId).map_err(|_| not_found_page())
    }
}

/// Whether a checkbox was ticked (browsers send `on`; omit it when unticked).
pub(crate) fn ticked(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// One validation message, with the label of its field.
pub(crate) struct ErrorItem {
    pub(crate) field: String,
    pub(crate) label: String,
    pub(crate) message: String,
}

/// Validation errors of one form, shown next to their fields and summarised at the
/// top (each summary line links to its field).
#[derive(Default)]
pub(crate) struct FormErrors {
    pub(crate) items: Vec<ErrorItem>,
}

impl FormErrors {
    /// `labels` maps field names to the labels the form shows.
    pub(crate) fn new(errors: Vec<FieldError>, labels: &[(&str, &str)]) -> Self {
        let items = errors
            .into_iter()
            .map(|e| {
                let label = labels
                    .iter()
                    .find(|(f, _)| *f == e.field)
                    .map_or("Form", |(_, l)| l);
                ErrorItem {
                    label: label.to_owned(),
                    message: sentence(&e.message),
                    field: e.field,
                }
            })
            .collect();
        Self { items }
    }

    pub(crate) fn one(field: &str, label: &str, message: &str) -> Self {
        Self {
            items: vec![ErrorItem {
                field: field.to_owned(),
                label: label.to_owned(),
                message: sentence(message),
            }],
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The message for a field, if it has one.
    pub(crate) fn get(&self, field: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|i| i.field == field)
            .map(|i| i.message.as_str())
    }
}

/// Capitalise a validator message and end it with a full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// The fixed text of a `?done=` flash. Unknown values show nothing: the text shown is
/// always ours, never reflected from the URL.
pub(crate) fn done_message(query: Option<&str>) -> Option<&'static str> {
    let done = form_pairs(query.unwrap_or_default())
        .into_iter()
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v)?;
    Some(match done.as_str() {
        "welcome" => "Welcome to Pitchside. Your organization is ready.",
        "joined" => "Welcome to Pitchside. You have joined your organization.",
        "logged_out" => "You have been logged out.",
        "member_updated" => "The member has been updated.",
        "member_removed" => "The member has been removed.",
        "team_created" => "The team has been created.",
        "session_revoked" => "The session has been revoked.",
        "note_saved" => "The note has been saved.",
        "integration_connected" => {
            "The CRM is connected. The first sync has started; this page shows its progress."
        }
        "integration_flagged" => {
            "The CRM is connected, but it granted more than read access. Review the scopes below."
        }
        "sync_requested" => "A sync has been requested. It starts within a minute.",
        "full_sync_requested" => {
            "A full re-sync has been requested. It reads everything from the CRM again."
        }
        "integration_disconnected" => {
            "The CRM has been disconnected. The data synced so far is kept, read-only."
        }
        "integration_deleted" => {
            "The CRM has been disconnected and the data synced from it deleted."
        }
        "owner_mapped" => "The CRM owner's mapping has been saved.",
        "integration_settings_saved" => "The sync schedule has been saved.",
        "password_changed" => {
            "Your password has been changed. Every other session has been signed out."
        }
        _ => return None,
    })
}

/// 303 to a fixed local path.
pub(crate) fn see_other(path: &str) -> Response {
    Redirect::to(path).into_response()
}

/// Append `Set-Cookie` headers to a response.
pub(crate) fn with_cookies(mut response: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

pub(crate) use crate::flows::{clear_session_cookie, session_cookie};

/// The CSRF token of a form shown before login, bound to a random pre-session cookie.
pub(crate) struct PreSession {
    nonce: String,
    pub(crate) token: String,
}

impl PreSession {
    /// Reuse the browser's nonce if it sent a well-formed one, else make a new one.
    pub(crate) fn from_headers(state: &AppState, headers: &HeaderMap) -> Self {
        let nonce = cookie(headers, state.config.csrf_cookie())
            .filter(|n| {
                (16..=64).contains(&n.len())
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
            .map_or_else(|| vault::random_token(16), str::to_owned);
        let token = pre_session_token(state, &nonce);
        Self { nonce, token }
    }

    /// The cookie, re-set on every render so it does not expire under an open form.
    pub(crate) fn cookie(&self, state: &AppState) -> String {
        state
            .config
            .cookie(state.config.csrf_cookie(), &self.nonce, 3600)
    }
}

/// Epoch seconds as `2025-01-31 14:05 UTC`.
pub(crate) fn when(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| {
            t.format(format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// How many directory pages a page walks at most, and their size (the store's maximum).
const MAX_PAGES: usize = 25;
const PAGE_SIZE: u32 = 200;

/// Every member the viewer sees (up to 5,000), oldest first.
pub(crate) async fn all_users(state: &AppState, scope: &Scope) -> Result<Vec<User>, StoreError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let request = PageRequest::new(Some(PAGE_SIZE), cursor.as_deref())
            .map_err(|m| StoreError::Config(m.into()))?;
        let page = state.store.list_users(scope, &request).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(out)
}

/// Every team the viewer sees (up to 5,000), oldest first.
pub(crate) async fn all_teams(state: &AppState, scope: &Scope) -> Result<Vec<Team>, StoreError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let request = PageRequest::new(Some(PAGE_SIZE), cursor.as_deref())
            .map_err(|m| StoreError::Config(m.into()))?;
        let page = state.store.list_teams(scope, &request).await?;
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    Ok(out)
}

/// `Some(v)` for a found row, `None` for NotFound, the error otherwise: for links to
/// related rows the viewer may not be allowed to see.
pub(crate) fn optional<T>(result: Result<T, StoreError>) -> Result<Option<T>, StoreError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A choice in a `<select>`.
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn done_messages_are_fixed_and_unknown_values_show_nothing() {
        assert_eq!(
            done_message(Some("done=team_created")),
            Some("The team has been created.")
        );
        assert_eq!(done_message(Some("done=%3Cscript%3E")), None);
        assert_eq!(done_message(Some("x=1")), None);
        assert_eq!(done_message(None), None);
    }

    #[test]
    fn validator_messages_become_sentences() {
        assert_eq!(sentence("must not be empty"), "Must not be empty.");
        assert_eq!(sentence("Done."), "Done.");
    }

    #[test]
    fn checkboxes_count_as_ticked_only_with_a_value() {
        assert!(ticked(Some("on")));
        assert!(!ticked(Some("")));
        assert!(!ticked(None));
    }
}
