//! `/integrations/{id}/owners`: the CRM's users and the Pitchside users their records
//! belong to. Owners map by email automatically; an admin may map one by hand to a
//! member, to nobody (its records are then for executives only), or back to automatic.

use axum::Json;
use axum::extract::{Path, State};
use domain::UserId;
use serde::Deserialize;
use store::crm::OwnerMapping;
use store::{Cursor, Scope};
use utoipa::ToSchema;

use super::crm_views::OwnerView;
use super::views::ListView;
use crate::extract::{ApiJson, ApiQuery, ListParams, Viewer};
use crate::{ApiError, AppState, Problem};

/// The owners of an integration, by id (admins and executives).
#[utoipa::path(get, path = "/integrations/{id}/owners", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path), ListParams),
    responses((status = 200, body = ListView<OwnerView>), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListView<OwnerView>>, ApiError> {
    let page = params.page()?;
    let mut owners = state.store.list_owners(&viewer.scope, &id).await?;
    owners.sort_by(|a, b| a.id.cmp(&b.id));
    let mut items: Vec<OwnerMapping> = owners
        .into_iter()
        .filter(|o| page.after.as_ref().is_none_or(|after| o.id > *after))
        .take(page.limit as usize + 1)
        .collect();
    let next_cursor = if items.len() > page.limit as usize {
        items.truncate(page.limit as usize);
        items.last().map(|o| Cursor::encode(&o.id))
    } else {
        None
    };
    Ok(Json(ListView {
        items: items.into_iter().map(OwnerView::from).collect(),
        next_cursor,
    }))
}

/// How to map an owner.
#[derive(Deserialize, ToSchema, Default)]
pub struct OwnerMappingBody {
    /// `user` (to `user_id`), `nobody`, or `automatic` (by email).
    pub mapping: Option<String>,
    /// The member, when `mapping` is `user`.
    pub user_id: Option<String>,
}

/// What a mapping request asks for: `None` automatic, `Some(None)` nobody,
/// `Some(Some(user))` that user.
pub(crate) type Mapping = Option<Option<UserId>>;

/// Check a mapping request.
pub(crate) fn parse_mapping(
    mapping: Option<&str>,
    user_id: Option<&str>,
) -> Result<Mapping, ApiError> {
    let user_id = user_id.map(str::trim).filter(|u| !u.is_empty());
    match (mapping.map(str::trim), user_id) {
        (Some("automatic"), None) => Ok(None),
        (Some("nobody"), None) => Ok(Some(None)),
        (Some("user"), Some(u)) => u
            .parse()
            .map(|u| Some(Some(u)))
            .map_err(|_| ApiError::field("user_id", "must be the id of a member")),
        (Some("user"), None) => Err(ApiError::field(
            "user_id",
            "is required when mapping is user",
        )),
        (Some("automatic" | "nobody"), Some(_)) => Err(ApiError::field(
            "user_id",
            "is only allowed when mapping is user",
        )),
        (Some(_), _) => Err(ApiError::field(
            "mapping",
            "must be user, nobody or automatic",
        )),
        (None, _) => Err(ApiError::field("mapping", "is required")),
    }
}

/// Map an owner (admins only). A missing owner, or one of another integration, is 404.
pub(crate) async fn set_mapping(
    state: &AppState,
    scope: &Scope,
    integration: &str,
    owner: &str,
    mapping: Option<&str>,
    user_id: Option<&str>,
) -> Result<OwnerMapping, ApiError> {
    // Existence first: a caller who may not see the owner learns nothing from 422s.
    let owners = state.store.list_owners(scope, integration).await?;
    if !owners.iter().any(|o| o.id == owner) {
        return Err(ApiError::NotFound);
    }
    let mapping = parse_mapping(mapping, user_id)?;
    Ok(state
        .store
        .set_owner_mapping(scope, integration, owner, mapping)
        .await?)
}

/// Map an owner to a member, to nobody, or back to matching by email (admins only).
#[utoipa::path(put, path = "/integrations/{id}/owners/{owner_id}", tag = "integrations", security(("bearer" = [])),
    params(("id" = String, Path), ("owner_id" = String, Path)), request_body = OwnerMappingBody,
    responses((status = 200, body = OwnerView), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, owner_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<OwnerMappingBody>,
) -> Result<Json<OwnerView>, ApiError> {
    let owner = set_mapping(
        &state,
        &viewer.scope,
        &id,
        &owner_id,
        body.mapping.as_deref(),
        body.user_id.as_deref(),
    )
    .await?;
    Ok(Json(owner.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_need_exactly_what_they_name() {
        let user = uuid::Uuid::now_v7().to_string();
        assert!(matches!(parse_mapping(Some("automatic"), None), Ok(None)));
        assert!(matches!(
            parse_mapping(Some("nobody"), Some(" ")),
            Ok(Some(None))
        ));
        assert!(matches!(
            parse_mapping(Some("user"), Some(&user)),
            Ok(Some(Some(_)))
        ));
        for (m, u) in [
            (Some("user"), None),
            (Some("user"), Some("x")),
            (Some("nobody"), Some(user.as_str())),
            (Some("everyone"), None),
            (None, None),
        ] {
            assert!(
                matches!(parse_mapping(m, u), Err(ApiError::Validation(_))),
                "{m:?} {u:?}"
            );
        }
    }
}
