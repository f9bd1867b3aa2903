//! Organization settings: members (admins change seat, team and admin rights, or
//! remove someone), teams (admins create them) and invitations (admins and managers),
//! with a link to the integrations (admins and executives) and a warning when one
//! needs attention.
//!
//! Successful changes redirect back with a fixed `?done=` message. A created
//! invitation is the exception: its accept link is shown on the page the POST
//! renders, so the token never lands in a redirect URL, a history entry or a log.
//! Failed forms re-render the page with their errors and a 4xx status.

pub(super) mod audit;
pub(super) mod invitations;
pub(super) mod members;
pub(super) mod teams;

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::{FieldError, Seat, TeamId, UserId};
use serde::Deserialize;
use store::{PageRequest, Scope};

use super::common::{
    Choice, Chrome, FormErrors, PageResult, all_teams, all_users, done_message, when,
};
use crate::extract::PageViewer;
use crate::pages::integrations::Attention;
use crate::{ApiError, AppState};

struct MemberRow {
    id: String,
    name: String,
    email: String,
    seat: String,
    seat_label: &'static str,
    team_id: String,
    team_name: Option<String>,
    is_admin: bool,
    is_you: bool,
}

struct TeamRow {
    id: String,
    name: String,
    manager: Option<String>,
    parent: Option<String>,
    members: i64,
}

struct InvitationRow {
    email: String,
    seat: &'static str,
    team: Option<String>,
    expires: String,
    expired: bool,
}

/// The create-team form as typed.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct TeamForm {
    pub(crate) name: String,
    pub(crate) manager_id: String,
    pub(crate) parent_team_id: String,
}

/// The invitation form as typed.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct InviteForm {
    pub(crate) email: String,
    pub(crate) seat: String,
    pub(crate) team_id: String,
}

/// What the last action left to show on the page.
#[derive(Default)]
pub(crate) struct Outcome {
    notice: Option<&'static str>,
    problems: Vec<String>,
    team_form: TeamForm,
    team_errors: FormErrors,
    invite_form: InviteForm,
    invite_errors: FormErrors,
    invite_link: Option<String>,
    invite_sent_to: Option<String>,
}

impl Outcome {
    pub(crate) fn problems(errors: FormErrors) -> Self {
        Self {
            problems: errors
                .items
                .into_iter()
                .map(|i| format!("{}: {}", i.label, i.message))
                .collect(),
            ..Self::default()
        }
    }

    pub(crate) fn problem(text: &str) -> Self {
        Self {
            problems: vec![text.to_owned()],
            ..Self::default()
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    attention: Vec<Attention>,
    sees_integrations: bool,
    org_name: String,
    is_admin: bool,
    can_invite: bool,
    members: Vec<MemberRow>,
    seats: Vec<Choice>,
    invite_seats: Vec<Choice>,
    team_choices: Vec<Choice>,
    manager_choices: Vec<Choice>,
    teams: Vec<TeamRow>,
    invitations: Vec<InvitationRow>,
    notice: Option<&'static str>,
    problems: Vec<String>,
    team_form: TeamForm,
    team_errors: FormErrors,
    invite_form: InviteForm,
    invite_errors: FormErrors,
    invite_link: Option<String>,
    invite_sent_to: Option<String>,
}

fn seat_choices(seats: &[Seat]) -> Vec<Choice> {
    seats
        .iter()
        .map(|s| Choice {
            value: s.as_str().to_owned(),
            label: s.label().to_owned(),
        })
        .collect()
}

/// Render the settings page as the viewer sees it, with what the last action left.
pub(crate) async fn render(
    state: &AppState,
    scope: &Scope,
    status: StatusCode,
    outcome: Outcome,
) -> PageResult {
    let org = state.store.organization(scope).await?;
    let users = all_users(state, scope).await?;
    let teams = all_teams(state, scope).await?;
    let first = PageRequest::new(Some(200), None).map_err(|_| ApiError::Internal)?;
    let invitations = state.store.list_invitations(scope, &first).await?;
    let team_names: HashMap<TeamId, &str> = teams.iter().map(|t| (t.id, t.name.as_str())).collect();
    let user_names: HashMap<UserId, &str> = users.iter().map(|u| (u.id, u.name.as_str())).collect();
    let team_name =
        |id: Option<TeamId>| id.and_then(|t| team_names.get(&t).map(|n| (*n).to_owned()));
    let now = state.store.clock().now();
    let can_invite = scope.is_admin() || scope.seat() == Seat::Manager;
    let page = SettingsPage {
        chrome: Chrome::new(state, scope, "settings"),
        attention: Attention::load(state, scope).await?,
        sees_integrations: scope.is_admin() || scope.seat() == Seat::Executive,
        org_name: org.name,
        is_admin: scope.is_admin(),
        can_invite,
        members: users
            .iter()
            .map(|u| MemberRow {
                id: u.id.to_string(),
                name: u.name.clone(),
                email: u.email.clone(),
                seat: u.seat.as_str().to_owned(),
                seat_label: u.seat.label(),
                team_id: u.team_id.map(|t| t.to_string()).unwrap_or_default(),
                team_name: team_name(u.team_id),
                is_admin: u.is_admin,
                is_you: u.id == scope.user_id(),
            })
            .collect(),
        seats: seat_choices(&Seat::ALL),
        invite_seats: if scope.is_admin() {
            seat_choices(&Seat::ALL)
        } else {
            seat_choices(&[Seat::Rep])
        },
        team_choices: teams
            .iter()
            .map(|t| Choice {
                value: t.id.to_string(),
                label: t.name.clone(),
            })
            .collect(),
        manager_choices: users
            .iter()
            .map(|u| Choice {
                value: u.id.to_string(),
                label: format!("{} ({})", u.name, u.seat.label()),
            })
            .collect(),
        teams: teams
            .iter()
            .map(|t| TeamRow {
                id: t.id.to_string(),
                name: t.name.clone(),
                manager: t
                    .manager_id
                    .and_then(|m| user_names.get(&m).map(|n| (*n).to_owned())),
                parent: team_name(t.parent_team_id),
                members: t.member_count,
            })
            .collect(),
        invitations: invitations
            .items
            .iter()
            .map(|i| InvitationRow {
                email: i.email.clone(),
                seat: i.seat.label(),
                team: team_name(i.team_id),
                expires: when(i.expires_at),
                expired: i.expires_at <= now,
            })
            .collect(),
        notice: outcome.notice,
        problems: outcome.problems,
        team_form: outcome.team_form,
        team_errors: outcome.team_errors,
        invite_form: InviteForm {
            // Most invitations are for reps: preselect that seat.
            seat: if outcome.invite_form.seat.is_empty() {
                Seat::Rep.as_str().to_owned()
            } else {
                outcome.invite_form.seat
            },
            ..outcome.invite_form
        },
        invite_errors: outcome.invite_errors,
        invite_link: outcome.invite_link,
        invite_sent_to: outcome.invite_sent_to,
    };
    Ok((status, page).into_response())
}

pub(super) async fn index(
    State(state): State<AppState>,
    viewer: PageViewer,
    RawQuery(query): RawQuery,
) -> PageResult {
    let outcome = Outcome {
        notice: done_message(query.as_deref()),
        ..Outcome::default()
    };
    render(&state, &viewer.scope, StatusCode::OK, outcome).await
}

/// An optional id from a `<select>`: empty means none.
pub(crate) fn optional_id<T: std::str::FromStr>(
    raw: &str,
    field: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    if raw.is_empty() {
        return None;
    }
    raw.parse()
        .map_err(|_| errors.push(FieldError::new(field, "choose one from the list")))
        .ok()
}
