//! Pitchside's HTTP layer: the JSON API under `/api/v1` (with its OpenAPI document),
//! the server-rendered pages, and the middleware every request passes through
//! (request id and logging, metrics, security headers, rate limits, CSRF).
//!
//! Handlers stay thin: they parse input, call the store with the viewer's
//! [`store::Scope`], and map the result. The same flows (signup, login, accept an
//! invitation) serve the API and the pages through [`flows`].

pub mod api;
mod config;
pub mod crm;
mod csrf;
mod error;
mod extract;
pub mod flows;
mod headers;
mod integrations;
mod metrics;
mod observe;
pub mod pages;
mod ratelimit;
mod state;
pub mod tls;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::get;

pub use config::{CookieMode, WebConfig};
pub use crm::CrmSettings;
pub use error::{ApiError, Problem};
pub use metrics::Metrics;
pub use state::AppState;

/// Largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole application: API, pages, health and metrics, with every middleware.
pub fn router(state: AppState) -> Router {
    let (api, _openapi) = api::router().split_for_parts();
    Router::new()
        .merge(api)
        .merge(pages::router())
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(metrics::render))
        .route("/static/app.css", get(pages::stylesheet))
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(from_fn_with_state(state.clone(), csrf::enforce))
        .layer(from_fn_with_state(state.clone(), ratelimit::enforce))
        .layer(from_fn_with_state(state.clone(), headers::apply))
        .layer(from_fn_with_state(state.clone(), observe::observe))
        .with_state(state)
}

/// Serve on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn fallback(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    if uri.path().starts_with("/api/") {
        ApiError::NotFound.into_response()
    } else {
        pages::not_found_page()
    }
}

mod health {
    //! Liveness and readiness.
    use axum::extract::State;
    use axum::http::StatusCode;

    use crate::AppState;

    pub(crate) async fn live() -> &'static str {
        "ok"
    }

    pub(crate) async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
        match state.store.ping().await {
            Ok(()) => (StatusCode::OK, "ready"),
            Err(e) => {
                tracing::warn!(error = %e, "readiness check failed");
                (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
            }
        }
    }
}
