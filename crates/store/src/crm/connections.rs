//! CRM connections: created and removed by organization admins, seen by admins and
//! executives (anyone else gets NotFound), with their OAuth tokens sealed in the
//! `crm_tokens` domain and OAuth `state` values bound to the session that started the
//! flow (OA-01). Connecting and disconnecting are audited.

use std::fmt;

use domain::crm::Provider;
use domain::{Seat, UserId};
use serde_json::json;
use sqlx::Row;
use vault::sealed::{Domain, SealContext};

use crate::audit::Event;
use crate::jobs::{self, CRM_SYNC};
use crate::{Scope, Store, StoreError};

/// How a connection authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// OAuth 2.0 access and refresh tokens.
    OAuth,
    /// A HubSpot private-app token or a Pipedrive API token.
    Token,
}

impl AuthKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthKind::OAuth => "oauth",
            AuthKind::Token => "token",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "oauth" => Ok(AuthKind::OAuth),
            "token" => Ok(AuthKind::Token),
            _ => Err(StoreError::Corrupt(format!("auth kind {s:?}"))),
        }
    }
}

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionStatus {
    Active,
    /// Syncs keep failing (the reason says why); they are still retried.
    Unhealthy,
    /// The provider refused our credentials: a person must reconnect.
    NeedsReconnect,
    /// The provider's daily budget (or our share of it) is used up until tomorrow.
    Paused,
    /// Disconnected; the synced data was kept.
    Disconnected,
}

impl ConnectionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionStatus::Active => "active",
            ConnectionStatus::Unhealthy => "unhealthy",
            ConnectionStatus::NeedsReconnect => "needs_reconnect",
            ConnectionStatus::Paused => "paused",
            ConnectionStatus::Disconnected => "disconnected",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "active" => ConnectionStatus::Active,
            "unhealthy" => ConnectionStatus::Unhealthy,
            "needs_reconnect" => ConnectionStatus::NeedsReconnect,
            "paused" => ConnectionStatus::Paused,
            "disconnected" => ConnectionStatus::Disconnected,
            _ => return Err(StoreError::Corrupt(format!("connection status {s:?}"))),
        })
    }
}

/// A connection as admins see it (never with its tokens).
#[derive(Clone, Debug)]
pub struct Connection {
    pub id: String,
    pub org_id: String,
    pub provider: Provider,
    pub auth_kind: AuthKind,
    pub api_base: String,
    pub status: ConnectionStatus,
    pub status_reason: Option<String>,
    /// Scopes the provider granted beyond the read-only ones asked for (OA-03).
    pub extra_scopes: Vec<String>,
    pub sync_interval_secs: i64,
    pub quota_share_pct: i64,
    pub consecutive_failures: i64,
    pub full_resync: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_success_at: Option<i64>,
}

const COLUMNS: &str = "id, org_id, provider, auth_kind, api_base, status, status_reason, extra_scopes, \
    sync_interval_secs, quota_share_pct, consecutive_failures, full_resync, created_at, updated_at, last_success_at";

impl Connection {
    pub(crate) fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, StoreError> {
        let provider: String = row.try_get("provider")?;
        let extra: Option<String> = row.try_get("extra_scopes")?;
        let full: i64 = row.try_get("full_resync")?;
        Ok(Self {
            id: row.try_get("id")?,
            org_id: row.try_get("org_id")?,
            provider: provider
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("provider {provider:?}")))?,
            auth_kind: AuthKind::parse(&row.try_get::<String, _>("auth_kind")?)?,
            api_base: row.try_get("api_base")?,
            status: ConnectionStatus::parse(&row.try_get::<String, _>("status")?)?,
            status_reason: row.try_get("status_reason")?,
            extra_scopes: extra
                .map(|e| {
                    e.split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            sync_interval_secs: row.try_get("sync_interval_secs")?,
            quota_share_pct: row.try_get("quota_share_pct")?,
            consecutive_failures: row.try_get("consecutive_failures")?,
            full_resync: full != 0,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            last_success_at: row.try_get("last_success_at")?,
        })
    }

