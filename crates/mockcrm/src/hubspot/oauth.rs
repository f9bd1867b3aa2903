//! HubSpot OAuth v1 as the mock serves it: the authorize step redirects straight back
//! with a code (no login page), the token endpoint takes a form body with the client id
//! and secret in it (and `code_verifier` for PKCE) and answers with `token_type`,
//! `access_token`, `refresh_token`, `expires_in`, `hub_id` and the granted `scopes`
//! array; refresh tokens are deleted with `DELETE /oauth/v1/refresh-tokens/{token}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::correlation_id;
use super::handlers::Query;
use crate::server::{MockState, parse_form};

/// The portal id every mock token belongs to.
pub const HUB_ID: u64 = 62_515;

/// Percent-encode everything but RFC 3986 unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn oauth_error(status: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(serde_json::json!({
            "status": status,
            "message": message,
            "correlationId": correlation_id(),
        })),
    )
        .into_response()
}

/// `GET /oauth/authorize`: remember a code for the client, redirect URI, PKCE challenge
/// and scope, and redirect to `redirect_uri?code=…&state=…`.
pub(crate) async fn authorize(
    State(state): State<Arc<MockState>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw.as_deref());
    let (Some(client_id), Some(redirect)) = (q.get("client_id"), q.get("redirect_uri")) else {
        return oauth_error("BAD_REQUEST", "client_id and redirect_uri are required");
    };
    let challenge = q.get("code_challenge");
    if challenge.is_some() && q.get("code_challenge_method") != Some("S256") {
        return oauth_error("BAD_REQUEST", "code_challenge_method must be S256");
    }
    let scope = q.get("scope").unwrap_or_default();
    let Some(code) = state.issue_code(client_id, redirect, challenge, scope) else {
        return oauth_error("BAD_CLIENT_ID", "missing or unknown client id");
    };
    let mut location = format!(
        "{redirect}{}code={}",
        if redirect.contains('?') { '&' } else { '?' },
        encode(&code)
    );
    if let Some(s) = q.get("state") {
        location.push_str("&state=");
        location.push_str(&encode(s));
    }
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// `POST /oauth/v1/token` (form body): an authorization-code or refresh-token grant.
pub(crate) async fn token(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    let form = parse_form(&body);
    let refreshing = form.get("grant_type").map(String::as_str) == Some("refresh_token");
    match state.grant(&form, None) {
        Ok((access, refresh, scope)) => {
            let scopes: Vec<&str> = scope.split([' ', ',']).filter(|s| !s.is_empty()).collect();
            axum::Json(serde_json::json!({
                "token_type": "bearer",
                "refresh_token": refresh,
                "access_token": access,
                "expires_in": state.options.token_ttl.as_secs(),
                "hub_id": HUB_ID,
                "scopes": scopes,
            }))
            .into_response()
        }
        Err("invalid_client") => oauth_error("BAD_CLIENT_ID", "missing or unknown client id"),
        Err("invalid_grant") if refreshing => {
            oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
        }
        Err("invalid_grant") => oauth_error("BAD_AUTH_CODE", "missing or unknown auth code"),
        Err("unsupported_grant_type") => oauth_error("BAD_GRANT_TYPE", "unsupported grant type"),
        Err(_) => oauth_error("BAD_REQUEST", "missing required parameters"),
    }
}

/// `DELETE /oauth/v1/refresh-tokens/{token}`: revoke a refresh token (204).
pub(crate) async fn revoke(
    State(state): State<Arc<MockState>>,
    Path(token): Path<String>,
) -> Response {
    state.revoke(&token);
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_values_are_encoded() {
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("code-1_x.y~"), "code-1_x.y~");
    }
}
