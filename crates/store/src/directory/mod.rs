//! The membership directory of an organization (its active users and its teams), cached
//! in memory per instance and keyed by the organization's directory version.
//!
//! Every insert, update or delete on `users` or `teams` bumps
//! `organizations.directory_version` in the same transaction (triggers, migration 0005),
//! and every request's session check returns the current version in the same round
//! trip. A cached directory is used only when its version equals the one just read, so
//! a change committed through any instance is visible on every instance's very next
//! request. Visibility is then filtered in memory with the rule of the SQL
//! ([`crate::user_visible`], `TEAM_VISIBLE` in `scope.rs`, and `domain::managed_teams`
//! for nested teams); see `docs/decisions/0007-directory-cache.md`.

mod cache;
mod pages;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use domain::{OrgId, Seat, TeamEdge, TeamId, UserId};
use sqlx::Row;

use cache::Cached;
pub(crate) use cache::DirectoryCache;

use crate::{Dialect, Page, PageRequest, Scope, Store, StoreError, Team, User};

/// The most organizations one instance keeps directories of (least recently used go).
pub const MAX_CACHED_ORGS: usize = 256;
/// The most users all cached directories hold together (least recently used go).
pub const MAX_CACHED_USERS: usize = 100_000;
/// An organization with more active users than this is not cached: its directory
/// reads run as SQL.
pub const MAX_DIRECTORY_USERS: usize = 20_000;

/// One active member of a directory version, shared by every request that reads it.
#[derive(Debug)]
pub struct Member {
    user: User,
    id_text: Box<str>,
    rendered: OnceLock<Box<str>>,
}

impl Member {
    pub(crate) fn new(user: User) -> Self {
        Self {
            id_text: user.id.to_string().into_boxed_str(),
            user,
            rendered: OnceLock::new(),
        }
    }

    /// The member.
    pub fn user(&self) -> &User {
        &self.user
    }

    /// The member rendered by `render`, made on first use and kept as long as this
    /// directory version is cached. One rendering per member: the API's user view is
    /// its only caller, so every caller must render the same way.
    pub fn rendered(&self, render: impl FnOnce(&User) -> String) -> &str {
        self.rendered
            .get_or_init(|| render(&self.user).into_boxed_str())
    }
}

/// A team as stored (its member count depends on the viewer).
#[derive(Debug)]
struct TeamRow {
    id: TeamId,
    id_text: Box<str>,
    org_id: OrgId,
    name: String,
    manager_id: Option<UserId>,
    parent_team_id: Option<TeamId>,
    created_at: i64,
    updated_at: i64,
}

/// One organization's directory at one version.
#[derive(Debug)]
pub(crate) struct Directory {
    /// Active users, ordered by id as text (the SQL's `ORDER BY u.id`).
    members: Vec<Arc<Member>>,
    index: HashMap<UserId, usize>,
    /// Teams, ordered by id as text.
    teams: Vec<TeamRow>,
    team_index: HashMap<TeamId, usize>,
    edges: Vec<TeamEdge>,
    /// Active members per team (what an executive's member counts show).
    team_sizes: HashMap<TeamId, i64>,
    /// Pages of members rendered from this version (`pages.rs`).
    rendered: pages::RenderedPages,
}

impl Directory {
    fn new(users: Vec<User>, teams: Vec<TeamRow>) -> Self {
        let mut members: Vec<Arc<Member>> = users
            .into_iter()
            .filter(|u| !u.disabled)
            .map(|u| Arc::new(Member::new(u)))
            .collect();
        members.sort_by(|a, b| a.id_text.cmp(&b.id_text));
        let mut teams = teams;
        teams.sort_by(|a, b| a.id_text.cmp(&b.id_text));
        let mut team_sizes = HashMap::new();
        for m in &members {
            if let Some(team) = m.user.team_id {
                *team_sizes.entry(team).or_insert(0) += 1;
            }
        }
        Self {
            index: members
                .iter()
                .enumerate()
                .map(|(i, m)| (m.user.id, i))
                .collect(),
            team_index: teams.iter().enumerate().map(|(i, t)| (t.id, i)).collect(),
            edges: teams
                .iter()
                .map(|t| TeamEdge {
                    id: t.id,
                    manager_id: t.manager_id,
                    parent_team_id: t.parent_team_id,
                })
                .collect(),
            members,
            teams,
            team_sizes,
            rendered: pages::RenderedPages::default(),
        }
    }

