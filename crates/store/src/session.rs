//! The session check that runs on every authenticated request. It must consult the
//! database after the request arrived (revocation takes effect on the very next
//! request on every instance). On SQLite it is one query, run inline through the direct
//! read path (`fastread.rs`) and through sqlx when that cannot answer. On PostgreSQL,
//! concurrent checks share statements and an instance answers from the session rows it
//! has read while the organization's session and directory versions, read afresh for
//! every batch, are unchanged (`session_batch.rs`, migration 0009); alone (no runtime
//! for the dispatcher) it calls `session_check` (migration 0005). The row carries the
//! organization's directory version (see `directory/mod.rs`).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::auth::SESSION_IDLE_SECS;
use crate::fastread::{Fallback, SessionRow};
use crate::session_batch::{SessionCheckStats, Unbatched};
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
        let binds = (org_id, session_id, user_id, now, now - SESSION_IDLE_SECS);
        let row = match (self.dialect, &self.fast) {
            (Dialect::Sqlite, Some(fast)) => match fast.session_row(SQLITE_SESSION_CHECK, binds) {
                Ok(row) => row,
                Err(Fallback) => self.session_row(binds).await?,
            },
            (Dialect::Postgres, _) => {
                match self
                    .sessions
                    .check(&self.pool, &self.clock, org_id, session_id, user_id)
                    .await
                {
                    Ok(row) => row?,
                    Err(Unbatched) => self.session_row(binds).await?,
                }
            }
            (Dialect::Sqlite, None) => self.session_row(binds).await?,
        };
        let row = row.ok_or(StoreError::Unauthenticated)?;
        if let Some(jti) = refresh_jti
            && row.refresh_jti != jti
        {
            return Err(StoreError::Unauthenticated);
        }
        let last_seen = row.last_seen_at;
        let scope = scope_from_row(row)?;
        // Keep idle tracking cheap: write at most once a minute per session.
        if now - last_seen > 60 {
            let mut tx = self.org_tx(org_id).await?;
            sqlx::query("UPDATE sessions SET last_seen_at = $3 WHERE org_id = $1 AND id = $2")
                .bind(org_id.to_owned())
                .bind(session_id.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            self.sessions.touched(org_id, session_id, now);
        }
        Ok(scope)
    }
}

impl Store {
    /// The session check through sqlx.
    async fn session_row(
        &self,
        (org, session, user, now, idle_after): (&str, &str, &str, i64, i64),
    ) -> Result<Option<SessionRow>, StoreError> {
        let sql = match self.dialect {
            Dialect::Sqlite => SQLITE_SESSION_CHECK,
            Dialect::Postgres => POSTGRES_SESSION_CHECK,
        };
        let row = sqlx::query(sql)
            .bind(org.to_owned())
            .bind(session.to_owned())
            .bind(user.to_owned())
            .bind(now)
            .bind(idle_after)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_any_row(&r)).transpose()
    }

    /// PostgreSQL session checks answered, the statements that answered them and how
    /// many were answered from kept reads (see `session_batch.rs`); `None` on SQLite
    /// (for tests, benchmarks and `/metrics`).
    #[doc(hidden)]
    pub fn session_batch_stats(&self) -> Option<SessionCheckStats> {
        (self.dialect == Dialect::Postgres).then(|| self.sessions.stats())
    }

    /// Direct SQLite reads answered and handed back to sqlx, `None` on PostgreSQL (for
    /// tests).
    #[doc(hidden)]
    pub fn direct_read_stats(&self) -> Option<(u64, u64)> {
        self.fast.as_ref().map(|f| f.stats())
    }
}

pub(crate) fn from_any_row(row: &AnyRow) -> Result<SessionRow, StoreError> {
    Ok(SessionRow {
        id: row.try_get("id")?,
        org_id: row.try_get("org_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        seat: row.try_get("seat")?,
        team_id: row.try_get("team_id")?,
        is_admin: row.try_get("is_admin")?,
        session_id: row.try_get("session_id")?,
        refresh_jti: row.try_get("refresh_jti")?,
        last_seen_at: row.try_get("last_seen_at")?,
        directory_version: row.try_get("directory_version")?,
    })
}

fn scope_from_row(row: SessionRow) -> Result<Scope, StoreError> {
    fn id<T: std::str::FromStr>(col: &str, raw: &str) -> Result<T, StoreError> {
        raw.parse()
            .map_err(|_| StoreError::Corrupt(format!("column {col} holds {raw:?}")))
    }
    Ok(Scope {
        org_id: id("org_id", &row.org_id)?,
        user_id: id("id", &row.id)?,
        session_id: id("session_id", &row.session_id)?,
        seat: id("seat", &row.seat)?,
        is_admin: row.is_admin != 0,
        team_id: row
            .team_id
            .as_deref()
            .map(|t| id("team_id", t))
            .transpose()?,
        name: row.name,
        email: row.email,
        directory_version: row.directory_version,
        origin: Origin::default(),
    })
}