    /// The job key of this connection's sync.
    pub fn job_key(&self) -> String {
        job_key(&self.id)
    }
}

pub(crate) fn job_key(connection_id: &str) -> String {
    format!("{CRM_SYNC}:{connection_id}")
}

/// Schedule the connection's sync job at `run_at` (or keep an earlier schedule);
/// `requested` marks it asked for by a person.
async fn schedule_sync(
    tx: &mut sqlx::AnyConnection,
    org: &str,
    connection_id: &str,
    run_at: i64,
    now: i64,
    requested: bool,
) -> Result<(), StoreError> {
    let payload = json!({ "connection_id": connection_id }).to_string();
    let key = job_key(connection_id);
    jobs::schedule(tx, org, CRM_SYNC, &key, &payload, run_at, now, requested).await
}

/// Tokens, in memory only. `Debug` hides them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Epoch seconds.
    pub expires_at: Option<i64>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A connection to create.
#[derive(Clone, Debug)]
pub struct NewConnection {
    pub provider: Provider,
    pub auth_kind: AuthKind,
    pub api_base: String,
    pub tokens: Tokens,
    pub extra_scopes: Vec<String>,
    pub sync_interval_secs: i64,
    pub quota_share_pct: i64,
}

/// A CRM owner and the Pitchside user it maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerMapping {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub email: Option<String>,
    pub active: bool,
    pub user_id: Option<UserId>,
    /// `None`: mapped by email; `Some(None)`: set by hand to nobody; `Some(Some(u))`:
    /// set by hand to `u`.
    pub manual: Option<Option<UserId>>,
}

pub(crate) fn token_context<'a>(org: &'a str, id: &'a str, column: &'a str) -> SealContext<'a> {
    SealContext {
        org,
        table: "crm_tokens",
        column,
        row: id,
    }
}

/// Who may see connections: admins and executives.
fn may_view(scope: &Scope) -> bool {
    scope.is_admin() || scope.seat() == Seat::Executive
}

fn must_admin(scope: &Scope) -> Result<(), StoreError> {
    if scope.is_admin() {
        Ok(())
    } else {
        Err(StoreError::Forbidden(
            "only an organization admin can manage integrations",
        ))
    }
}

