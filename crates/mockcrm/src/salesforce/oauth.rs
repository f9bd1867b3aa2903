//! The mock's OAuth 2.0 web-server flow: authorize (302 back with `code` and `state`),
//! token (form-encoded, client id and secret in the form; the answer has no
//! `expires_in` and names the `instance_url`), and revoke (form `token`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::sf_id;
use crate::server::{MockState, parse_form};

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /services/oauth2/authorize`: the person "approves" at once.
pub async fn authorize(State(state): State<Arc<MockState>>, RawQuery(raw): RawQuery) -> Response {
    let q = parse_form(raw.unwrap_or_default().as_bytes());
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("response_type") != "code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response type not supported",
        );
    }
    let challenge = q.get("code_challenge").map(String::as_str);
    if challenge.is_some() && get("code_challenge_method") != "S256" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "code challenge method not supported",
        );
    }
    let redirect = get("redirect_uri");
    if redirect.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "redirect_uri must match configuration",
        );
    }
    let Some(code) = state.issue_code(get("client_id"), redirect, challenge, get("scope")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_id",
            "client identifier invalid",
        );
    };
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let location = format!(
        "{redirect}{sep}code={}&state={}",
        encode(&code),
        encode(get("state"))
    );
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `POST /services/oauth2/token` (authorization code or refresh token grant).
pub async fn token(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let refreshing = form.get("grant_type").map(String::as_str) == Some("refresh_token");
    match state.grant(&form, None) {
        Ok((access, refresh, scope)) => {
            let base = state.base_url();
            let issued_at =
                (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).to_string();
            let scope = if scope.is_empty() {
                "api refresh_token".to_owned()
            } else {
                scope
            };
            let mut answer = serde_json::json!({
                "access_token": access,
                "signature": "bW9jay1zaWduYXR1cmU=",
                "scope": scope,
                "instance_url": base,
                "id": format!("{base}/id/00D000000000001AAA/{}", sf_id("005", 0)),
                "token_type": "Bearer",
                "issued_at": issued_at,
            });
            // Without rotation, a refresh answers with a new access token only.
            if !refreshing {
                answer["refresh_token"] = serde_json::Value::String(refresh);
            }
            axum::Json(answer).into_response()
        }
        Err("invalid_client") => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "invalid client credentials",
        ),
        Err("invalid_grant") if refreshing => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "expired access/refresh token",
        ),
        Err("invalid_grant") => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "invalid authorization code",
        ),
        Err(code) => oauth_error(StatusCode::BAD_REQUEST, code, "invalid request"),
    }
}

/// `POST /services/oauth2/revoke` with form `token`.
pub async fn revoke(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    match form.get("token").filter(|t| !t.is_empty()) {
        Some(token) => {
            state.revoke(token);
            StatusCode::OK.into_response()
        }
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_token",
            "Token was invalid",
        ),
    }
}
