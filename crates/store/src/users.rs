//! Members of an organization, as a viewer may see and change them.

use std::sync::Arc;

use domain::{Seat, TeamId, UserId};

use crate::audit::Event;
use crate::auth::revoke_all;
use crate::scope::{MANAGED_TEAMS_CTE, USER_VISIBLE};
use crate::{Dialect, Member, Page, PageRequest, Scope, Store, StoreError, User};
use serde_json::json;

/// Changes an admin may make to a member. `None` leaves a field as it is; for the
/// optional links, `Some(None)` clears them.
#[derive(Debug, Default, Clone)]
pub struct UserPatch {
    pub name: Option<String>,
    pub seat: Option<Seat>,
    pub team_id: Option<Option<TeamId>>,
    pub manager_id: Option<Option<UserId>>,
    pub is_admin: Option<bool>,
}

impl Store {
    /// The users this viewer sees, oldest first, one page.
    pub async fn list_users(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<User>, StoreError> {
        let members = self.list_members(scope, page).await?;
        Ok(Page {
            items: members.items.iter().map(|m| m.user().clone()).collect(),
            next_cursor: members.next_cursor,
        })
    }

    /// The users this viewer sees, oldest first, one page, as shared directory entries
    /// (no copy; each carries a memo for its rendering). Served from the cached
    /// directory of the organization (see `directory/mod.rs`), or by SQL when it is too large
    /// to cache.
    pub async fn list_members(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<Arc<Member>>, StoreError> {
        if let Some(directory) = self.directory(scope).await? {
            return Ok(directory.users_page(scope, page));
        }
        self.members_sql(scope, page).await
    }

    /// [`Store::list_members`] rendered by `render`. From a cached directory the text
    /// is kept with that version and shared by every request for the same page by the
    /// same viewer (`directory/pages.rs`); `rendering` names the rendering, and every
    /// caller passing one name must render the same way.
    pub async fn rendered_members(
        &self,
        scope: &Scope,
        page: &PageRequest,
        rendering: &'static str,
        render: impl FnOnce(&Page<Arc<Member>>) -> String,
    ) -> Result<Arc<str>, StoreError> {
        if let Some(directory) = self.directory(scope).await? {
            return Ok(directory.rendered_users_page(scope, page, rendering, render));
        }
        Ok(render(&self.members_sql(scope, page).await?).into())
    }

    /// The page of members read by SQL (an organization too large to cache).
    async fn members_sql(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<Arc<Member>>, StoreError> {
        let users = self.list_users_sql(scope, page).await?;
        Ok(Page {
            items: users
                .items
                .into_iter()
                .map(|u| Arc::new(Member::new(u)))
                .collect(),
            next_cursor: users.next_cursor,
        })
    }

    /// [`Store::list_users`] as SQL, without the directory. The page comes back as one
    /// JSON-aggregated row rather than a row per user: each row costs a hand-off from
    /// the driver (a channel message per row for SQLite's connection thread).
    #[doc(hidden)]
    pub async fn list_users_sql(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<User>, StoreError> {
        let (aggregate, array) = match self.dialect {
            Dialect::Sqlite => ("json_group_array", "json_array"),
            Dialect::Postgres => ("json_agg", "json_build_array"),
        };
        let sql = format!(
            "{MANAGED_TEAMS_CTE} SELECT CAST(COALESCE({aggregate}({array}(u.id, u.org_id, u.name, u.email, \
             u.seat, u.team_id, u.manager_id, u.is_admin, u.disabled_at, u.created_at, u.updated_at)), '[]') AS TEXT) AS page \
             FROM (SELECT {} FROM users u WHERE {USER_VISIBLE} AND u.disabled_at IS NULL \
             AND u.id > $5 ORDER BY u.id LIMIT $6) u",
            User::COLUMNS
        );
        let mut tx = self.org_read(&scope.org()).await?;
        let json: String = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .bind(scope.user())
            .bind(scope.all_flag())
            .bind(scope.manager_flag())
            .bind(page.after_or_start())
            .bind(page.fetch())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut users = User::from_json_page(&json)?;
        // The aggregate's order is the subquery's in practice; the page promises it.
        users.sort_by_key(|u| u.id.to_string());
        Ok(Page::from_rows(users, page.limit, |u| u.id.to_string()))
    }

    /// One user, if this viewer sees them; otherwise NotFound.
    pub async fn get_user(&self, scope: &Scope, id: UserId) -> Result<User, StoreError> {
        if let Some(directory) = self.directory(scope).await? {
            return directory
                .user(scope, id)
                .cloned()
                .ok_or(StoreError::NotFound);
        }
        self.get_user_sql(scope, id).await
    }

    /// [`Store::get_user`] as SQL, without the directory.
    #[doc(hidden)]
    pub async fn get_user_sql(&self, scope: &Scope, id: UserId) -> Result<User, StoreError> {
        let mut tx = self.org_read(&scope.org()).await?;
        let user = visible_user(&mut tx, scope, id).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Change a member's name, seat, team, manager or admin flag. Admins only. A seat or
    /// admin change revokes the member's sessions, so the old rights die at once.
    pub async fn update_user(
        &self,
        scope: &Scope,
        id: UserId,
        patch: UserPatch,
    ) -> Result<User, StoreError> {
        let mut tx = self.org_tx(&scope.org()).await?;
        let current = visible_user(&mut tx, scope, id).await?;
        if !scope.is_admin {
            return Err(StoreError::Forbidden(
                "only an organization admin can change members",
            ));
        }
        if let Some(Some(team)) = patch.team_id {
            team_in_org(&mut tx, scope, team).await?;
        }
        if let Some(Some(manager)) = patch.manager_id {
            if manager == id {
                return Err(StoreError::invalid(
                    "manager_id",
                    "a person cannot be their own manager",
                ));
            }
            visible_user(&mut tx, scope, manager).await.map_err(|_| {
                StoreError::invalid("manager_id", "no such user in this organization")
            })?;
        }
        let demoting_admin = current.is_admin && patch.is_admin == Some(false);
        if demoting_admin && admin_count(&mut tx, scope).await? <= 1 {
            return Err(StoreError::Conflict("last_admin"));
        }
        let name = patch.name.unwrap_or(current.name.clone());
        let seat = patch.seat.unwrap_or(current.seat);
        let team = patch.team_id.unwrap_or(current.team_id);
        let manager = patch.manager_id.unwrap_or(current.manager_id);
        let is_admin = patch.is_admin.unwrap_or(current.is_admin);
        let now = self.clock.now();
        sqlx::query(
            "UPDATE users SET name = $3, seat = $4, team_id = $5, manager_id = $6, is_admin = $7, updated_at = $8 \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(scope.org())
        .bind(id.to_string())
        .bind(name)
        .bind(seat.as_str())
        .bind(team.map(|t| t.to_string()))
        .bind(manager.map(|m| m.to_string()))
        .bind(i64::from(is_admin))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let mut revoked = 0;
        if seat != current.seat || is_admin != current.is_admin || team != current.team_id {
            revoked = revoke_all(&mut tx, &scope.org(), &id.to_string(), now).await?;
        }
        let updated = visible_user(&mut tx, scope, id).await?;
        let mut changes = serde_json::Map::new();
        let mut changed = |field: &str, from: serde_json::Value, to: serde_json::Value| {
            if from != to {
                changes.insert(field.to_owned(), json!({ "from": from, "to": to }));
            }
        };
        changed("name", json!(current.name), json!(updated.name));
        changed("seat", json!(current.seat.as_str()), json!(seat.as_str()));
        let id_text = |v: Option<String>| json!(v);
        changed(
            "team_id",
            id_text(current.team_id.map(|t| t.to_string())),
            id_text(team.map(|t| t.to_string())),
        );
        changed(
            "manager_id",
            id_text(current.manager_id.map(|m| m.to_string())),
            id_text(manager.map(|m| m.to_string())),
        );
        changed("admin", json!(current.is_admin), json!(is_admin));
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "member.updated")
                .target("user", id)
                .detail(json!({ "changes": changes, "sessions_revoked": revoked })),
        )
        .await?;
        tx.commit().await?;
        Ok(updated)
    }

    /// Remove a member: disable them, end their sessions and free their email. Admins
    /// only; nobody removes themself, and the last admin cannot be removed.
    pub async fn remove_user(&self, scope: &Scope, id: UserId) -> Result<(), StoreError> {
        let mut tx = self.org_tx(&scope.org()).await?;
        let current = visible_user(&mut tx, scope, id).await?;
        if !scope.is_admin {
            return Err(StoreError::Forbidden(
                "only an organization admin can remove members",
            ));
        }
        if id == scope.user_id {
            return Err(StoreError::Conflict("cannot_remove_self"));
        }
        if current.is_admin && admin_count(&mut tx, scope).await? <= 1 {
            return Err(StoreError::Conflict("last_admin"));
        }
        let now = self.clock.now();
        sqlx::query(
            "UPDATE users SET disabled_at = $3, updated_at = $3 WHERE org_id = $1 AND id = $2",
        )
        .bind(scope.org())
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE teams SET manager_id = NULL WHERE org_id = $1 AND manager_id = $2")
            .bind(scope.org())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM user_logins WHERE user_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let revoked = revoke_all(&mut tx, &scope.org(), &id.to_string(), now).await?;
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "member.removed")
                .target("user", id)
                .detail(json!({ "sessions_revoked": revoked })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A user the viewer may see (disabled members are gone), or NotFound.
pub(crate) async fn visible_user(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    id: UserId,
) -> Result<User, StoreError> {
    let sql = format!(
        "{MANAGED_TEAMS_CTE} SELECT {} FROM users u WHERE {USER_VISIBLE} AND u.id = $5 AND u.disabled_at IS NULL",
        User::COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(scope.org())
        .bind(scope.user())
        .bind(scope.all_flag())
        .bind(scope.manager_flag())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    User::from_row(&row)
}

pub(crate) async fn team_in_org(
    tx: &mut sqlx::AnyConnection,
    scope: &Scope,
    team: TeamId,
) -> Result<(), StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM teams WHERE org_id = $1 AND id = $2")
        .bind(scope.org())
        .bind(team.to_string())
        .fetch_one(&mut *tx)
        .await?;
    if n == 0 {
        return Err(StoreError::invalid(
            "team_id",
            "no such team in this organization",
        ));
    }
    Ok(())
}

async fn admin_count(tx: &mut sqlx::AnyConnection, scope: &Scope) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE org_id = $1 AND is_admin = 1 AND disabled_at IS NULL",
    )
    .bind(scope.org())
    .fetch_one(&mut *tx)
    .await?)
}
