//! The JSON API under `/api/v1`. Every handler is annotated for the OpenAPI document,
//! and the router is built from those annotations, so the document and the routes
//! cannot drift apart.

mod audit;
pub(crate) mod auth;
pub mod crm_views;
mod integrations;
pub(crate) mod invitations;
mod me;
pub(crate) mod notes;
pub(crate) mod owners;
mod records;
mod sessions;
mod teams;
pub(crate) mod users;
pub mod views;

use axum::Json;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Pitchside API",
        description = "The Pitchside JSON API. Errors are RFC 9457 problem documents. \
            Authenticate with `Authorization: Bearer <access_token>` from /auth/login; \
            browser sessions use the session cookie plus the `X-CSRF-Token` header.",
        license(name = "AGPL-3.0-or-later")
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Signup, login, logout, tokens"),
        (name = "members", description = "People, seats and teams"),
        (name = "invitations", description = "Inviting people"),
        (name = "sessions", description = "Your login sessions"),
        (name = "notes", description = "Coaching notes (sealed at rest)"),
        (name = "audit", description = "The organization's audit log"),
        (name = "integrations", description = "Connected CRMs: connect, sync, disconnect, owner mapping"),
        (name = "crm", description = "Deals, contacts, companies and activities synced from the CRM, by seat"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The API routes with their OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    let api = OpenApiRouter::new()
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::refresh))
        .routes(routes!(me::show))
        .routes(routes!(me::change_password))
        .routes(routes!(users::index))
        .routes(routes!(users::show, users::update, users::remove))
        .routes(routes!(teams::index, teams::create))
        .routes(routes!(teams::show, teams::update))
        .routes(routes!(invitations::index, invitations::create))
        .routes(routes!(invitations::accept))
        .routes(routes!(notes::create))
        .routes(routes!(notes::show))
        .routes(routes!(notes::about))
        .routes(routes!(sessions::index))
        .routes(routes!(sessions::revoke))
        .routes(routes!(audit::index))
        .routes(routes!(integrations::index, integrations::create))
        .routes(routes!(
            integrations::show,
            integrations::update,
            integrations::remove
        ))
        .routes(routes!(integrations::sync))
        .routes(routes!(owners::index))
        .routes(routes!(owners::update))
        .routes(routes!(records::deals))
        .routes(routes!(records::deal))
        .routes(routes!(records::contacts))
        .routes(routes!(records::companies))
        .routes(routes!(records::activities));
    let router = OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", api);
    let doc = router.get_openapi().clone();
    router.route(
        "/api/v1/openapi.json",
        get(move || async move { Json(doc) }),
    )
}

/// The OpenAPI document (3.1) of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    router().split_for_parts().1
}
