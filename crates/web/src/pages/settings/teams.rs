//! `POST /settings/teams`: an admin creates a team, optionally with a manager and a
//! parent team.

use axum::extract::State;
use axum::http::StatusCode;
use domain::{FieldError, PersonName};
use store::{NewTeam, StoreError};

use super::{Outcome, TeamForm, optional_id, render};
use crate::extract::PageViewer;
use crate::pages::common::{FormErrors, PageForm, PageResult, see_other};
use crate::{ApiError, AppState};

const TEAM_LABELS: &[(&str, &str)] = &[
    ("name", "Team name"),
    ("manager_id", "Manager"),
    ("parent_team_id", "Part of"),
];

pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: PageViewer,
    PageForm(form): PageForm<TeamForm>,
) -> PageResult {
    let scope = &viewer.scope;
    if !scope.is_admin() {
        return Err(ApiError::Forbidden("only an organization admin can create teams").into());
    }
    let mut errors = Vec::new();
    let name = PersonName::parse(&form.name)
        .map_err(|m| errors.push(FieldError::new("name", m)))
        .ok();
    let manager_id = optional_id(&form.manager_id, "manager_id", &mut errors);
    let parent_team_id = optional_id(&form.parent_team_id, "parent_team_id", &mut errors);
    if let (Some(name), true) = (name, errors.is_empty()) {
        let new = NewTeam {
            name: name.into_string(),
            manager_id,
            parent_team_id,
        };
        match state.store.create_team(scope, new).await {
            Ok(_) => return Ok(see_other("/settings?done=team_created")),
            Err(StoreError::Invalid(e)) => errors.push(e),
            Err(e) => return Err(e.into()),
        }
    }
    let outcome = Outcome {
        team_errors: FormErrors::new(errors, TEAM_LABELS),
        team_form: form,
        ..Outcome::default()
    };
    render(&state, scope, StatusCode::UNPROCESSABLE_ENTITY, outcome).await
}
