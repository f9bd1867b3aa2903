//! Server-rendered HTML pages (askama, auto-escaped). Plain, accessible HTML; forms post
//! back with a CSRF token; no JavaScript is required (and the CSP allows no inline
//! script or style).
//!
//! Conventions every page follows:
//! - Signed-in pages take a [`crate::extract::PageViewer`]; everyone else is sent to
//!   `/login`.
//! - Ids come in through [`common::PathId`]: a malformed id, another organization's id
//!   and an id this seat may not see all get the one fixed [`not_found_page`].
//! - A successful form post answers 303 to a page with `?done=<code>`, which maps to a
//!   fixed message; nothing from the URL is reflected.
//! - Failures render through [`error_page`], or re-render the form with its errors.

mod auth;
mod common;
mod crm_panels;
mod dashboard;
mod errors;
mod integrations;
mod security;
mod settings;
#[cfg(test)]
mod tests;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};

pub use errors::{csrf_failed_page, error_page, not_found_page};

use crate::AppState;

/// Declares the page routes once, producing both [`PAGE_ROUTES`] and [`router`], so
/// the list tests walk and the routes served cannot drift apart.
macro_rules! page_routes {
    ($($method:ident $path:literal => $handler:path;)*) => {
        /// The page routes: (method, path) of every HTML route, for tests that walk
        /// them all.
        pub const PAGE_ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        /// The HTML routes.
        pub fn router() -> Router<AppState> {
            Router::new()
                $(.route($path, page_routes!(@method $method)($handler)))*
        }
    };
    (@method GET) => { axum::routing::get };
    (@method POST) => { axum::routing::post };
}

page_routes! {
    GET "/login" => auth::login_form;
    POST "/login" => auth::login;
    GET "/signup" => auth::signup_form;
    POST "/signup" => auth::signup;
    GET "/invite/{token}" => auth::invite_form;
    POST "/invite/{token}" => auth::accept_invite;
    POST "/logout" => auth::logout;
    GET "/" => dashboard::index;
    GET "/teams" => dashboard::teams;
    GET "/teams/{id}" => dashboard::team;
    GET "/reps/{id}" => dashboard::rep;
    POST "/reps/{id}/notes" => dashboard::create_note;
    GET "/settings" => settings::index;
    POST "/settings/members/{id}" => settings::members::update;
    POST "/settings/members/{id}/remove" => settings::members::remove;
    POST "/settings/teams" => settings::teams::create;
    POST "/settings/invitations" => settings::invitations::create;
    GET "/settings/audit" => settings::audit::index;
    GET "/settings/audit.csv" => settings::audit::csv;
    GET "/settings/security" => security::index;
    POST "/settings/security/sessions/{id}/revoke" => security::revoke_session;
    POST "/settings/security/password" => security::change_password;
    GET "/settings/integrations" => integrations::index;
    POST "/settings/integrations" => integrations::connect_token;
    POST "/settings/integrations/{id}/sync" => integrations::sync;
    POST "/settings/integrations/{id}/settings" => integrations::settings;
    POST "/settings/integrations/{id}/disconnect" => integrations::disconnect;
    POST "/settings/integrations/{id}/owners" => integrations::map_owner;
    GET "/integrations/{provider}/connect" => integrations::oauth::connect;
    GET "/integrations/{provider}/callback" => integrations::oauth::callback;
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
