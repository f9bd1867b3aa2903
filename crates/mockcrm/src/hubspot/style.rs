//! HubSpot's answers that the shared middleware sends: the 401, the 429s (with
//! `policyName` and `Retry-After`), other error bodies, and the
//! `X-HubSpot-RateLimit-*` headers on every data answer.

use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::server::{MockState, Style};
use crate::world::hash;

/// HubSpot's answers to errors, throttling and the rate-limit headers.
#[derive(Clone, Copy, Debug, Default)]
pub struct HubspotStyle;

/// A fresh-looking correlation id (HubSpot puts a UUID in every error body).
pub(crate) fn correlation_id() -> String {
    let n = Instant::now().elapsed().as_nanos() as u64;
    let a = hash(n, 1, std::process::id() as u64);
    let b = hash(a, 2, n);
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// HubSpot's standard error body with `status`.
pub(crate) fn error_response(status: u16, category: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    });
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        axum::Json(body),
    )
        .into_response()
}

/// A 429 with HubSpot's body for `policy` and `Retry-After` (whole seconds, at least 1).
pub(crate) fn throttled(policy: &str, message: &str, retry_after: Option<Duration>) -> Response {
    let body = serde_json::json!({
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
    });
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    if let Some(wait) = retry_after {
        let secs = wait.as_millis().div_ceil(1000).max(1) as u64;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

impl Style for HubspotStyle {
    fn is_public(&self, path: &str) -> bool {
        path.starts_with("/oauth/")
    }

    fn unauthorized(&self) -> Response {
        error_response(
            401,
            "INVALID_AUTHENTICATION",
            "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        )
    }

    fn too_many(&self, retry_after: Duration) -> Response {
        throttled(
            "TEN_SECONDLY_ROLLING",
            "You have reached your ten_secondly_rolling limit.",
            Some(retry_after),
        )
    }

    fn daily_limit(&self) -> Response {
        throttled("DAILY", "You have reached your daily limit.", None)
    }

    fn error(&self, status: u16) -> Response {
        let (category, message) = match status {
            400 => ("VALIDATION_ERROR", "Invalid input."),
            401 => (
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found.",
            ),
            403 => (
                "MISSING_SCOPES",
                "This app hasn't been granted all required scopes to make this call.",
            ),
            404 => ("OBJECT_NOT_FOUND", "Resource not found."),
            429 => (
                "RATE_LIMITS",
                "You have reached your ten_secondly_rolling limit.",
            ),
            _ => ("INTERNAL_ERROR", "internal error"),
        };
        error_response(status, category, message)
    }

    fn limit_headers(&self, headers: &mut HeaderMap, state: &MockState, remaining: (u32, u32)) {
        if let Some((max, window)) = state.options.rate_limit {
            headers.insert("x-hubspot-ratelimit-max", HeaderValue::from(max));
            headers.insert(
                "x-hubspot-ratelimit-remaining",
                HeaderValue::from(remaining.1),
            );
            headers.insert(
                "x-hubspot-ratelimit-interval-milliseconds",
                HeaderValue::from(window.as_millis() as u64),
            );
        }
        if let Some(daily) = state.options.daily_limit {
            let served = state
                .served
                .load(std::sync::atomic::Ordering::Relaxed)
                .min(daily);
            headers.insert("x-hubspot-ratelimit-daily", HeaderValue::from(daily));
            headers.insert(
                "x-hubspot-ratelimit-daily-remaining",
                HeaderValue::from(daily - served),
            );
        }
    }
}
