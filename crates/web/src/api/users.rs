//! `/users`: the members a viewer sees, and (admins) changing seats, teams, managers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::{Seat, UserId};
use serde::Deserialize;
use store::{Member, Page, UserPatch};
use utoipa::ToSchema;

use super::views::{ListView, Patch, UserView};
use crate::extract::{ApiJson, ApiQuery, ListParams, Viewer};
use crate::{ApiError, AppState, Problem};

/// List the people you can see.
#[utoipa::path(get, path = "/users", tag = "members", security(("bearer" = [])), params(ListParams),
    responses((status = 200, body = ListView<UserView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Response, ApiError> {
    let body = state
        .store
        .rendered_members(&viewer.scope, &params.page()?, "api-v1-users", members_json)
        .await?;
    let body = axum::body::Bytes::from_owner(SharedText(body));
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A rendered page shared with the directory that keeps it, as a response body.
struct SharedText(Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// A page of members as the JSON of a `ListView<UserView>`, spliced from each member's
/// memoised view: a directory entry is rendered once per directory version, and so is
/// each viewer's page (`Store::rendered_members`).
fn members_json(page: &Page<Arc<Member>>) -> String {
    let mut body = String::with_capacity(40 + page.items.len() * 320);
    body.push_str("{\"items\":[");
    for (i, member) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(member.rendered(|user| {
            serde_json::to_string(&UserView::from(user)).unwrap_or_else(|_| "null".into())
        }));
    }
    body.push_str("],\"next_cursor\":");
    body.push_str(&serde_json::to_string(&page.next_cursor).unwrap_or_else(|_| "null".into()));
    body.push('}');
    body
}

/// One person, if you can see them.
#[utoipa::path(get, path = "/users/{id}", tag = "members", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = UserView), (status = 404, body = Problem)))]
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id: UserId = id.parse().map_err(|_| ApiError::NotFound)?;
    Ok(Json(state.store.get_user(&viewer.scope, id).await?.into()))
}

/// Changes to a member. Omitted fields stay; `null` clears `team_id`/`manager_id`.
#[derive(Deserialize, ToSchema, Default)]
pub struct UpdateUserBody {
    pub name: Option<String>,
    /// `executive`, `manager` or `rep`.
    pub seat: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub team_id: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub manager_id: Patch<String>,
    pub is_admin: Option<bool>,
}

/// Change a member's name, seat, team, manager or admin flag (admins only). Changing
/// seat, team or admin rights ends the member's sessions.
#[utoipa::path(patch, path = "/users/{id}", tag = "members", security(("bearer" = [])), request_body = UpdateUserBody,
    params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserBody>,
) -> Result<Json<UserView>, ApiError> {
    let id: UserId = id.parse().map_err(|_| ApiError::NotFound)?;
    let patch = user_patch(body)?;
    Ok(Json(
        state
            .store
            .update_user(&viewer.scope, id, patch)
            .await?
            .into(),
    ))
}

/// Remove a member (admins only): they can no longer log in and their sessions end.
#[utoipa::path(delete, path = "/users/{id}", tag = "members", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub(super) async fn remove(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: UserId = id.parse().map_err(|_| ApiError::NotFound)?;
    state.store.remove_user(&viewer.scope, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Validate a member patch (shared with the settings page).
pub(crate) fn user_patch(body: UpdateUserBody) -> Result<UserPatch, ApiError> {
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
    let seat = match body.seat {
        Some(s) => s.parse::<Seat>().map(Some).unwrap_or_else(|e| {
            errors.push(domain::FieldError::new("seat", e.to_string()));
            None
        }),
        None => None,
    };
    let team_id = parse_link(body.team_id, "team_id", &mut errors);
    let manager_id = parse_link(body.manager_id, "manager_id", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(UserPatch {
        name,
        seat,
        team_id,
        manager_id,
        is_admin: body.is_admin,
    })
}

pub(crate) fn parse_link<T: std::str::FromStr>(
    value: Patch<String>,
    field: &str,
    errors: &mut Vec<domain::FieldError>,
) -> Option<Option<T>> {
    match value {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(s) if s.is_empty() => Some(None),
        Patch::Value(s) => match s.parse() {
            Ok(v) => Some(Some(v)),
            Err(_) => {
                errors.push(domain::FieldError::new(field, "must be an id"));
                None
            }
        },
    }
}