    /// How many active members it holds.
    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    /// The users `scope` sees after the page's cursor, in id order, one page.
    pub(crate) fn users_page(&self, scope: &Scope, page: &PageRequest) -> Page<Arc<Member>> {
        let sight = Sight::new(self, scope);
        let start = match &page.after {
            Some(after) => self.members.partition_point(|m| *m.id_text <= **after),
            None => 0,
        };
        let items: Vec<Arc<Member>> = self.members[start..]
            .iter()
            .filter(|m| sight.sees_user(&m.user))
            .take(page.limit as usize + 1)
            .cloned()
            .collect();
        Page::from_rows(items, page.limit, |m| m.id_text.to_string())
    }

    /// One user, if `scope` sees them (disabled users are not in the directory).
    pub(crate) fn user(&self, scope: &Scope, id: UserId) -> Option<&User> {
        let member = &self.members[*self.index.get(&id)?];
        Sight::new(self, scope)
            .sees_user(&member.user)
            .then_some(&member.user)
    }

    /// The teams `scope` sees after the page's cursor, in id order, one page.
    pub(crate) fn teams_page(&self, scope: &Scope, page: &PageRequest) -> Page<Team> {
        let sight = Sight::new(self, scope);
        let start = match &page.after {
            Some(after) => self.teams.partition_point(|t| *t.id_text <= **after),
            None => 0,
        };
        let counts = sight.member_counts(self);
        let items: Vec<Team> = self.teams[start..]
            .iter()
            .filter(|t| sight.sees_team(t))
            .take(page.limit as usize + 1)
            .map(|t| team(t, &counts))
            .collect();
        Page::from_rows(items, page.limit, |t| t.id.to_string())
    }

    /// One team, if `scope` sees it.
    pub(crate) fn team(&self, scope: &Scope, id: TeamId) -> Option<Team> {
        let row = &self.teams[*self.team_index.get(&id)?];
        let sight = Sight::new(self, scope);
        sight
            .sees_team(row)
            .then(|| team(row, &sight.member_counts(self)))
    }
}

fn team(t: &TeamRow, counts: &HashMap<TeamId, i64>) -> Team {
    Team {
        id: t.id,
        org_id: t.org_id,
        name: t.name.clone(),
        manager_id: t.manager_id,
        parent_team_id: t.parent_team_id,
        member_count: counts.get(&t.id).copied().unwrap_or(0),
        created_at: t.created_at,
        updated_at: t.updated_at,
    }
}

/// What one viewer sees: the SQL visibility rule, evaluated in memory.
struct Sight<'a> {
    viewer: UserId,
    own_team: Option<TeamId>,
    all: bool,
    manager: bool,
    /// The teams the viewer manages, transitively (managers only).
    managed: HashSet<TeamId>,
    /// The managers of those teams.
    their_managers: HashSet<UserId>,
    team_sizes: &'a HashMap<TeamId, i64>,
}

impl<'a> Sight<'a> {
    fn new(dir: &'a Directory, scope: &Scope) -> Self {
        let all = scope.sees_everyone();
        let manager = scope.seat == Seat::Manager;
        let (managed, their_managers) = if manager && !all {
            let managed = domain::managed_teams(&dir.edges, scope.user_id);
            let managers = dir
                .edges
                .iter()
                .filter(|t| managed.contains(&t.id))
                .filter_map(|t| t.manager_id)
                .collect();
            (managed, managers)
        } else {
            (HashSet::new(), HashSet::new())
        };
        Self {
            viewer: scope.user_id,
            own_team: scope.team_id,
            all,
            manager,
            managed,
            their_managers,
            team_sizes: &dir.team_sizes,
        }
    }

    /// `user_visible!`: everyone, or themself, or (managers) the members and the
    /// managers of the teams they manage.
    fn sees_user(&self, u: &User) -> bool {
        self.all
            || u.id == self.viewer
            || (self.manager
                && (u.team_id.is_some_and(|t| self.managed.contains(&t))
                    || self.their_managers.contains(&u.id)))
    }

    /// `TEAM_VISIBLE`: every team, or their own team, or (managers) the teams they
    /// manage.
    fn sees_team(&self, t: &TeamRow) -> bool {
        self.all || self.own_team == Some(t.id) || (self.manager && self.managed.contains(&t.id))
    }

