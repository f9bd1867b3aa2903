//! The viewer's scope: who is asking, in which organization, with which seat. Only
//! [`crate::Store::authenticate`] and the signup/accept paths construct one, so no code
//! outside this crate can query tenant data without having authenticated someone.

use domain::{OrgId, Seat, SessionId, TeamId, UserId};

/// An authenticated viewer. Fields are private: the scope cannot be forged.
#[derive(Clone, Debug)]
pub struct Scope {
    pub(crate) org_id: OrgId,
    pub(crate) user_id: UserId,
    pub(crate) session_id: SessionId,
    pub(crate) seat: Seat,
    pub(crate) is_admin: bool,
    pub(crate) team_id: Option<TeamId>,
    pub(crate) name: String,
    pub(crate) email: String,
    /// The organization's membership directory version, read with the session (see
    /// [`crate::directory`]).
    pub(crate) directory_version: i64,
    /// Where the current request comes from, for the audit log.
    pub(crate) origin: crate::Origin,
}

impl Scope {
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }
    pub fn user_id(&self) -> UserId {
        self.user_id
    }
    pub fn session_id(&self) -> SessionId {
        self.session_id
    }
    pub fn seat(&self) -> Seat {
        self.seat
    }
    pub fn is_admin(&self) -> bool {
        self.is_admin
    }
    pub fn team_id(&self) -> Option<TeamId> {
        self.team_id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn email(&self) -> &str {
        &self.email
    }
    /// The organization's directory version as of this request's session check.
    pub fn directory_version(&self) -> i64 {
        self.directory_version
    }

    /// The same viewer, acting from `origin` (the web layer sets the request's address,
    /// user agent and id; they go into every audit entry the viewer causes).
    pub fn with_origin(mut self, origin: crate::Origin) -> Self {
        self.origin = origin;
        self
    }

    pub fn origin(&self) -> &crate::Origin {
        &self.origin
    }

    /// Sees the whole membership directory (executives and admins).
    pub fn sees_everyone(&self) -> bool {
        self.seat == Seat::Executive || self.is_admin
    }

    pub(crate) fn org(&self) -> String {
        self.org_id.to_string()
    }
    pub(crate) fn user(&self) -> String {
        self.user_id.to_string()
    }
    /// The "sees everyone" flag as a bind value for the visibility SQL.
    pub(crate) fn all_flag(&self) -> i64 {
        i64::from(self.sees_everyone())
    }
    pub(crate) fn manager_flag(&self) -> i64 {
        i64::from(self.seat == Seat::Manager)
    }
}

/// The teams a viewer manages, transitively: `$1` = org id, `$2` = viewer id.
pub(crate) const MANAGED_TEAMS_CTE: &str = "WITH RECURSIVE managed(id) AS ( \
      SELECT id FROM teams WHERE org_id = $1 AND manager_id = $2 \
      UNION SELECT t.id FROM teams t JOIN managed m ON t.parent_team_id = m.id WHERE t.org_id = $1 ) ";

/// Which users (alias `u`) a viewer sees: `$1` org, `$2` viewer, `$3` sees-everyone
/// flag, `$4` manager flag (see [`crate::user_visible`]).
pub(crate) const USER_VISIBLE: &str = crate::user_visible!();

/// Which teams (alias `t`) a viewer sees: the same binds; managers see the teams they
/// manage and their own team, reps their own team. `$5` = the viewer's team id or ''.
pub(crate) const TEAM_VISIBLE: &str =
    "t.org_id = $1 AND ( $3 = 1 OR t.id = $5 OR ( $4 = 1 AND t.id IN (SELECT id FROM managed) ) )";
