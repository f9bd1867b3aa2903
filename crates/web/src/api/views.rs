//! JSON shapes of the API. Every object carries its `id`; times are RFC 3339 UTC.

use serde::{Deserialize, Serialize};
use store::{Invitation, Org, SessionInfo, Team, User};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

/// Epoch seconds as RFC 3339.
pub fn iso(ts: i64) -> String {
    OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// A page of a list.
#[derive(Serialize, ToSchema)]
pub struct ListView<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> ListView<T> {
    pub fn from_page<S>(page: store::Page<S>, f: impl Fn(S) -> T) -> Self {
        Self {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

/// An organization.
#[derive(Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub time_zone: String,
    pub created_at: String,
}

impl From<Org> for OrganizationView {
    fn from(o: Org) -> Self {
        Self {
            id: o.id.to_string(),
            name: o.name,
            industry: o.industry,
            time_zone: o.time_zone,
            created_at: iso(o.created_at),
        }
    }
}

/// A member of an organization.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub name: String,
    pub email: String,
    /// `executive`, `manager` or `rep`.
    pub seat: String,
    pub organization_id: String,
    pub team_id: Option<String>,
    pub manager_id: Option<String>,
    pub is_admin: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name,
            email: u.email,
            seat: u.seat.as_str().into(),
            organization_id: u.org_id.to_string(),
            team_id: u.team_id.map(|t| t.to_string()),
            manager_id: u.manager_id.map(|m| m.to_string()),
            is_admin: u.is_admin,
            created_at: iso(u.created_at),
            updated_at: iso(u.updated_at),
        }
    }
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            name: u.name.clone(),
            email: u.email.clone(),
            seat: u.seat.as_str().into(),
            organization_id: u.org_id.to_string(),
            team_id: u.team_id.map(|t| t.to_string()),
            manager_id: u.manager_id.map(|m| m.to_string()),
            is_admin: u.is_admin,
            created_at: iso(u.created_at),
            updated_at: iso(u.updated_at),
        }
    }
}

/// A team.
#[derive(Serialize, ToSchema)]
pub struct TeamView {
    pub id: String,
    pub name: String,
    pub manager_id: Option<String>,
    pub parent_team_id: Option<String>,
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Team> for TeamView {
    fn from(t: Team) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            manager_id: t.manager_id.map(|m| m.to_string()),
            parent_team_id: t.parent_team_id.map(|p| p.to_string()),
            member_count: t.member_count,
            created_at: iso(t.created_at),
            updated_at: iso(t.updated_at),
        }
    }
}

/// An invitation. `token` and `accept_url` are only returned when it is created.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub seat: String,
    pub team_id: Option<String>,
    pub invited_by: String,
    pub expires_at: String,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_url: Option<String>,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        Self {
            id: i.id.to_string(),
            email: i.email,
            seat: i.seat.as_str().into(),
            team_id: i.team_id.map(|t| t.to_string()),
            invited_by: i.invited_by.to_string(),
            expires_at: iso(i.expires_at),
            created_at: iso(i.created_at),
            token: None,
            accept_url: None,
        }
    }
}

/// One of your login sessions.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    pub id: String,
    pub user_agent: String,
    pub ip: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub expires_at: String,
    /// The session this request was made with.
    pub current: bool,
}

impl From<SessionInfo> for SessionView {
    fn from(s: SessionInfo) -> Self {
        Self {
            id: s.id.to_string(),
            user_agent: s.user_agent,
            ip: s.ip,
            created_at: iso(s.created_at),
            last_seen_at: iso(s.last_seen_at),
            expires_at: iso(s.expires_at),
            current: s.current,
        }
    }
}

/// Tokens from login and refresh.
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Exchange at /auth/refresh for a new access token; rotated on every use.
    pub refresh_token: String,
}

impl From<&crate::flows::Tokens> for TokenView {
    fn from(t: &crate::flows::Tokens) -> Self {
        Self {
            access_token: t.access_token.clone(),
            token_type: "Bearer".into(),
            expires_in: t.expires_in,
            refresh_token: t.refresh_token.clone(),
        }
    }
}

/// Signup and invitation-accept result.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    pub user: UserView,
    pub organization: OrganizationView,
    pub access_token: String,
    pub token_type: String,
    pub expires_in: u64,
    pub refresh_token: String,
}

/// `GET /me`.
#[derive(Serialize, ToSchema)]
pub struct MeView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub seat: String,
    pub organization_id: String,
    pub team_id: Option<String>,
    pub manager_id: Option<String>,
    pub is_admin: bool,
    pub organization: OrganizationView,
    /// Send as `X-CSRF-Token` on state-changing calls made with the session cookie.
    pub csrf_token: String,
}

/// A JSON value that may be absent (leave as is), null (clear) or a value (set).
#[derive(Debug, Default, Clone)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            Some(v) => Patch::Value(v),
            None => Patch::Null,
        })
    }
}
