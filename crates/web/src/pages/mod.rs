//! Server-rendered HTML pages (askama, auto-escaped). Plain, accessible HTML; forms post
//! back with a CSRF token; no JavaScript is required.

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::{ApiError, AppState};

/// The page routes: (method, path) of every HTML route, for tests that walk them all.
pub const PAGE_ROUTES: &[(&str, &str)] = &[];

/// The HTML routes.
pub fn router() -> Router<AppState> {
    Router::new()
}

/// The stylesheet.
pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
        .into_response()
}

/// The 404 page (one body for every cause).
pub fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><h1>Not found</h1>"),
    )
        .into_response()
}

/// An error page for an API error met while rendering a page.
pub fn error_page(e: ApiError) -> Response {
    match e {
        ApiError::NotFound => not_found_page(),
        other => other.into_response(),
    }
}

/// The page shown when a form's CSRF check fails.
pub fn csrf_failed_page() -> Response {
    (StatusCode::FORBIDDEN, Html("<!doctype html><title>Form expired</title><h1>This form has expired</h1><p>Go back, reload the page and try again.</p>")).into_response()
}
