//! The paths that run before anyone is authenticated (signup, login, lockout, session
//! checks) and the session lifecycle. These are the only functions that set a tenant
//! context from something other than a [`Scope`]: a verified token's claims or the
//! global login index.

use domain::{Email, OrgId, Seat, SessionId, TeamId, UserId};
use sqlx::Row;

use crate::audit::{Actor, Event, SYSTEM_CHAIN, append};
use crate::models::parse;
use crate::{Org, Origin, Scope, SessionInfo, Store, StoreError, User};
use serde_json::json;

/// Consecutive failures that lock an email.
pub const LOCKOUT_THRESHOLD: i64 = 5;
/// How long a lockout lasts.
pub const LOCKOUT_SECS: i64 = 15 * 60;
/// Absolute lifetime of a session.
pub const SESSION_TTL_SECS: i64 = 7 * 24 * 3600;
/// A session unused this long is expired.
pub const SESSION_IDLE_SECS: i64 = 24 * 3600;

/// A new organization and its first (admin, executive) user.
#[derive(Debug)]
pub struct NewSignup {
    pub organization_name: String,
    pub industry: String,
    pub time_zone: String,
    pub name: String,
    pub email: Email,
    pub password_hash: String,
    /// Where the signup came from (`Origin::default()` for the command line).
    pub origin: Origin,
}

/// What login needs to check a password.
#[derive(Debug)]
pub struct LoginCandidate {
    pub user_id: UserId,
    pub org_id: OrgId,
    pub password_hash: String,
    pub disabled: bool,
}

/// A freshly created session.
#[derive(Debug, Clone)]
pub struct SessionGrant {
    pub session_id: SessionId,
    pub user_id: UserId,
    pub org_id: OrgId,
    pub refresh_jti: String,
    pub expires_at: i64,
}

