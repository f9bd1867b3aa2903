//! Teams: who manages whom. Teams nest; a manager of a parent team manages the
//! children too (see `domain::managed_teams`).

use domain::{TeamEdge, TeamId, UserId};

use crate::audit::Event;
use crate::models::{parse, parse_opt};
use crate::scope::{MANAGED_TEAMS_CTE, TEAM_VISIBLE};
use crate::users::visible_user;
use crate::{Page, PageRequest, Scope, Store, StoreError, Team};
use serde_json::json;

/// A new team.
#[derive(Debug, Clone)]
pub struct NewTeam {
    pub name: String,
    pub manager_id: Option<UserId>,
    pub parent_team_id: Option<TeamId>,
}

/// Changes to a team; `Some(None)` clears a link.
#[derive(Debug, Default, Clone)]
pub struct TeamPatch {
    pub name: Option<String>,
    pub manager_id: Option<Option<UserId>>,
    pub parent_team_id: Option<Option<TeamId>>,
}

impl Store {
    /// The teams this viewer sees, one page (from the cached directory when there is
    /// one).
    pub async fn list_teams(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<Team>, StoreError> {
        if let Some(directory) = self.directory(scope).await? {
            return Ok(directory.teams_page(scope, page));
        }
        self.list_teams_sql(scope, page).await
    }

    /// [`Store::list_teams`] as SQL, without the directory.
    #[doc(hidden)]
    pub async fn list_teams_sql(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<Team>, StoreError> {
        let sql = format!(
            "{MANAGED_TEAMS_CTE} SELECT {} FROM teams t WHERE {TEAM_VISIBLE} AND t.id > $6 ORDER BY t.id LIMIT $7",
            Team::COLUMNS
        );
        let mut tx = self.org_read(&scope.org()).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .bind(scope.user())
            .bind(scope.all_flag())
            .bind(scope.manager_flag())
            .bind(own_team(scope))
            .bind(page.after_or_start())
            .bind(page.fetch())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let teams = rows
            .iter()
            .map(Team::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(teams, page.limit, |t| t.id.to_string()))
    }

    /// One team, if visible (from the cached directory when there is one).
    pub async fn get_team(&self, scope: &Scope, id: TeamId) -> Result<Team, StoreError> {
        if let Some(directory) = self.directory(scope).await? {
            return directory.team(scope, id).ok_or(StoreError::NotFound);
        }
        self.get_team_sql(scope, id).await
    }

    /// [`Store::get_team`] as SQL, without the directory.
    #[doc(hidden)]
    pub async fn get_team_sql(&self, scope: &Scope, id: TeamId) -> Result<Team, StoreError> {
        let mut tx = self.org_read(&scope.org()).await?;
        let team = visible_team(&mut tx, scope, id).await?;
        tx.commit().await?;
        Ok(team)
    }

    /// The visible members of a team.
    pub async fn team_members(
        &self,
        scope: &Scope,
        id: TeamId,
    ) -> Result<Vec<crate::User>, StoreError> {
        let mut tx = self.org_read(&scope.org()).await?;
        visible_team(&mut tx, scope, id).await?;
        let sql = format!(
            "{MANAGED_TEAMS_CTE} SELECT {} FROM users u WHERE {} AND u.team_id = $5 AND u.disabled_at IS NULL ORDER BY u.name LIMIT 500",
            crate::User::COLUMNS,
            crate::scope::USER_VISIBLE
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .bind(scope.user())
            .bind(scope.all_flag())
            .bind(scope.manager_flag())
            .bind(id.to_string())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter().map(crate::User::from_row).collect()
    }

    /// Create a team. Admins only.
    pub async fn create_team(&self, scope: &Scope, new: NewTeam) -> Result<Team, StoreError> {
        if !scope.is_admin {
            return Err(StoreError::Forbidden(
                "only an organization admin can create teams",
            ));
        }
        let mut tx = self.org_tx(&scope.org()).await?;
        if let Some(manager) = new.manager_id {
            visible_user(&mut tx, scope, manager).await.map_err(|_| {
                StoreError::invalid("manager_id", "no such user in this organization")
            })?;
        }
        if let Some(parent) = new.parent_team_id {
            visible_team(&mut tx, scope, parent).await.map_err(|_| {
                StoreError::invalid("parent_team_id", "no such team in this organization")
            })?;
        }
        let id = TeamId::new();
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO teams (id, org_id, name, manager_id, parent_team_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id.to_string())
        .bind(scope.org())
        .bind(new.name)
        .bind(new.manager_id.map(|m| m.to_string()))
        .bind(new.parent_team_id.map(|p| p.to_string()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let team = visible_team(&mut tx, scope, id).await?;
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "team.created")
                .target("team", id)
                .detail(json!({
                    "manager_id": team.manager_id.map(|m| m.to_string()),
                    "parent_team_id": team.parent_team_id.map(|p| p.to_string()),
                })),
        )
        .await?;
        tx.commit().await?;
        Ok(team)
    }

    /// Rename a team or change its manager or parent. Admins only; a parent that would
    /// make a cycle is refused.
    pub async fn update_team(
        &self,
        scope: &Scope,
        id: TeamId,
        patch: TeamPatch,
    ) -> Result<Team, StoreError> {
        let mut tx = self.org_tx(&scope.org()).await?;
        let current = visible_team(&mut tx, scope, id).await?;
        if !scope.is_admin {
            return Err(StoreError::Forbidden(
                "only an organization admin can change teams",
            ));
        }
        if let Some(Some(manager)) = patch.manager_id {
            visible_user(&mut tx, scope, manager).await.map_err(|_| {
                StoreError::invalid("manager_id", "no such user in this organization")
            })?;
        }
        if let Some(Some(parent)) = patch.parent_team_id {
            visible_team(&mut tx, scope, parent).await.map_err(|_| {
                StoreError::invalid("parent_team_id", "no such team in this organization")
            })?;
            let edges = team_edges(&mut tx, scope).await?;
            if domain::would_cycle(&edges, id, parent) {
                return Err(StoreError::invalid(
                    "parent_team_id",
                    "a team cannot be nested inside itself",
                ));
            }
        }
        let name = patch.name.unwrap_or(current.name.clone());
        let manager = patch.manager_id.unwrap_or(current.manager_id);
        let parent = patch.parent_team_id.unwrap_or(current.parent_team_id);
        sqlx::query(
            "UPDATE teams SET name = $3, manager_id = $4, parent_team_id = $5, updated_at = $6 WHERE org_id = $1 AND id = $2",
        )
        .bind(scope.org())
        .bind(id.to_string())
        .bind(name)
        .bind(manager.map(|m| m.to_string()))
        .bind(parent.map(|p| p.to_string()))
        .bind(self.clock.now())
        .execute(&mut *tx)
        .await?;
        let team = visible_team(&mut tx, scope, id).await?;
        let ids = |t: &Team| {
            json!({
                "name": t.name,
                "manager_id": t.manager_id.map(|m| m.to_string()),
                "parent_team_id": t.parent_team_id.map(|p| p.to_string()),
            })
        };
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "team.updated")
                .target("team", id)
                .detail(json!({ "from": ids(&current), "to": ids(&team) })),
        )
        .await?;
        tx.commit().await?;
        Ok(team)
    }
}

fn own_team(scope: &Scope) -> String {
    scope.team_id.map(|t| t.to_string()).unwrap_or_default()
}

pub(crate) async fn visible_team(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    id: TeamId,
) -> Result<Team, StoreError> {
    let sql = format!(
        "{MANAGED_TEAMS_CTE} SELECT {} FROM teams t WHERE {TEAM_VISIBLE} AND t.id = $6",
        Team::COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(scope.org())
        .bind(scope.user())
        .bind(scope.all_flag())
        .bind(scope.manager_flag())
        .bind(own_team(scope))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    Team::from_row(&row)
}

pub(crate) async fn team_edges(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
) -> Result<Vec<TeamEdge>, StoreError> {
    let rows = sqlx::query("SELECT id, manager_id, parent_team_id FROM teams WHERE org_id = $1")
        .bind(scope.org())
        .fetch_all(&mut *tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TeamEdge {
                id: parse(r, "id")?,
                manager_id: parse_opt(r, "manager_id")?,
                parent_team_id: parse_opt(r, "parent_team_id")?,
            })
        })
        .collect()
}