impl Store {
    /// Connect a CRM account (admins only) and schedule its first, full sync now.
    pub async fn create_connection(
        &self,
        scope: &Scope,
        new: NewConnection,
    ) -> Result<Connection, StoreError> {
        must_admin(scope)?;
        let id = uuid::Uuid::now_v7().to_string();
        let org = scope.org();
        let now = self.clock.now();
        let mut tx = self.org_tx(&org).await?;
        sqlx::query(
            "INSERT INTO crm_connections (id, org_id, provider, auth_kind, api_base, status, extra_scopes, \
             sync_interval_secs, quota_share_pct, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9, $10, $10)",
        )
        .bind(id.clone())
        .bind(org.clone())
        .bind(new.provider.as_str())
        .bind(new.auth_kind.as_str())
        .bind(new.api_base.clone())
        .bind((!new.extra_scopes.is_empty()).then(|| new.extra_scopes.join(" ")))
        .bind(new.sync_interval_secs)
        .bind(new.quota_share_pct)
        .bind(scope.user())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        self.write_tokens(&mut tx, &org, &id, &new.tokens, now)
            .await?;
        schedule_sync(&mut tx, &org, &id, now, now, true).await?;
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "integration.connected")
                .target("integration", &id)
                .detail(json!({
                    "provider": new.provider.as_str(),
                    "auth_kind": new.auth_kind.as_str(),
                    "extra_scopes": new.extra_scopes,
                })),
        )
        .await?;
        let connection = fetch(&mut tx, &org, &id).await?;
        tx.commit().await?;
        Ok(connection)
    }

    pub(crate) async fn write_tokens(
        &self,
        conn: &mut sqlx::AnyConnection,
        org: &str,
        id: &str,
        tokens: &Tokens,
        now: i64,
    ) -> Result<(), StoreError> {
        let keys = self.keys();
        let ring = keys.ring(Domain::CrmTokens);
        let seal = |column: &str, value: &str| {
            ring.seal(token_context(org, id, column), value.as_bytes())
                .map_err(|e| StoreError::Config(e.to_string()))
        };
        let access = seal("access", &tokens.access_token)?;
        let refresh = tokens
            .refresh_token
            .as_deref()
            .map(|r| seal("refresh", r))
            .transpose()?;
        sqlx::query(
            "INSERT INTO crm_tokens (id, org_id, access_sealed, access_key_id, refresh_sealed, refresh_key_id, expires_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET access_sealed = excluded.access_sealed, access_key_id = excluded.access_key_id, \
             refresh_sealed = COALESCE(excluded.refresh_sealed, crm_tokens.refresh_sealed), \
             refresh_key_id = COALESCE(excluded.refresh_key_id, crm_tokens.refresh_key_id), \
             expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        )
        .bind(id.to_owned())
        .bind(org.to_owned())
        .bind(access.token)
        .bind(access.key_id)
        .bind(refresh.as_ref().map(|r| r.token.clone()))
        .bind(refresh.map(|r| r.key_id))
        .bind(tokens.expires_at)
        .bind(now)
        .execute(conn)
        .await?;
        Ok(())
    }

    /// Open a connection's tokens. A token that does not open (moved from another row
    /// or org, or keys missing) is recorded in the audit log (KEY-04) and refused.
    pub(crate) async fn read_tokens(
        &self,
        conn: &mut sqlx::AnyConnection,
        org: &str,
        id: &str,
    ) -> Result<Option<Tokens>, StoreError> {
        let row = sqlx::query(
            "SELECT access_sealed, refresh_sealed, expires_at FROM crm_tokens WHERE org_id = $1 AND id = $2",
        )
        .bind(org.to_owned())
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let keys = self.keys();
        let ring = keys.ring(Domain::CrmTokens);
        let open = |column: &str, token: &str| {
            ring.open(token_context(org, id, column), token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        };
        let access: String = row.try_get("access_sealed")?;
        let refresh: Option<String> = row.try_get("refresh_sealed")?;
        let opened = (
            open("access", &access),
            refresh.as_deref().map(|r| open("refresh", r)),
        );
        match opened {
            (Some(access_token), refresh) if refresh.as_ref().is_none_or(Option::is_some) => {
                Ok(Some(Tokens {
                    access_token,
                    refresh_token: refresh.flatten(),
                    expires_at: row.try_get("expires_at")?,
                }))
            }
            _ => {
                tracing::error!(connection = %id, "a CRM token did not open");
                crate::audit::append(
                    conn,
                    org,
                    self.clock.now(),
                    &crate::Origin::default(),
                    Event::new(crate::audit::Actor::System, "sealed.open_failed")
                        .target("integration", id)
                        .detail(json!({ "table": "crm_tokens" })),
                )
                .await?;
                Err(StoreError::Sealed)
            }
        }
    }

    /// Connections of the viewer's organization (admins and executives; nobody else
    /// has any to see).
    pub async fn list_connections(&self, scope: &Scope) -> Result<Vec<Connection>, StoreError> {
        if !may_view(scope) {
            return Ok(Vec::new());
        }
        let mut conn = self.org_read(&scope.org()).await?;
        let sql = format!("SELECT {COLUMNS} FROM crm_connections WHERE org_id = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .fetch_all(&mut *conn)
            .await?;
        conn.commit().await?;
        rows.iter().map(Connection::from_row).collect()
    }

    /// One connection, to admins and executives; NotFound to anyone else.
    pub async fn get_connection(&self, scope: &Scope, id: &str) -> Result<Connection, StoreError> {
        if !may_view(scope) {
            return Err(StoreError::NotFound);
        }
        let mut conn = self.org_read(&scope.org()).await?;
        let c = fetch(&mut conn, &scope.org(), id).await?;
        conn.commit().await?;
        Ok(c)
    }

    /// The tokens to revoke at the provider before disconnecting (admins only).
    pub async fn connection_tokens(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<(Connection, Option<Tokens>), StoreError> {
        let connection = self.get_connection(scope, id).await?;
        must_admin(scope)?;
        let mut tx = self.org_tx(&scope.org()).await?;
        let tokens = self.read_tokens(&mut tx, &scope.org(), id).await;
        tx.commit().await?;
        Ok((connection, tokens.unwrap_or(None)))
    }

    /// Disconnect: forget the tokens and stop syncing. With `delete_data`, every record
    /// synced through the connection goes too (and the connection itself); without it,
    /// the data stays, read-only, under a disconnected connection.
    pub async fn disconnect(
        &self,
        scope: &Scope,
        id: &str,
        delete_data: bool,
    ) -> Result<(), StoreError> {
        let connection = self.get_connection(scope, id).await?;
        must_admin(scope)?;
        let org = scope.org();
        let mut tx = self.org_tx(&org).await?;
        jobs::unschedule(&mut tx, &job_key(id)).await?;
        sqlx::query("DELETE FROM crm_tokens WHERE org_id = $1 AND id = $2")
            .bind(org.clone())
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?;
        if delete_data {
            super::mirror_sql::delete_connection_data(&mut tx, &org, id).await?;
            sqlx::query("DELETE FROM crm_connections WHERE org_id = $1 AND id = $2")
                .bind(org.clone())
                .bind(id.to_owned())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "UPDATE crm_connections SET status = 'disconnected', status_reason = NULL, updated_at = $3 \
                 WHERE org_id = $1 AND id = $2",
            )
            .bind(org.clone())
            .bind(id.to_owned())
            .bind(self.clock.now())
            .execute(&mut *tx)
            .await?;
        }
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "integration.disconnected")
                .target("integration", id)
                .detail(json!({
                    "provider": connection.provider.as_str(),
                    "deleted_data": delete_data,
                })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Point a connection at another API base URL (admins only). Not reachable over
    /// HTTP — letting a browser choose where Pitchside sends tokens would be a
    /// server-side request forgery; `pitchside demo` uses it to follow its embedded mock
    /// CRM to the port it got on this start.
    pub async fn repoint_connection(
        &self,
        scope: &Scope,
        id: &str,
        api_base: &str,
    ) -> Result<(), StoreError> {
        self.get_connection(scope, id).await?;
        must_admin(scope)?;
        let org = scope.org();
        let mut tx = self.org_tx(&org).await?;
        sqlx::query("UPDATE crm_connections SET api_base = $3, updated_at = $4 WHERE org_id = $1 AND id = $2")
            .bind(org.clone())
            .bind(id.to_owned())
            .bind(api_base.to_owned())
            .bind(self.clock.now())
            .execute(&mut *tx)
            .await?;
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "integration.repointed")
                .target("integration", id)
                .detail(json!({ "api_base": api_base })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Change how often a connection syncs and its share of the CRM's daily API budget
    /// (admins only; the caller checks the ranges). A shorter interval pulls the next
    /// scheduled sync forward to the last success plus the new interval; a longer one
    /// applies from the next run on.
    pub async fn update_connection_settings(
        &self,
        scope: &Scope,
        id: &str,
        sync_interval_secs: Option<i64>,
        quota_share_pct: Option<i64>,
    ) -> Result<Connection, StoreError> {
        let connection = self.get_connection(scope, id).await?;
        must_admin(scope)?;
        if connection.status == ConnectionStatus::Disconnected {
            return Err(StoreError::Conflict("integration_disconnected"));
        }
        let interval = sync_interval_secs.unwrap_or(connection.sync_interval_secs);
        let share = quota_share_pct.unwrap_or(connection.quota_share_pct);
        let org = scope.org();
        let now = self.clock.now();
        let mut tx = self.org_tx(&org).await?;
        sqlx::query(
            "UPDATE crm_connections SET sync_interval_secs = $3, quota_share_pct = $4, updated_at = $5 \
             WHERE org_id = $1 AND id = $2",
        )
        .bind(org.clone())
        .bind(id.to_owned())
        .bind(interval)
        .bind(share)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if interval < connection.sync_interval_secs {
            let next = connection.last_success_at.unwrap_or(now) + interval;
            schedule_sync(&mut tx, &org, id, next, now, false).await?;
        }
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "integration.settings_changed")
                .target("integration", id)
                .detail(json!({
                    "sync_interval_secs": [connection.sync_interval_secs, interval],
                    "quota_share_pct": [connection.quota_share_pct, share],
                })),
        )
        .await?;
        tx.commit().await?;
        Ok(Connection {
            sync_interval_secs: interval,
            quota_share_pct: share,
            updated_at: now,
            ..connection
        })
    }

    /// Ask for a sync now (admins only); `full` re-reads everything from the CRM.
    pub async fn request_sync(
        &self,
        scope: &Scope,
        id: &str,
        full: bool,
    ) -> Result<(), StoreError> {
        let connection = self.get_connection(scope, id).await?;
        must_admin(scope)?;
        if connection.status == ConnectionStatus::Disconnected {
            return Err(StoreError::Conflict("integration_disconnected"));
        }
        let org = scope.org();
        let now = self.clock.now();
        let mut tx = self.org_tx(&org).await?;
        if full {
            sqlx::query("UPDATE crm_connections SET full_resync = 1, updated_at = $3 WHERE org_id = $1 AND id = $2")
                .bind(org.clone())
                .bind(id.to_owned())
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        schedule_sync(&mut tx, &org, id, now, now, true).await?;
        tx.commit().await?;
        Ok(())
    }

    /// When the connection syncs next, and whether a sync runs now.
    pub async fn sync_schedule(
        &self,
        scope: &Scope,
        id: &str,
    ) -> Result<Option<(i64, bool)>, StoreError> {
        self.get_connection(scope, id).await?;
        let mut conn = self.pool.acquire().await?;
        jobs::job_state(&mut conn, &job_key(id), self.clock.now()).await
    }

    /// Owners of a connection and whom they map to (admins and executives).
    pub async fn list_owners(
        &self,
        scope: &Scope,
        connection_id: &str,
    ) -> Result<Vec<OwnerMapping>, StoreError> {
        self.get_connection(scope, connection_id).await?;
        let mut conn = self.org_read(&scope.org()).await?;
        let rows = sqlx::query(
            "SELECT id, external_id, name, email, active, user_id, user_override FROM crm_owners \
             WHERE org_id = $1 AND connection_id = $2 ORDER BY name, external_id",
        )
        .bind(scope.org())
        .bind(connection_id.to_owned())
        .fetch_all(&mut *conn)
        .await?;
        conn.commit().await?;
        rows.iter()
            .map(|row| {
                let active: i64 = row.try_get("active")?;
                let manual: Option<String> = row.try_get("user_override")?;
                Ok(OwnerMapping {
                    id: row.try_get("id")?,
                    external_id: row.try_get("external_id")?,
                    name: row.try_get("name")?,
                    email: row.try_get("email")?,
                    active: active != 0,
                    user_id: crate::models::parse_opt(row, "user_id")?,
                    manual: manual.map(|m| if m == "none" { None } else { m.parse().ok() }),
                })
            })
            .collect()
    }

    /// Map an owner by hand (`Some(Some(user))`), to nobody (`Some(None)`), or back
    /// to matching by email (`None`). Admins only; the user must be in the org.
    pub async fn set_owner_mapping(
        &self,
        scope: &Scope,
        connection_id: &str,
        owner_id: &str,
        mapping: Option<Option<UserId>>,
    ) -> Result<OwnerMapping, StoreError> {
        self.get_connection(scope, connection_id).await?;
        must_admin(scope)?;
        let org = scope.org();
        let mut tx = self.org_tx(&org).await?;
        if let Some(Some(user)) = mapping {
            crate::users::visible_user(&mut tx, scope, user)
                .await
                .map_err(|_| StoreError::invalid("user_id", "no such user in this organization"))?;
        }
        let value = mapping.map(|m| m.map_or_else(|| "none".to_owned(), |u| u.to_string()));
        let done = sqlx::query(
            "UPDATE crm_owners SET user_override = $4 WHERE org_id = $1 AND connection_id = $2 AND id = $3",
        )
        .bind(org.clone())
        .bind(connection_id.to_owned())
        .bind(owner_id.to_owned())
        .bind(value)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        super::mirror_sql::remap_owners(&mut tx, &org, connection_id).await?;
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "integration.owner_mapped")
                .target("crm_owner", owner_id)
                .detail(json!({ "integration_id": connection_id, "user_id": mapping.map(|m| m.map(|u| u.to_string())) })),
        )
        .await?;
        tx.commit().await?;
        let owners = self.list_owners(scope, connection_id).await?;
        owners
            .into_iter()
            .find(|o| o.id == owner_id)
            .ok_or(StoreError::NotFound)
    }

    /// Start an OAuth flow (admins only): a fresh `state` (256 bits), remembered with
    /// the session, org and provider for ten minutes, with the PKCE verifier sealed.
    pub async fn create_oauth_state(
        &self,
        scope: &Scope,
        provider: Provider,
        verifier: Option<&str>,
    ) -> Result<String, StoreError> {
        must_admin(scope)?;
        let state = vault::random_token(32);
        let id = state_id(&state);
        let org = scope.org();
        let now = self.clock.now();
        let sealed = verifier
            .map(|v| {
                self.keys()
                    .ring(Domain::CrmTokens)
                    .seal(state_context(&org, &id), v.as_bytes())
                    .map_err(|e| StoreError::Config(e.to_string()))
            })
            .transpose()?;
        let mut tx = self.org_tx(&org).await?;
        sqlx::query("DELETE FROM oauth_states WHERE org_id = $1 AND expires_at < $2")
            .bind(org.clone())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO oauth_states (id, org_id, session_id, user_id, provider, verifier_sealed, verifier_key_id, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id)
        .bind(org)
        .bind(scope.session_id().to_string())
        .bind(scope.user())
        .bind(provider.as_str())
        .bind(sealed.as_ref().map(|s| s.token.clone()))
        .bind(sealed.map(|s| s.key_id))
        .bind(now + OAUTH_STATE_SECS)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(state)
    }

    /// Use up an OAuth `state` at the callback: it must have been made by this
    /// session, for this provider, less than ten minutes ago, and not used before.
    /// Returns the PKCE verifier (if any). Anything else is NotFound.
    pub async fn take_oauth_state(
        &self,
        scope: &Scope,
        provider: Provider,
        state: &str,
    ) -> Result<Option<String>, StoreError> {
        let id = state_id(state);
        let org = scope.org();
        let mut tx = self.org_tx(&org).await?;
        let row = sqlx::query(
            "DELETE FROM oauth_states WHERE org_id = $1 AND id = $2 RETURNING session_id, provider, verifier_sealed, expires_at",
        )
        .bind(org.clone())
        .bind(id.clone())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        let row = row.ok_or(StoreError::NotFound)?;
        let session: String = row.try_get("session_id")?;
        let stored_provider: String = row.try_get("provider")?;
        let expires: i64 = row.try_get("expires_at")?;
        if session != scope.session_id().to_string()
            || stored_provider != provider.as_str()
            || expires < self.clock.now()
        {
            return Err(StoreError::NotFound);
        }
        let sealed: Option<String> = row.try_get("verifier_sealed")?;
        sealed
            .map(|token| {
                self.keys()
                    .ring(Domain::CrmTokens)
                    .open(state_context(&org, &id), &token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or(StoreError::Sealed)
            })
            .transpose()
    }
}

/// How long an OAuth `state` lives.
pub const OAUTH_STATE_SECS: i64 = 600;

fn state_id(state: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(state.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn state_context<'a>(org: &'a str, id: &'a str) -> SealContext<'a> {
    SealContext {
        org,
        table: "oauth_states",
        column: "verifier",
        row: id,
    }
}

pub(crate) async fn fetch(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    id: &str,
) -> Result<Connection, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM crm_connections WHERE org_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.to_owned())
        .bind(id.to_owned())
        .fetch_optional(conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    Connection::from_row(&row)
}