impl Store {
    /// Create an organization with its first user, who is an executive and an admin.
    pub async fn signup(&self, new: NewSignup) -> Result<(Org, User), StoreError> {
        let org_id = OrgId::new();
        let user_id = UserId::new();
        let now = self.clock.now();
        let mut tx = self.org_tx(&org_id.to_string()).await?;
        sqlx::query(
            "INSERT INTO organizations (id, name, industry, time_zone, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(org_id.to_string())
        .bind(new.organization_name)
        .bind(new.industry)
        .bind(new.time_zone)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        insert_user(
            &mut tx,
            NewUserRow {
                id: user_id,
                org_id,
                name: &new.name,
                email: &new.email,
                password_hash: &new.password_hash,
                seat: Seat::Executive,
                team_id: None,
                manager_id: None,
                is_admin: true,
                now,
            },
        )
        .await?;
        let org = fetch_org(&mut tx, org_id).await?;
        let user = fetch_user(&mut tx, org_id, user_id).await?;
        append(
            &mut tx,
            &org_id.to_string(),
            now,
            &new.origin,
            Event::new(Actor::User(user_id), "org.created").target("organization", org_id),
        )
        .await?;
        tx.commit().await?;
        Ok((org, user))
    }

    /// Look an email up for login. `None` for unknown emails.
    pub async fn login_candidate(
        &self,
        email: &Email,
    ) -> Result<Option<LoginCandidate>, StoreError> {
        let Some(row) = sqlx::query("SELECT user_id, org_id FROM user_logins WHERE email = $1")
            .bind(email.as_str().to_owned())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let user_id: UserId = parse(&row, "user_id")?;
        let org_id: OrgId = parse(&row, "org_id")?;
        let mut tx = self.org_read(&org_id.to_string()).await?;
        let row = sqlx::query(
            "SELECT password_hash, disabled_at FROM users WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let Some(row) = row else { return Ok(None) };
        let disabled: Option<i64> = row.try_get("disabled_at")?;
        Ok(Some(LoginCandidate {
            user_id,
            org_id,
            password_hash: row.try_get("password_hash")?,
            disabled: disabled.is_some(),
        }))
    }

    /// Seconds until the lockout of `email` ends, if it is locked now.
    pub async fn lockout_remaining(&self, email: &str) -> Result<Option<i64>, StoreError> {
        let now = self.clock.now();
        let until: Option<i64> =
            sqlx::query_scalar("SELECT locked_until FROM login_attempts WHERE email = $1")
                .bind(email.to_owned())
                .fetch_optional(&self.pool)
                .await?;
        Ok(until.filter(|u| *u > now).map(|u| u - now))
    }

    /// Count a failed login. Returns the lockout length when this failure locks the
    /// email. Atomic across instances: the increment happens in the database. The
    /// failure (and a lockout) is audited in the account's organization when the email
    /// belongs to someone (`who`), else in the system chain, without the email.
    pub async fn record_login_failure(
        &self,
        email: &str,
        who: Option<(OrgId, UserId)>,
        origin: &Origin,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.clock.now();
        let (chain, actor) = match who {
            Some((org, user)) => (org.to_string(), Actor::User(user)),
            None => (SYSTEM_CHAIN.to_owned(), Actor::Anonymous),
        };
        let mut tx = self.org_tx(&chain).await?;
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO login_attempts (email, failures, locked_until, updated_at) VALUES ($1, 1, 0, $2) \
             ON CONFLICT (email) DO UPDATE SET failures = login_attempts.failures + 1, updated_at = $2 \
             RETURNING CAST(failures AS BIGINT)",
        )
        .bind(email.to_owned())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let reason = if who.is_some() {
            "wrong_password"
        } else {
            "unknown_account"
        };
        append(
            &mut tx,
            &chain,
            now,
            origin,
            Event::new(actor, "auth.login.failed")
                .detail(json!({ "reason": reason, "consecutive_failures": failures })),
        )
        .await?;
        if failures >= LOCKOUT_THRESHOLD {
            sqlx::query(
                "UPDATE login_attempts SET failures = 0, locked_until = $2, updated_at = $3 WHERE email = $1",
            )
            .bind(email.to_owned())
            .bind(now + LOCKOUT_SECS)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            append(
                &mut tx,
                &chain,
                now,
                origin,
                Event::new(actor, "auth.lockout").detail(json!({ "seconds": LOCKOUT_SECS })),
            )
            .await?;
            tx.commit().await?;
            return Ok(Some(LOCKOUT_SECS));
        }
        tx.commit().await?;
        Ok(None)
    }

    /// A successful login resets the failure count.
    pub async fn clear_login_failures(&self, email: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_attempts WHERE email = $1")
            .bind(email.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Open a session for a user who just proved who they are, `via` a login, a
    /// signup or an accepted invitation (audited as a successful login).
    pub async fn create_session(
        &self,
        org_id: OrgId,
        user_id: UserId,
        origin: &Origin,
        via: &'static str,
    ) -> Result<SessionGrant, StoreError> {
        let now = self.clock.now();
        let grant = SessionGrant {
            session_id: SessionId::new(),
            user_id,
            org_id,
            refresh_jti: vault::random_token(16),
            expires_at: now + SESSION_TTL_SECS,
        };
        let mut tx = self.org_tx(&org_id.to_string()).await?;
        sqlx::query(
            "INSERT INTO sessions (id, org_id, user_id, refresh_jti, user_agent, ip, created_at, last_seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        )
        .bind(grant.session_id.to_string())
        .bind(org_id.to_string())
        .bind(user_id.to_string())
        .bind(grant.refresh_jti.clone())
        .bind(origin.user_agent.clone().unwrap_or_default())
        .bind(origin.ip.clone().unwrap_or_default())
        .bind(now)
        .bind(grant.expires_at)
        .execute(&mut *tx)
        .await?;
        append(
            &mut tx,
            &org_id.to_string(),
            now,
            origin,
            Event::new(Actor::User(user_id), "auth.login.succeeded")
                .target("session", grant.session_id)
                .detail(json!({ "via": via })),
        )
        .await?;
        tx.commit().await?;
        Ok(grant)
    }

    /// Rotate a session's refresh generation. Presenting a generation that was already
    /// rotated out is treated as token theft: the whole session is revoked (SESS-04).
    pub async fn rotate_refresh(
        &self,
        org_id: &str,
        user_id: &str,
        session_id: &str,
        presented_jti: &str,
        origin: &Origin,
    ) -> Result<SessionGrant, StoreError> {
        let now = self.clock.now();
        let new_jti = vault::random_token(16);
        let mut tx = self.org_tx(org_id).await?;
        let row = sqlx::query(
            "SELECT refresh_jti, expires_at FROM sessions WHERE org_id = $1 AND id = $2 AND user_id = $3 \
             AND revoked_at IS NULL AND expires_at > $4",
        )
        .bind(org_id.to_owned())
        .bind(session_id.to_owned())
        .bind(user_id.to_owned())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::Unauthenticated)?;
        let current: String = row.try_get("refresh_jti")?;
        if current != presented_jti {
            sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE org_id = $1 AND id = $2")
                .bind(org_id.to_owned())
                .bind(session_id.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let actor = user_id.parse().map(Actor::User).unwrap_or(Actor::Anonymous);
            append(
                &mut tx,
                org_id,
                now,
                origin,
                Event::new(actor, "auth.session.revoked")
                    .target("session", session_id)
                    .detail(json!({ "reason": "refresh_token_reused" })),
            )
            .await?;
            tx.commit().await?;
            return Err(StoreError::Unauthenticated);
        }
        sqlx::query(
            "UPDATE sessions SET refresh_jti = $3, last_seen_at = $4 WHERE org_id = $1 AND id = $2",
        )
        .bind(org_id.to_owned())
        .bind(session_id.to_owned())
        .bind(new_jti.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SessionGrant {
            session_id: session_id
                .parse()
                .map_err(|_| StoreError::Unauthenticated)?,
            user_id: user_id.parse().map_err(|_| StoreError::Unauthenticated)?,
            org_id: org_id.parse().map_err(|_| StoreError::Unauthenticated)?,
            refresh_jti: new_jti,
            expires_at: row.try_get("expires_at")?,
        })
    }

    /// Revoke the viewer's current session (logout).
    pub async fn logout(&self, scope: &Scope) -> Result<(), StoreError> {
        self.end_session(scope, scope.session_id, "auth.logout")
            .await
    }

    /// Revoke one of the viewer's own sessions. Someone else's session is NotFound.
    pub async fn revoke_session(
        &self,
        scope: &Scope,
        session_id: SessionId,
    ) -> Result<(), StoreError> {
        self.end_session(scope, session_id, "auth.session.revoked")
            .await
    }

    async fn end_session(
        &self,
        scope: &Scope,
        session_id: SessionId,
        action: &'static str,
    ) -> Result<(), StoreError> {
        let mut tx = self.org_tx(&scope.org()).await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $4 WHERE org_id = $1 AND id = $2 AND user_id = $3 AND revoked_at IS NULL",
        )
        .bind(scope.org())
        .bind(session_id.to_string())
        .bind(scope.user())
        .bind(self.clock.now())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(StoreError::NotFound);
        }
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, action).target("session", session_id),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The viewer's active sessions, newest first.
    pub async fn list_sessions(&self, scope: &Scope) -> Result<Vec<SessionInfo>, StoreError> {
        let now = self.clock.now();
        let mut tx = self.org_read(&scope.org()).await?;
        let rows = sqlx::query(
            "SELECT id, user_agent, ip, created_at, last_seen_at, expires_at FROM sessions \
             WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3 AND last_seen_at > $4 \
             ORDER BY id DESC LIMIT 200",
        )
        .bind(scope.org())
        .bind(scope.user())
        .bind(now)
        .bind(now - SESSION_IDLE_SECS)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|row| {
                let id: SessionId = parse(row, "id")?;
                Ok(SessionInfo {
                    id,
                    user_agent: row.try_get("user_agent")?,
                    ip: row.try_get("ip")?,
                    created_at: row.try_get("created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                    expires_at: row.try_get("expires_at")?,
                    current: id == scope.session_id,
                })
            })
            .collect()
    }

    /// The viewer's own password hash (to check the current password on change).
    pub async fn own_password_hash(&self, scope: &Scope) -> Result<String, StoreError> {
        let mut tx = self.org_read(&scope.org()).await?;
        let hash: String =
            sqlx::query_scalar("SELECT password_hash FROM users WHERE org_id = $1 AND id = $2")
                .bind(scope.org())
                .bind(scope.user())
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(hash)
    }

    /// Set the viewer's password and revoke every one of their sessions.
    pub async fn change_own_password(
        &self,
        scope: &Scope,
        new_hash: &str,
    ) -> Result<(), StoreError> {
        set_password_and_revoke(
            self,
            &scope.org(),
            &scope.user(),
            new_hash,
            &scope.origin,
            Event::by(scope, "auth.password.changed").target("user", scope.user_id),
        )
        .await
    }

    /// Operator path (`pitchside admin`): find a user by email across organizations.
    pub async fn admin_find_user(&self, email: &Email) -> Result<User, StoreError> {
        let row = sqlx::query("SELECT user_id, org_id FROM user_logins WHERE email = $1")
            .bind(email.as_str().to_owned())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        let org_id: OrgId = parse(&row, "org_id")?;
        let user_id: UserId = parse(&row, "user_id")?;
        let mut tx = self.org_read(&org_id.to_string()).await?;
        let user = fetch_user(&mut tx, org_id, user_id).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// Operator path: set a user's password and revoke their sessions.
    pub async fn admin_set_password(&self, user: &User, new_hash: &str) -> Result<(), StoreError> {
        set_password_and_revoke(
            self,
            &user.org_id.to_string(),
            &user.id.to_string(),
            new_hash,
            &Origin::default(),
            Event::new(Actor::Operator, "admin.password_reset").target("user", user.id),
        )
        .await
    }

    /// Operator path: revoke every session of a user. Returns how many were active.
    pub async fn admin_revoke_sessions(&self, user: &User) -> Result<u64, StoreError> {
        let mut tx = self.org_tx(&user.org_id.to_string()).await?;
        let n = revoke_all(
            &mut tx,
            &user.org_id.to_string(),
            &user.id.to_string(),
            self.clock.now(),
        )
        .await?;
        append(
            &mut tx,
            &user.org_id.to_string(),
            self.clock.now(),
            &Origin::default(),
            Event::new(Actor::Operator, "admin.sessions_revoked")
                .target("user", user.id)
                .detail(json!({ "sessions": n })),
        )
        .await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Operator path: add a user to an existing organization.
    #[allow(clippy::too_many_arguments)]
    pub async fn admin_create_user(
        &self,
        org_id: OrgId,
        name: &str,
        email: &Email,
        password_hash: &str,
        seat: Seat,
        team_id: Option<TeamId>,
        manager_id: Option<UserId>,
        is_admin: bool,
    ) -> Result<User, StoreError> {
        let mut tx = self.org_tx(&org_id.to_string()).await?;
        fetch_org(&mut tx, org_id).await?;
        let id = UserId::new();
        insert_user(
            &mut tx,
            NewUserRow {
                id,
                org_id,
                name,
                email,
                password_hash,
                seat,
                team_id,
                manager_id,
                is_admin,
                now: self.clock.now(),
            },
        )
        .await?;
        let user = fetch_user(&mut tx, org_id, id).await?;
        append(
            &mut tx,
            &org_id.to_string(),
            self.clock.now(),
            &Origin::default(),
            Event::new(Actor::Operator, "admin.user_created")
                .target("user", id)
                .detail(json!({ "seat": seat.as_str(), "admin": is_admin })),
        )
        .await?;
        tx.commit().await?;
        Ok(user)
    }

    /// The organization of a scope.
    pub async fn organization(&self, scope: &Scope) -> Result<Org, StoreError> {
        let mut tx = self.org_read(&scope.org()).await?;
        let org = fetch_org(&mut tx, scope.org_id).await?;
        tx.commit().await?;
        Ok(org)
    }
}

async fn set_password_and_revoke(
    store: &Store,
    org: &str,
    user: &str,
    hash: &str,
    origin: &Origin,
    event: Event,
) -> Result<(), StoreError> {
    let now = store.clock.now();
    let mut tx = store.org_tx(org).await?;
    sqlx::query(
        "UPDATE users SET password_hash = $3, updated_at = $4 WHERE org_id = $1 AND id = $2",
    )
    .bind(org.to_owned())
    .bind(user.to_owned())
    .bind(hash.to_owned())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let revoked = revoke_all(&mut tx, org, user, now).await?;
    append(
        &mut tx,
        org,
        now,
        origin,
        event.detail(json!({ "sessions_revoked": revoked })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub(crate) async fn revoke_all(
    tx: &mut sqlx::AnyConnection,
    org: &str,
    user: &str,
    now: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE sessions SET revoked_at = $3 WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(org.to_owned())
    .bind(user.to_owned())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) struct NewUserRow<'a> {
    pub id: UserId,
    pub org_id: OrgId,
    pub name: &'a str,
    pub email: &'a Email,
    pub password_hash: &'a str,
    pub seat: Seat,
    pub team_id: Option<TeamId>,
    pub manager_id: Option<UserId>,
    pub is_admin: bool,
    pub now: i64,
}

/// Insert a user and their login-index entry. A taken email is `Conflict("email_taken")`.
pub(crate) async fn insert_user(
    tx: &mut sqlx::AnyConnection,
    u: NewUserRow<'_>,
) -> Result<(), StoreError> {
    let taken = sqlx::query("INSERT INTO user_logins (email, user_id, org_id) VALUES ($1, $2, $3)")
        .bind(u.email.as_str().to_owned())
        .bind(u.id.to_string())
        .bind(u.org_id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from);
    match taken {
        Err(e) if e.is_unique_violation() => return Err(StoreError::Conflict("email_taken")),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    sqlx::query(
        "INSERT INTO users (id, org_id, name, email, password_hash, seat, team_id, manager_id, is_admin, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
    )
    .bind(u.id.to_string())
    .bind(u.org_id.to_string())
    .bind(u.name.to_owned())
    .bind(u.email.as_str().to_owned())
    .bind(u.password_hash.to_owned())
    .bind(u.seat.as_str())
    .bind(u.team_id.map(|t| t.to_string()))
    .bind(u.manager_id.map(|m| m.to_string()))
    .bind(i64::from(u.is_admin))
    .bind(u.now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) async fn fetch_org(
    tx: &mut sqlx::AnyConnection,
    org_id: OrgId,
) -> Result<Org, StoreError> {
    let sql = format!("SELECT {} FROM organizations WHERE id = $1", Org::COLUMNS);
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    Org::from_row(&row)
}

pub(crate) async fn fetch_user(
    tx: &mut sqlx::AnyConnection,
    org_id: OrgId,
    user_id: UserId,
) -> Result<User, StoreError> {
    let sql = format!(
        "SELECT {} FROM users u WHERE u.org_id = $1 AND u.id = $2",
        User::COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    User::from_row(&row)
}
