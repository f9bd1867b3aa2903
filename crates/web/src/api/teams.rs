//! `/teams`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::TeamId;
use serde::Deserialize;
use store::{NewTeam, TeamPatch};
use utoipa::ToSchema;

use super::users::parse_link;
use super::views::{ListView, Patch, TeamView};
use crate::extract::{ApiJson, ApiQuery, ListParams, Viewer};
use crate::{ApiError, AppState, Problem};

/// List the teams you can see.
#[utoipa::path(get, path = "/teams", tag = "members", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = ListView<TeamView>), (status = 401, body = Problem)))]
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListView<TeamView>>, ApiError> {
    let page = state
        .store
        .list_teams(&viewer.scope, &params.page()?)
        .await?;
    Ok(Json(ListView::from_page(page, TeamView::from)))
}

/// New team input.
#[derive(Deserialize, ToSchema)]
pub struct CreateTeamBody {
    pub name: String,
    pub manager_id: Option<String>,
    pub parent_team_id: Option<String>,
}

/// Create a team (admins only).
#[utoipa::path(post, path = "/teams", tag = "members", security(("bearer" = [])), request_body = CreateTeamBody,
    responses((status = 201, body = TeamView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(body): ApiJson<CreateTeamBody>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    let mut errors = Vec::new();
    let name = domain::PersonName::parse(&body.name)
        .map_err(|m| errors.push(domain::FieldError::new("name", m)))
        .ok();
    let manager_id = parse_link(
        body.manager_id.map_or(Patch::Absent, Patch::Value),
        "manager_id",
        &mut errors,
    )
    .flatten();
    let parent_team_id = parse_link(
        body.parent_team_id.map_or(Patch::Absent, Patch::Value),
        "parent_team_id",
        &mut errors,
    )
    .flatten();
    let (Some(name), true) = (name, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let team = state
        .store
        .create_team(
            &viewer.scope,
            NewTeam {
                name: name.into_string(),
                manager_id,
                parent_team_id,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// One team, if you can see it.
#[utoipa::path(get, path = "/teams/{id}", tag = "members", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = TeamView), (status = 404, body = Problem)))]
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<TeamView>, ApiError> {
    let id: TeamId = id.parse().map_err(|_| ApiError::NotFound)?;
    Ok(Json(state.store.get_team(&viewer.scope, id).await?.into()))
}

/// Changes to a team; `null` clears `manager_id`/`parent_team_id`.
#[derive(Deserialize, ToSchema, Default)]
pub struct UpdateTeamBody {
    pub name: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub manager_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub parent_team_id: Patch<String>,
}

/// Rename a team or change its manager or parent (admins only).
#[utoipa::path(patch, path = "/teams/{id}", tag = "members", security(("bearer" = [])), request_body = UpdateTeamBody,
    params(("id" = String, Path)),
    responses((status = 200, body = TeamView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateTeamBody>,
) -> Result<Json<TeamView>, ApiError> {
    let id: TeamId = id.parse().map_err(|_| ApiError::NotFound)?;
    let mut errors = Vec::new();
    let name = match body.name {
        Some(n) => domain::PersonName::parse(&n)
            .map(|n| Some(n.into_string()))
            .unwrap_or_else(|m| {
                errors.push(domain::FieldError::new("name", m));
                None
            }),
        None => None,
    };
    let manager_id = parse_link(body.manager_id, "manager_id", &mut errors);
    let parent_team_id = parse_link(body.parent_team_id, "parent_team_id", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let patch = TeamPatch {
        name,
        manager_id,
        parent_team_id,
    };
    Ok(Json(
        state
            .store
            .update_team(&viewer.scope, id, patch)
            .await?
            .into(),
    ))
}
