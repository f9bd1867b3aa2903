//! `/deals`, `/contacts`, `/companies`, `/activities`: the CRM records synced into
//! Pitchside, by seat — executives see every record, managers their reps', reps their
//! own; records whose owner maps to nobody are for executives only. Cursor lists like
//! every list, with filters; a record out of sight is 404 like a missing one.

use axum::Json;
use axum::extract::{Path, State};
use domain::UserId;
use domain::crm::ActivityType;
use serde::Deserialize;
use store::crm::{ActivityFilter, DealFilter};
use store::{PageRequest, StoreError};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use utoipa::IntoParams;

use super::crm_views::{ActivityView, CompanyView, ContactView, DealView};
use super::views::ListView;
use crate::extract::{ApiQuery, Viewer, de_opt_u32, page_request};
use crate::{ApiError, AppState, Problem};

fn owner(raw: Option<&str>) -> Result<Option<UserId>, ApiError> {
    raw.filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| ApiError::field("owner_id", "must be the id of a member"))
        })
        .transpose()
}

/// A `YYYY-MM-DD` date, checked.
fn date(raw: Option<&str>, field: &str) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    time::Date::parse(raw, format_description!("[year]-[month]-[day]"))
        .map(|_| Some(raw.to_owned()))
        .map_err(|_| ApiError::field(field, "must be a date, YYYY-MM-DD"))
}

/// An RFC 3339 time or a `YYYY-MM-DD` date (its start, UTC), as epoch seconds.
fn instant(raw: Option<&str>, field: &str) -> Result<Option<i64>, ApiError> {
    let Some(raw) = raw.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    if let Ok(t) = time::OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(Some(t.unix_timestamp()));
    }
    time::Date::parse(raw, format_description!("[year]-[month]-[day]"))
        .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
        .map_err(|_| ApiError::field(field, "must be an RFC 3339 time or a date, YYYY-MM-DD"))
}

/// Filters of the deal list.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct DealParams {
    /// Page size, 1 to 200 (default 50).
    #[serde(default, deserialize_with = "de_opt_u32")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Deals owned by this member.
    pub owner_id: Option<String>,
    /// The CRM's stage id.
    pub stage: Option<String>,
    /// `open` or `closed`.
    pub status: Option<String>,
    /// Closing on or after this date (`YYYY-MM-DD`).
    pub close_from: Option<String>,
    /// Closing on or before this date (`YYYY-MM-DD`).
    pub close_to: Option<String>,
}

/// Deals you can see, oldest first.
#[utoipa::path(get, path = "/deals", tag = "crm", security(("bearer" = [])), params(DealParams),
    responses((status = 200, body = ListView<DealView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn deals(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(p): ApiQuery<DealParams>,
) -> Result<Json<ListView<DealView>>, ApiError> {
    let page = page_request(p.limit, p.cursor.as_deref())?;
    let filter = DealFilter {
        owner: owner(p.owner_id.as_deref())?,
        stage: p.stage.filter(|s| !s.is_empty()),
        open: match p.status.as_deref() {
            None | Some("") => None,
            Some("open") => Some(true),
            Some("closed") => Some(false),
            Some(_) => return Err(ApiError::field("status", "must be open or closed")),
        },
        close_from: date(p.close_from.as_deref(), "close_from")?,
        close_to: date(p.close_to.as_deref(), "close_to")?,
    };
    let deals = state
        .store
        .list_deals(&viewer.scope, &filter, &page)
        .await?;
    Ok(Json(ListView::from_page(deals, DealView::from)))
}

/// One deal, if you can see it.
#[utoipa::path(get, path = "/deals/{id}", tag = "crm", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = DealView), (status = 404, body = Problem)))]
pub(super) async fn deal(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<DealView>, ApiError> {
    Ok(Json(state.store.get_deal(&viewer.scope, &id).await?.into()))
}

/// Filters of the contact and company lists.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct OwnedParams {
    /// Page size, 1 to 200 (default 50).
    #[serde(default, deserialize_with = "de_opt_u32")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Records owned by this member.
    pub owner_id: Option<String>,
}

/// Contacts you can see, oldest first.
#[utoipa::path(get, path = "/contacts", tag = "crm", security(("bearer" = [])), params(OwnedParams),
    responses((status = 200, body = ListView<ContactView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn contacts(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(p): ApiQuery<OwnedParams>,
) -> Result<Json<ListView<ContactView>>, ApiError> {
    let page = page_request(p.limit, p.cursor.as_deref())?;
    let owner = owner(p.owner_id.as_deref())?;
    let items = state
        .store
        .list_contacts(&viewer.scope, owner, &page)
        .await?;
    Ok(Json(ListView::from_page(items, ContactView::from)))
}

/// Companies you can see, oldest first.
#[utoipa::path(get, path = "/companies", tag = "crm", security(("bearer" = [])), params(OwnedParams),
    responses((status = 200, body = ListView<CompanyView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn companies(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(p): ApiQuery<OwnedParams>,
) -> Result<Json<ListView<CompanyView>>, ApiError> {
    let page = page_request(p.limit, p.cursor.as_deref())?;
    let owner = owner(p.owner_id.as_deref())?;
    let items = state
        .store
        .list_companies(&viewer.scope, owner, &page)
        .await?;
    Ok(Json(ListView::from_page(items, CompanyView::from)))
}

/// Filters of the activity list.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct ActivityParams {
    /// Page size, 1 to 200 (default 50).
    #[serde(default, deserialize_with = "de_opt_u32")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Activities owned by this member.
    pub owner_id: Option<String>,
    /// `call`, `email`, `meeting`, `note` or `task`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub activity_type: Option<String>,
    /// At or after this time (RFC 3339, or a date: its start, UTC).
    pub from: Option<String>,
    /// Before this time (RFC 3339, or a date: its start, UTC).
    pub to: Option<String>,
    /// On this deal (its Pitchside `id`).
    pub deal_id: Option<String>,
}

/// Activities you can see, oldest first (with their bodies).
#[utoipa::path(get, path = "/activities", tag = "crm", security(("bearer" = [])), params(ActivityParams),
    responses((status = 200, body = ListView<ActivityView>), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn activities(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiQuery(p): ApiQuery<ActivityParams>,
) -> Result<Json<ListView<ActivityView>>, ApiError> {
    let page: PageRequest = page_request(p.limit, p.cursor.as_deref())?;
    let activity_type = match p.activity_type.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(
            t.parse::<ActivityType>()
                .map_err(|_| ApiError::field("type", "must be call, email, meeting, note or task"))?
                .as_str()
                .to_owned(),
        ),
    };
    let mut filter = ActivityFilter {
        owner: owner(p.owner_id.as_deref())?,
        activity_type,
        from: instant(p.from.as_deref(), "from")?,
        to: instant(p.to.as_deref(), "to")?,
        deal: None,
    };
    if let Some(deal_id) = p.deal_id.as_deref().filter(|d| !d.is_empty()) {
        match state.store.get_deal(&viewer.scope, deal_id).await {
            Ok(deal) => filter.deal = Some(deal.external_id),
            // A deal out of sight has no activities to show.
            Err(StoreError::NotFound) => {
                return Ok(Json(ListView {
                    items: Vec::new(),
                    next_cursor: None,
                }));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let items = state
        .store
        .list_activities(&viewer.scope, &filter, &page, true)
        .await?;
    Ok(Json(ListView::from_page(items, ActivityView::from)))
}
