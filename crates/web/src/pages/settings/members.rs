//! `POST /settings/members/{id}` and `.../remove`: an admin changes a member's seat,
//! team or admin rights, or removes them. The store decides who may (admins only, never
//! the last admin); someone the viewer cannot see is the 404.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use domain::{FieldError, Seat, TeamId, UserId};
use serde::Deserialize;
use store::{Scope, StoreError, UserPatch};

use super::{Outcome, render};
use crate::extract::PageViewer;
use crate::pages::common::{FormErrors, PageForm, PageResult, PathId, see_other, ticked};
use crate::pages::errors::conflict_text;
use crate::{ApiError, AppState};

const MEMBER_LABELS: &[(&str, &str)] =
    &[("seat", "Seat"), ("team_id", "Team"), ("is_admin", "Admin")];

/// The member form. Every field is optional and an empty form changes nothing. The
/// admin checkbox travels with a hidden `admin_field` marker, because an unticked
/// checkbox sends nothing: with the marker, a missing `is_admin` means "not admin";
/// without it, "leave as is".
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct MemberForm {
    seat: Option<String>,
    team_id: Option<String>,
    is_admin: Option<String>,
    admin_field: Option<String>,
}

fn member_patch(form: MemberForm) -> Result<UserPatch, Vec<FieldError>> {
    let mut errors = Vec::new();
    let seat = match form.seat.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => s
            .parse::<Seat>()
            .map_err(|e| errors.push(FieldError::new("seat", e.to_string())))
            .ok(),
    };
    let team_id = match form.team_id.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(t) => t
            .parse::<TeamId>()
            .map(Some)
            .map_err(|_| errors.push(FieldError::new("team_id", "choose a team from the list")))
            .ok(),
    };
    let is_admin = match (form.is_admin.as_deref(), form.admin_field.is_some()) {
        (Some(v), _) => Some(ticked(Some(v))),
        (None, true) => Some(false),
        (None, false) => None,
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(UserPatch {
        seat,
        team_id,
        is_admin,
        ..UserPatch::default()
    })
}

pub(crate) async fn update(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<UserId>,
    form: Result<PageForm<MemberForm>, Response>,
) -> PageResult {
    let scope = &viewer.scope;
    // The store answers in this order: not visible (404), not an admin (403), bad
    // input. A body that cannot be used keeps that order.
    let patch = match form.map(|PageForm(f)| member_patch(f)) {
        Ok(Ok(patch)) => patch,
        Ok(Err(errors)) => {
            may_change(&state, scope, id).await?;
            let outcome = Outcome::problems(FormErrors::new(errors, MEMBER_LABELS));
            return render(&state, scope, StatusCode::UNPROCESSABLE_ENTITY, outcome).await;
        }
        Err(rejection) => {
            may_change(&state, scope, id).await?;
            return Ok(rejection);
        }
    };
    match state.store.update_user(scope, id, patch).await {
        Ok(_) => Ok(see_other("/settings?done=member_updated")),
        Err(StoreError::Invalid(e)) => {
            let outcome = Outcome::problems(FormErrors::new(vec![e], MEMBER_LABELS));
            render(&state, scope, StatusCode::UNPROCESSABLE_ENTITY, outcome).await
        }
        Err(StoreError::Conflict(code)) => {
            let outcome = Outcome::problem(conflict_text(code));
            render(&state, scope, StatusCode::CONFLICT, outcome).await
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn remove(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<UserId>,
) -> PageResult {
    let scope = &viewer.scope;
    match state.store.remove_user(scope, id).await {
        Ok(()) => Ok(see_other("/settings?done=member_removed")),
        Err(StoreError::Conflict(code)) => {
            let outcome = Outcome::problem(conflict_text(code));
            render(&state, scope, StatusCode::CONFLICT, outcome).await
        }
        Err(e) => Err(e.into()),
    }
}

/// NotFound unless the viewer sees this member; Forbidden unless they are an admin.
async fn may_change(state: &AppState, scope: &Scope, id: UserId) -> Result<(), ApiError> {
    state.store.get_user(scope, id).await?;
    if !scope.is_admin() {
        return Err(ApiError::Forbidden(
            "only an organization admin can change members",
        ));
    }
    Ok(())
}