    /// Visible active members per team (`Team::COLUMNS`' member count).
    fn member_counts(&self, dir: &Directory) -> HashMap<TeamId, i64> {
        if self.all {
            return self.team_sizes.clone();
        }
        let mut counts = HashMap::new();
        for m in dir.members.iter().filter(|m| self.sees_user(&m.user)) {
            if let Some(team) = m.user.team_id {
                *counts.entry(team).or_insert(0) += 1;
            }
        }
        counts
    }
}

impl Store {
    /// The directory of the viewer's organization: the cached one when its version is
    /// the one the session check just read, else loaded (and cached). `None` when the
    /// organization is too large to cache; callers then run SQL.
    pub(crate) async fn directory(
        &self,
        scope: &Scope,
    ) -> Result<Option<Arc<Directory>>, StoreError> {
        if let Cached::Hit(found) = self.directories.get(scope.org_id, scope.directory_version) {
            return Ok(found);
        }
        // One load at a time per organization: whoever waited finds it loaded.
        let _loading = self.directories.load_lock(scope.org_id).lock().await;
        if let Cached::Hit(found) = self.directories.get(scope.org_id, scope.directory_version) {
            return Ok(found);
        }
        let (version, directory) = self.load_directory(scope).await?;
        self.directories
            .put(scope.org_id, version, directory.clone());
        Ok(directory)
    }

    /// How many organizations this instance has directories of (for tests).
    #[doc(hidden)]
    pub fn cached_directories(&self) -> usize {
        self.directories.len()
    }

    /// Read the whole directory in one statement (one snapshot): the version, the active
    /// users and the teams, each aggregated into one JSON text.
    async fn load_directory(
        &self,
        scope: &Scope,
    ) -> Result<(i64, Option<Arc<Directory>>), StoreError> {
        let (aggregate, array) = match self.dialect {
            Dialect::Sqlite => ("json_group_array", "json_array"),
            Dialect::Postgres => ("json_agg", "json_build_array"),
        };
        // Uncorrelated, so evaluated once: the rows come only when the count fits.
        let fits = format!(
            "(SELECT COUNT(*) FROM users c WHERE c.org_id = $1 AND c.disabled_at IS NULL) <= {MAX_DIRECTORY_USERS}"
        );
        let sql = format!(
            "SELECT o.directory_version, \
             (SELECT COUNT(*) FROM users u WHERE u.org_id = $1 AND u.disabled_at IS NULL) AS active, \
             (SELECT CAST(COALESCE({aggregate}({array}(u.id, u.org_id, u.name, u.email, u.seat, u.team_id, \
                u.manager_id, u.is_admin, u.disabled_at, u.created_at, u.updated_at)), '[]') AS TEXT) \
              FROM users u WHERE u.org_id = $1 AND u.disabled_at IS NULL AND {fits}) AS users, \
             (SELECT CAST(COALESCE({aggregate}({array}(t.id, t.org_id, t.name, t.manager_id, \
                t.parent_team_id, t.created_at, t.updated_at)), '[]') AS TEXT) \
              FROM teams t WHERE t.org_id = $1 AND {fits}) AS teams \
             FROM organizations o WHERE o.id = $1"
        );
        let mut tx = self.org_read(&scope.org()).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let version: i64 = row.try_get(0)?;
        let active: i64 = row.try_get(1)?;
        if usize::try_from(active).unwrap_or(usize::MAX) > MAX_DIRECTORY_USERS {
            return Ok((version, None));
        }
        let users = User::from_json_page(&row.try_get::<String, _>(2)?)?;
        let teams = teams_from_json(&row.try_get::<String, _>(3)?)?;
        Ok((version, Some(Arc::new(Directory::new(users, teams)))))
    }
}

fn teams_from_json(json: &str) -> Result<Vec<TeamRow>, StoreError> {
    type Tuple = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        i64,
    );
    let rows: Vec<Tuple> = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("a directory's teams: {e}")))?;
    fn id<T: std::str::FromStr>(text: &str) -> Result<T, StoreError> {
        text.parse()
            .map_err(|_| StoreError::Corrupt(format!("not an id: {text:?}")))
    }
    rows.into_iter()
        .map(|r| {
            Ok(TeamRow {
                id: id(&r.0)?,
                id_text: r.0.into_boxed_str(),
                org_id: id(&r.1)?,
                name: r.2,
                manager_id: r.3.as_deref().map(id).transpose()?,
                parent_team_id: r.4.as_deref().map(id).transpose()?,
                created_at: r.5,
                updated_at: r.6,
            })
        })
        .collect()
}
