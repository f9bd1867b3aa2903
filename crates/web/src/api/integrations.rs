//! `/integrations`: connected CRM accounts. Admins connect (with a HubSpot private-app
//! or Pipedrive API token here; OAuth starts in the browser at
//! `/integrations/{provider}/connect`), sync and disconnect; executives may look.
//! Anyone else gets 404, as for something that does not exist. No response carries a
//! token.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::crm_views::IntegrationView;
use super::views::ListView;
use crate::extract::{ApiJson, ApiQuery, ListParams, OptionalJson, Viewer};
use crate::integrations::{self, check_token_connect};
use crate::{ApiError, AppState, Problem};

/// Runs shown by `GET /integrations/{id}`; lists show the latest one.
const DETAIL_RUNS: u32 = 10;

/// Connect a CRM with a token.
#[derive(Deserialize, ToSchema)]
pub struct CreateIntegrationBody {
    /// `hubspot` or `pipedrive` (Salesforce connects through OAuth only).
    pub provider: String,
    /// A HubSpot private-app token or a Pipedrive API token. Checked with one read,
    /// then stored encrypted; never returned.
    #[schema(write_only, format = Password)]
    pub access_token: Option<String>,
    /// Minutes between syncs, 5 to 1440 (default: the server's setting, 15).
    pub sync_interval_minutes: Option<i64>,
    /// Pitchside's share of the CRM's daily API budget, 1 to 100 (default 50).
    pub quota_share_percent: Option<i64>,
}

/// Connect a CRM account with a token (admins only). The token is tried with one read
/// before it is saved; the first, full sync is scheduled at once.
#[utoipa::path(post, path = "/integrations", tag = "integrations", security(("bearer" = [])),
    request_body = CreateIntegrationBody,
    responses((status = 201, body = IntegrationView), (status = 403, body = Problem),
        (status = 422, body = Problem), (status = 502, body = Problem)))]
pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(body): ApiJson<CreateIntegrationBody>,
) -> Result<(StatusCode, Json<IntegrationView>), ApiError> {
    let request = check_token_connect(
        &state,
        &body.provider,
        body.access_token.as_deref(),
        body.sync_interval_minutes,
        body.quota_share_percent,
    )?;
    let scope = &viewer.scope;
    let connection = integrations::connect_with_token(&state, scope, request).await?;
    let detail = integrations::detail(&state, scope, connection, DETAIL_RUNS).await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

/// The organization's integrations (admins and executives; empty for anyone else).
#[utoipa::path(get, path = "/integrations", tag = "integrations", security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, body = ListView<IntegrationView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListView<IntegrationView>>, ApiError> {
    let page = params.page()?;
    let scope = &viewer.scope;
    let all = state.store.list_connections(scope).await?;
    let mut items = Vec::new();
    let mut next_cursor = None;
    for c in all
        .into_iter()
        .filter(|c| page.after.as_ref().is_none_or(|after| c.id > *after))
    {
        if items.len() == page.limit as usize {
            next_cursor = items
                .last()
                .map(|v: &IntegrationView| store::Cursor::encode(&v.id));
            break;
        }
        items.push(integrations::detail(&state, scope, c, 1).await?.into());
    }
    Ok(Json(ListView { items, next_cursor }))
}

/// One integration: status, schedule, today's quota and the latest runs.
#[utoipa::path(get, path = "/integrations/{id}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = IntegrationView), (status = 404, body = Problem)))]
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<IntegrationView>, ApiError> {
    let scope = &viewer.scope;
    let connection = state.store.get_connection(scope, &id).await?;
    let detail = integrations::detail(&state, scope, connection, DETAIL_RUNS).await?;
    Ok(Json(detail.into()))
}

/// New settings for an integration; fields left out keep their value (at least one
/// is required).
#[derive(Deserialize, ToSchema)]
pub struct UpdateIntegrationBody {
    /// Minutes between syncs, 5 to 1440.
    pub sync_interval_minutes: Option<i64>,
    /// Pitchside's share of the CRM's daily API budget, 1 to 100.
    pub quota_share_percent: Option<i64>,
}

/// Change how often an integration syncs and its share of the CRM's daily API budget
/// (admins only). A shorter interval brings the next sync forward.
#[utoipa::path(patch, path = "/integrations/{id}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateIntegrationBody,
    responses((status = 200, body = IntegrationView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateIntegrationBody>,
) -> Result<Json<IntegrationView>, ApiError> {
    let scope = &viewer.scope;
    // What the viewer may not see is missing, whatever the body says.
    state.store.get_connection(scope, &id).await?;
    let mut errors = Vec::new();
    if body.sync_interval_minutes.is_none() && body.quota_share_percent.is_none() {
        errors.push(domain::FieldError::new(
            "sync_interval_minutes",
            "give sync_interval_minutes, quota_share_percent or both",
        ));
    }
    integrations::check_settings(
        body.sync_interval_minutes,
        body.quota_share_percent,
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let connection = state
        .store
        .update_connection_settings(
            scope,
            &id,
            body.sync_interval_minutes.map(|m| m * 60),
            body.quota_share_percent,
        )
        .await?;
    let detail = integrations::detail(&state, scope, connection, DETAIL_RUNS).await?;
    Ok(Json(detail.into()))
}

/// Sync options.
#[derive(Deserialize, ToSchema, Default)]
pub struct SyncBody {
    /// Re-read everything from the CRM (and drop what it no longer has).
    #[serde(default)]
    pub full: bool,
}

/// Ask for a sync now (admins only). The body may be left out.
#[utoipa::path(post, path = "/integrations/{id}/sync", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<SyncBody>),
    responses((status = 202, body = IntegrationView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn sync(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<SyncBody>,
) -> Result<(StatusCode, Json<IntegrationView>), ApiError> {
    let scope = &viewer.scope;
    state.store.request_sync(scope, &id, body.full).await?;
    let connection = state.store.get_connection(scope, &id).await?;
    let detail = integrations::detail(&state, scope, connection, 1).await?;
    Ok((StatusCode::ACCEPTED, Json(detail.into())))
}

/// Disconnect options, in the query string or the body.
#[derive(Deserialize, ToSchema, IntoParams, Default)]
pub struct DisconnectParams {
    /// Also delete every record synced through this integration (`true`/`false`).
    pub delete_data: Option<String>,
}

/// The same, as a JSON body.
#[derive(Deserialize, ToSchema, Default)]
pub struct DisconnectBody {
    #[serde(default)]
    pub delete_data: bool,
}

/// Disconnect (admins only): OAuth tokens are revoked at the provider, then forgotten.
/// With `delete_data`, the synced records go too; otherwise they stay, read-only.
#[utoipa::path(delete, path = "/integrations/{id}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path), DisconnectParams), request_body(content = Option<DisconnectBody>),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<DisconnectParams>,
    OptionalJson(body): OptionalJson<DisconnectBody>,
) -> Result<StatusCode, ApiError> {
    let in_query = match params.delete_data.as_deref() {
        None => false,
        Some("true" | "1" | "yes") => true,
        Some("false" | "0" | "no" | "") => false,
        Some(_) => return Err(ApiError::field("delete_data", "must be true or false")),
    };
    integrations::disconnect(&state, &viewer.scope, &id, in_query || body.delete_data).await?;
    Ok(StatusCode::NO_CONTENT)
}
