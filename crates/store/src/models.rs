//! Rows as the rest of the application sees them, and their decoding from `Any` rows.

use std::str::FromStr;

use domain::{InvitationId, OrgId, Seat, SessionId, TeamId, UserId};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::StoreError;

pub(crate) fn parse<T: FromStr>(row: &AnyRow, col: &str) -> Result<T, StoreError> {
    let raw: String = row.try_get(col)?;
    raw.parse()
        .map_err(|_| StoreError::Corrupt(format!("column {col} holds {raw:?}")))
}

pub(crate) fn parse_opt<T: FromStr>(row: &AnyRow, col: &str) -> Result<Option<T>, StoreError> {
    let raw: Option<String> = row.try_get(col)?;
    raw.map(|r| {
        r.parse()
            .map_err(|_| StoreError::Corrupt(format!("column {col} holds {r:?}")))
    })
    .transpose()
}

/// An organization.
#[derive(Clone, Debug)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub industry: String,
    pub time_zone: String,
    pub created_at: i64,
}

impl Org {
    pub(crate) const COLUMNS: &'static str = "id, name, industry, time_zone, created_at";

    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(row, "id")?,
            name: row.try_get("name")?,
            industry: row.try_get("industry")?,
            time_zone: row.try_get("time_zone")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// A member of an organization.
#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub org_id: OrgId,
    pub name: String,
    pub email: String,
    pub seat: Seat,
    pub team_id: Option<TeamId>,
    pub manager_id: Option<UserId>,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl User {
    pub(crate) const COLUMNS: &'static str = "u.id, u.org_id, u.name, u.email, u.seat, u.team_id, \
        u.manager_id, u.is_admin, u.disabled_at, u.created_at, u.updated_at";

    /// Users from a JSON array of `[id, org_id, name, email, seat, team_id, manager_id,
    /// is_admin, disabled_at, created_at, updated_at]` arrays (an aggregated page).
    pub(crate) fn from_json_page(json: &str) -> Result<Vec<Self>, StoreError> {
        type Tuple = (
            String,
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
            Option<i64>,
            i64,
            i64,
        );
        let rows: Vec<Tuple> = serde_json::from_str(json)
            .map_err(|e| StoreError::Corrupt(format!("a page of users: {e}")))?;
        fn id<T: FromStr>(text: &str) -> Result<T, StoreError> {
            text.parse()
                .map_err(|_| StoreError::Corrupt(format!("not an id: {text:?}")))
        }
        rows.into_iter()
            .map(|r| {
                Ok(Self {
                    id: id(&r.0)?,
                    org_id: id(&r.1)?,
                    name: r.2,
                    email: r.3,
                    seat: id(&r.4)?,
                    team_id: r.5.as_deref().map(id).transpose()?,
                    manager_id: r.6.as_deref().map(id).transpose()?,
                    is_admin: r.7 != 0,
                    disabled: r.8.is_some(),
                    created_at: r.9,
                    updated_at: r.10,
                })
            })
            .collect()
    }

    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        let is_admin: i64 = row.try_get("is_admin")?;
        let disabled_at: Option<i64> = row.try_get("disabled_at")?;
        Ok(Self {
            id: parse(row, "id")?,
            org_id: parse(row, "org_id")?,
            name: row.try_get("name")?,
            email: row.try_get("email")?,
            seat: parse(row, "seat")?,
            team_id: parse_opt(row, "team_id")?,
            manager_id: parse_opt(row, "manager_id")?,
            is_admin: is_admin != 0,
            disabled: disabled_at.is_some(),
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// A team.
#[derive(Clone, Debug)]
pub struct Team {
    pub id: TeamId,
    pub org_id: OrgId,
    pub name: String,
    pub manager_id: Option<UserId>,
    pub parent_team_id: Option<TeamId>,
    pub member_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Team {
    /// Needs the visibility binds ($1..$4) and the `managed` CTE: the member count
    /// counts only the members this viewer may see (AC-05).
    pub(crate) const COLUMNS: &'static str = concat!(
        "t.id, t.org_id, t.name, t.manager_id, t.parent_team_id, t.created_at, t.updated_at, \
         (SELECT COUNT(*) FROM users u WHERE u.team_id = t.id AND u.disabled_at IS NULL AND ",
        crate::user_visible!(),
        ") AS member_count"
    );

    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(row, "id")?,
            org_id: parse(row, "org_id")?,
            name: row.try_get("name")?,
            manager_id: parse_opt(row, "manager_id")?,
            parent_team_id: parse_opt(row, "parent_team_id")?,
            member_count: row.try_get("member_count")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// An invitation to join an organization.
#[derive(Clone, Debug)]
pub struct Invitation {
    pub id: InvitationId,
    pub org_id: OrgId,
    pub email: String,
    pub seat: Seat,
    pub team_id: Option<TeamId>,
    pub invited_by: UserId,
    pub expires_at: i64,
    pub accepted_at: Option<i64>,
    pub created_at: i64,
}

impl Invitation {
    pub(crate) const COLUMNS: &'static str =
        "id, org_id, email, seat, team_id, invited_by, expires_at, accepted_at, created_at";

    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: parse(row, "id")?,
            org_id: parse(row, "org_id")?,
            email: row.try_get("email")?,
            seat: parse(row, "seat")?,
            team_id: parse_opt(row, "team_id")?,
            invited_by: parse(row, "invited_by")?,
            expires_at: row.try_get("expires_at")?,
            accepted_at: row.try_get("accepted_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// One of a user's login sessions, as shown on the security page.
#[derive(Clone, Debug)]
pub struct SessionInfo {
    pub id: SessionId,
    pub user_agent: String,
    pub ip: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub current: bool,
}
