//! CSRF defence for every state-changing request (SECURITY.md CSRF-01, CSRF-02).
//!
//! 1. Fetch Metadata and origin: `Sec-Fetch-Site: cross-site`, or an `Origin` (else
//!    `Referer`) that is not this site, is refused outright.
//! 2. Bearer-token calls are exempt from the token check: a browser never attaches
//!    them on its own.
//! 3. A request carrying a valid session cookie must present the synchronizer token
//!    (HMAC of the session id under the server key) in `X-CSRF-Token` or, for forms, in
//!    the `csrf_token` field. Forms posted before login (login, signup, accept) present
//!    a token bound to a random pre-session cookie instead.
//!
//! This runs as middleware on the whole router, so a new route cannot forget it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use vault::Purpose;

use crate::extract::{cookie, form_pairs};
use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// MAC context of session-bound tokens.
pub(crate) const SESSION_CONTEXT: &str = "csrf-session";
/// MAC context of pre-session tokens.
pub(crate) const PRE_SESSION_CONTEXT: &str = "csrf-pre-session";
/// Header carrying the token on API calls.
pub const HEADER: &str = "x-csrf-token";
/// Form field carrying the token.
pub const FIELD: &str = "csrf_token";

pub(crate) async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let is_api = req.uri().path().starts_with("/api/");
    if !same_site(req.headers(), &state) {
        return refuse(is_api, "cross-site request refused");
    }
    if req.headers().contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    let session_id = cookie(req.headers(), state.config.session_cookie())
        .and_then(|t| state.keys.verify(t, Purpose::Refresh).ok())
        .map(|claims| claims.sid);
    let pre_session = cookie(req.headers(), state.config.csrf_cookie()).map(str::to_owned);
    let form = is_form(req.headers());
    if session_id.is_none() && !form {
        // Unauthenticated JSON: a cross-site page cannot send JSON without a CORS
        // preflight we never grant, and the origin check above already ran.
        return next.run(req).await;
    }
    let (req, token) = match req.headers().get(HEADER).and_then(|v| v.to_str().ok()) {
        Some(t) => {
            let t = t.to_owned();
            (req, Some(t))
        }
        None if form => {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
                return if is_api {
                    ApiError::PayloadTooLarge.into_response()
                } else {
                    crate::pages::error_page(ApiError::PayloadTooLarge)
                };
            };
            let token = form_pairs(&String::from_utf8_lossy(&bytes))
                .into_iter()
                .find(|(k, _)| k == FIELD)
                .map(|(_, v)| v);
            (Request::from_parts(parts, Body::from(bytes)), token)
        }
        None => (req, None),
    };
    let Some(token) = token else {
        return refuse(is_api, "missing CSRF token");
    };
    let valid = session_id
        .as_deref()
        .is_some_and(|sid| state.keys.verify_mac(SESSION_CONTEXT, sid, &token))
        || pre_session
            .as_deref()
            .is_some_and(|nonce| state.keys.verify_mac(PRE_SESSION_CONTEXT, nonce, &token));
    if !valid {
        return refuse(is_api, "invalid CSRF token");
    }
    next.run(req).await
}

/// The session-bound token for a session id.
pub fn session_token(state: &AppState, session_id: &str) -> String {
    state.keys.mac(SESSION_CONTEXT, session_id)
}

/// The pre-session token for a pre-session cookie nonce.
pub(crate) fn pre_session_token(state: &AppState, nonce: &str) -> String {
    state.keys.mac(PRE_SESSION_CONTEXT, nonce)
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let v = v.to_ascii_lowercase();
            v.starts_with("application/x-www-form-urlencoded")
                || v.starts_with("multipart/form-data")
        })
        .unwrap_or(false)
}

/// Fetch Metadata, then Origin, then Referer must all point at this site.
fn same_site(headers: &HeaderMap, state: &AppState) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("cross-site"))
    {
        return false;
    }
    let host_origin = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(|host| format!("{}://{host}", state.config.public_scheme()));
    let allowed = |origin: &str| {
        let origin = origin.trim_end_matches('/');
        origin.eq_ignore_ascii_case(state.config.public_origin())
            || host_origin
                .as_deref()
                .is_some_and(|h| origin.eq_ignore_ascii_case(h))
    };
    // Every Origin and Referer value must be ours: a duplicated header cannot smuggle
    // a foreign origin past a check that reads only the first one.
    let origins: Vec<&str> = headers
        .get_all(header::ORIGIN)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !origins.is_empty() || headers.contains_key(header::ORIGIN) {
        return origins.len() == headers.get_all(header::ORIGIN).iter().count()
            && origins.iter().all(|o| allowed(o));
    }
    let referers: Vec<&str> = headers
        .get_all(header::REFERER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if headers.contains_key(header::REFERER) {
        return referers.len() == headers.get_all(header::REFERER).iter().count()
            && referers.iter().all(|referer| {
                let after_scheme = referer.find("://").map(|i| i + 3).unwrap_or(0);
                let end = referer[after_scheme..]
                    .find('/')
                    .map(|i| after_scheme + i)
                    .unwrap_or(referer.len());
                allowed(&referer[..end])
            });
    }
    true
}

fn refuse(is_api: bool, why: &'static str) -> Response {
    tracing::warn!(reason = why, "CSRF check failed");
    if is_api {
        ApiError::Forbidden(why).into_response()
    } else {
        crate::pages::csrf_failed_page()
    }
}
