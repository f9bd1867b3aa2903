//! The session check that runs on every authenticated request. It must read the
//! session row from the database (revocation takes effect on the very next request on
//! every instance), so it is kept to one round trip: on PostgreSQL a call of the
//! `session_check` function (migration 0005), which sets `app.org_id` for its own
//! implicit transaction and reads under row-level security; on SQLite one query. The
//! same row carries the organization's directory version (see [`crate::directory`]).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::auth::SESSION_IDLE_SECS;
use crate::models::{parse, parse_opt};
use crate::{Dialect, Origin, Scope, Store, StoreError, checked_org};

/// The SQLite form of PostgreSQL's `session_check` function: the same columns.
const SQLITE_SESSION_CHECK: &str = "SELECT u.id, u.org_id, u.name, u.email, u.seat, u.team_id, u.is_admin, \
        s.id AS session_id, s.refresh_jti, s.last_seen_at, o.directory_version \
     FROM sessions s JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id \
     JOIN organizations o ON o.id = s.org_id \
     WHERE s.org_id = $1 AND s.id = $2 AND s.user_id = $3 AND s.revoked_at IS NULL \
       AND s.expires_at > $4 AND s.last_seen_at > $5 AND u.disabled_at IS NULL";

/// One round trip on PostgreSQL, with autocommit: the function's `set_config(…, true)`
/// lasts until the end of this statement's implicit transaction.
const POSTGRES_SESSION_CHECK: &str = "SELECT * FROM session_check($1, $2, $3, $4, $5)";

impl Store {
    /// Turn verified token claims into a [`Scope`]: the session must exist, belong to
    /// that user and org, be neither revoked nor expired nor idle too long, and the user
    /// must not be disabled. `refresh_jti`, when given, must be the session's current
    /// refresh generation. This runs on every authenticated request, so revocation
    /// takes effect on the very next request on every instance.
    pub async fn authenticate(
        &self,
        org_id: &str,
        user_id: &str,
        session_id: &str,
        refresh_jti: Option<&str>,
    ) -> Result<Scope, StoreError> {
        checked_org(org_id)?;
        let now = self.clock.now();
        let sql = match self.dialect {
            Dialect::Sqlite => SQLITE_SESSION_CHECK,
            Dialect::Postgres => POSTGRES_SESSION_CHECK,
        };
        let row = sqlx::query(sql)
            .bind(org_id.to_owned())
            .bind(session_id.to_owned())
            .bind(user_id.to_owned())
            .bind(now)
            .bind(now - SESSION_IDLE_SECS)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::Unauthenticated)?;
        if let Some(jti) = refresh_jti {
            let current: String = row.try_get("refresh_jti")?;
            if current != jti {
                return Err(StoreError::Unauthenticated);
            }
        }
        let scope = scope_from_row(&row)?;
        // Keep idle tracking cheap: write at most once a minute per session.
        let last_seen: i64 = row.try_get("last_seen_at")?;
        if now - last_seen > 60 {
            let mut tx = self.org_tx(org_id).await?;
            sqlx::query("UPDATE sessions SET last_seen_at = $3 WHERE org_id = $1 AND id = $2")
                .bind(org_id.to_owned())
                .bind(session_id.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        Ok(scope)
    }
}

fn scope_from_row(row: &AnyRow) -> Result<Scope, StoreError> {
    let is_admin: i64 = row.try_get("is_admin")?;
    Ok(Scope {
        org_id: parse(row, "org_id")?,
        user_id: parse(row, "id")?,
        session_id: parse(row, "session_id")?,
        seat: parse(row, "seat")?,
        is_admin: is_admin != 0,
        team_id: parse_opt(row, "team_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        directory_version: row.try_get("directory_version")?,
        origin: Origin::default(),
    })
}
