//! The signed-in overview: the dashboard, the team list, a team and a person. A person's
//! page shows their open pipeline by stage, recent activities and stale deals from the
//! CRM; a team's page each member's open pipeline and stale deals ([`super::crm_panels`]).
//! The dashboard and settings warn admins and executives when an integration needs
//! attention.
//!
//! Everything shown comes from the viewer's [`store::Scope`], so a page never lists a
//! person or team the seat may not see; a linked manager or team the viewer may not see
//! is shown as such, never looked up outside the scope.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use domain::{TeamId, UserId};
use store::{PageRequest, Scope, StoreError, Team, User};

use super::common::{
    Chrome, PageForm, PageResult, PathId, all_teams, all_users, done_message, optional, see_other,
};
use super::crm_panels::{MemberPipeline, RepPanels, member_pipeline, rep_panels};
use super::integrations::Attention;
use crate::extract::PageViewer;
use crate::{ApiError, AppState};

/// How many teams and people the dashboard lists before linking to the full lists.
const DASHBOARD_LIST: u32 = 50;

/// A link to a team or person.
struct Link {
    id: String,
    name: String,
}

impl Link {
    fn team(t: &Team) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name.clone(),
        }
    }

    fn user(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name.clone(),
        }
    }
}

struct TeamRow {
    id: String,
    name: String,
    members: i64,
    manager: Option<Link>,
}

struct PersonRow {
    id: String,
    name: String,
    seat: &'static str,
    is_you: bool,
}

