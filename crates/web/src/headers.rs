//! Security headers on every response (SECURITY.md HDR-03): a strict CSP with no inline
//! script, no framing, no sniffing, a tight referrer and permissions policy, and
//! `no-store` caching for everything that is not a static asset.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::{AppState, CookieMode};

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

pub(crate) async fn apply(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // A plain-http request (as a trusted proxy reports it) when the public URL is https:
    // send it to the same path on the public URL, before anything else runs.
    let mut response = if state.config.public_scheme() == "https"
        && crate::tls::known_plain_http(&req, &state.config)
    {
        crate::tls::redirect_to(&state.config.public_url, &req)
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static(
            "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
        ),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if state.config.cookie_mode == CookieMode::Secure && state.config.public_scheme() == "https" {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000; includeSubDomains; preload"),
        );
    }
    h.remove(header::SERVER);
    response
}