impl PersonRow {
    fn new(u: &User, scope: &Scope) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name.clone(),
            seat: u.seat.label(),
            is_you: u.id == scope.user_id(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    attention: Vec<Attention>,
    name: String,
    seat: &'static str,
    is_admin: bool,
    org_name: String,
    own_team: Option<Link>,
    teams: Vec<TeamRow>,
    teams_more: bool,
    people: Vec<PersonRow>,
    people_more: bool,
}

pub(super) async fn index(
    State(state): State<AppState>,
    viewer: PageViewer,
    RawQuery(query): RawQuery,
) -> PageResult {
    let scope = &viewer.scope;
    let first =
        PageRequest::new(Some(DASHBOARD_LIST), None).map_err(|_| crate::ApiError::Internal)?;
    let org = state.store.organization(scope).await?;
    let teams = state.store.list_teams(scope, &first).await?;
    let people = state.store.list_users(scope, &first).await?;
    let own_team = match scope.team_id() {
        Some(id) => optional(state.store.get_team(scope, id).await)?.map(|t| Link::team(&t)),
        None => None,
    };
    Ok(DashboardPage {
        chrome: Chrome::new(&state, scope, "dashboard"),
        notice: done_message(query.as_deref()),
        attention: Attention::load(&state, scope).await?,
        name: scope.name().to_owned(),
        seat: scope.seat().label(),
        is_admin: scope.is_admin(),
        org_name: org.name,
        own_team,
        teams_more: teams.next_cursor.is_some(),
        teams: teams
            .items
            .iter()
            .map(|t| TeamRow {
                id: t.id.to_string(),
                name: t.name.clone(),
                members: t.member_count,
                manager: None,
            })
            .collect(),
        people_more: people.next_cursor.is_some(),
        people: people
            .items
            .iter()
            .map(|u| PersonRow::new(u, scope))
            .collect(),
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "teams.html")]
struct TeamsPage {
    chrome: Chrome,
    is_admin: bool,
    teams: Vec<TeamRow>,
}

pub(super) async fn teams(State(state): State<AppState>, viewer: PageViewer) -> PageResult {
    let scope = &viewer.scope;
    let teams = all_teams(&state, scope).await?;
    let people = all_users(&state, scope).await?;
    let manager = |id: Option<UserId>| {
        id.and_then(|id| people.iter().find(|u| u.id == id))
            .map(Link::user)
    };
    let rows = teams
        .iter()
        .map(|t| TeamRow {
            id: t.id.to_string(),
            name: t.name.clone(),
            members: t.member_count,
            manager: manager(t.manager_id),
        })
        .collect();
    Ok(TeamsPage {
        chrome: Chrome::new(&state, scope, "teams"),
        is_admin: scope.is_admin(),
        teams: rows,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "team.html")]
struct TeamPage {
    chrome: Chrome,
    name: String,
    manager: Option<Link>,
    manager_hidden: bool,
    parent: Option<Link>,
    members: Vec<PersonRow>,
    /// Each member's open pipeline and stale deals, in `members` order.
    pipelines: Vec<MemberPipeline>,
    stale_days: i64,
}

pub(super) async fn team(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<TeamId>,
) -> PageResult {
    let scope = &viewer.scope;
    let team = state.store.get_team(scope, id).await?;
    let members = state.store.team_members(scope, id).await?;
    let (manager, manager_hidden) = linked_user(&state, scope, team.manager_id).await?;
    let mut pipelines = Vec::with_capacity(members.len());
    for member in &members {
        pipelines.push(member_pipeline(&state, scope, member.id).await?);
    }
    let parent = match team.parent_team_id {
        Some(p) => optional(state.store.get_team(scope, p).await)?.map(|t| Link::team(&t)),
        None => None,
    };
    Ok(TeamPage {
        chrome: Chrome::new(&state, scope, "teams"),
        name: team.name,
        manager,
        manager_hidden,
        parent,
        members: members.iter().map(|u| PersonRow::new(u, scope)).collect(),
        pipelines,
        stale_days: super::crm_panels::STALE_DAYS,
    }
    .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "rep.html")]
struct RepPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    id: String,
    notes: Vec<NoteItem>,
    can_write_notes: bool,
    name: String,
    seat: &'static str,
    is_you: bool,
    team: Option<Link>,
    manager: Option<Link>,
    manager_hidden: bool,
    crm: RepPanels,
}

/// A coaching note as the rep page lists it.
struct NoteItem {
    author: String,
    shared: bool,
    created: String,
    body: String,
}

pub(super) async fn rep(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<UserId>,
    RawQuery(query): RawQuery,
) -> PageResult {
    let scope = &viewer.scope;
    let person = state.store.get_user(scope, id).await?;
    let page = PageRequest::new(Some(200), None).map_err(|m| ApiError::BadRequest(m.into()))?;
    let mut notes = Vec::new();
    for note in state
        .store
        .list_notes_about(scope, id, &page)
        .await?
        .items
        .into_iter()
        .rev()
    {
        let author = if note.author_id == scope.user_id() {
            "You".to_owned()
        } else {
            optional(state.store.get_user(scope, note.author_id).await)?
                .map_or_else(|| "Someone you cannot see".to_owned(), |u| u.name)
        };
        notes.push(NoteItem {
            author,
            shared: note.visibility == store::NoteVisibility::Shared,
            created: crate::api::views::iso(note.created_at),
            body: note.body,
        });
    }
    let can_write_notes = person.id == scope.user_id() || scope.seat() != domain::Seat::Rep;
    let team = match person.team_id {
        Some(t) => optional(state.store.get_team(scope, t).await)?,
        None => None,
    };
    // A person's own manager, else their team's manager (a manager does not manage
    // themself).
    let manager_id = person.manager_id.or_else(|| {
        team.as_ref()
            .and_then(|t| t.manager_id)
            .filter(|m| *m != person.id)
    });
    let (manager, manager_hidden) = linked_user(&state, scope, manager_id).await?;
    let crm = rep_panels(&state, scope, person.id).await?;
    Ok(RepPage {
        chrome: Chrome::new(&state, scope, "dashboard"),
        notice: done_message(query.as_deref()),
        id: person.id.to_string(),
        notes,
        can_write_notes,
        seat: person.seat.label(),
        is_you: person.id == scope.user_id(),
        name: person.name,
        team: team.as_ref().map(Link::team),
        manager,
        manager_hidden,
        crm,
    }
    .into_response())
}

/// A linked person, if the viewer may see them; `(None, true)` if there is one the
/// viewer may not see.
async fn linked_user(
    state: &AppState,
    scope: &Scope,
    id: Option<UserId>,
) -> Result<(Option<Link>, bool), StoreError> {
    let Some(id) = id else {
        return Ok((None, false));
    };
    let user = optional(state.store.get_user(scope, id).await)?;
    let hidden = user.is_none();
    Ok((user.as_ref().map(Link::user), hidden))
}

/// The note form on the rep page.
#[derive(serde::Deserialize, Default)]
pub(super) struct NoteForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    visibility: String,
}

/// `POST /reps/{id}/notes`: write a coaching note about this person.
pub(super) async fn create_note(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<UserId>,
    PageForm(form): PageForm<NoteForm>,
) -> PageResult {
    // Visibility first: someone this viewer may not see is a 404 whatever the form says.
    state.store.get_user(&viewer.scope, id).await?;
    let new = crate::api::notes::new_note(&id.to_string(), &form.body, &form.visibility)?;
    state.store.create_note(&viewer.scope, new).await?;
    Ok(see_other(&format!("/reps/{id}?done=note_saved")))
}
