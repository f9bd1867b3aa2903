//! CRM data in: connections and their sealed tokens ([`connections`]), the mirror a
//! sync writes page by page with its checkpoint ([`mirror`]), run history and quota
//! ([`runs`]), and what viewers read of the mirrored records, by seat ([`read`]).
//!
//! The sync engine reaches a connection only through a [`JobLease`] from the job queue:
//! the lease names the organization and connection, and every write checks it is
//! still held, so no code path writes a tenant's mirror without owning its sync.

mod commit;
mod connections;
mod mirror;
mod mirror_sql;
mod read;
mod rows;
mod runs;

pub use commit::StagedPage;
pub use connections::{
    AuthKind, Connection, ConnectionStatus, NewConnection, OAUTH_STATE_SECS, OwnerMapping, Tokens,
};
pub use mirror::{PageOutcome, PageWrite, PreparedPage, RecentIds};
pub use read::{
    ActivityFilter, ActivityRow, CompanyRow, ContactRow, DealFilter, DealRow, OwnerRef, StageRef,
    StageTotal,
};
pub use runs::{KindStats, QuotaDay, QuotaUse, RunStats, SyncRun};

use serde_json::json;
use sqlx::Row;

use crate::audit::{Actor, Event};
use crate::jobs::JobLease;
use crate::{Origin, Store, StoreError};

/// The organization and connection a sync lease is for.
pub(crate) fn lease_target(lease: &JobLease) -> Result<(String, String), StoreError> {
    #[derive(serde::Deserialize)]
    struct Payload {
        connection_id: String,
    }
    let p: Payload = serde_json::from_str(&lease.payload)
        .map_err(|_| StoreError::Corrupt("sync job payload".into()))?;
    Ok((lease.org_id.clone(), p.connection_id))
}

/// A connection as its sync needs it: settings and opened credentials.
#[derive(Debug)]
pub struct SyncTarget {
    pub connection: Connection,
    pub tokens: Option<Tokens>,
}

impl Store {
    /// The leased connection and its tokens (opened in memory only).
    pub async fn sync_target(&self, lease: &JobLease) -> Result<SyncTarget, StoreError> {
        let (org, id) = lease_target(lease)?;
        let mut tx = self.org_tx(&org).await?;
        let connection = connections::fetch(&mut tx, &org, &id).await?;
        let tokens = self.read_tokens(&mut tx, &org, &id).await;
        // A failed open was audited inside; keep that record.
        tx.commit().await?;
        Ok(SyncTarget {
            connection,
            tokens: tokens?,
        })
    }

    /// Store refreshed tokens for the leased connection.
    pub async fn store_tokens(&self, lease: &JobLease, tokens: &Tokens) -> Result<(), StoreError> {
        let (org, id) = lease_target(lease)?;
        let now = self.clock.now();
        let mut tx = self.org_tx(&org).await?;
        mirror_sql::fence(&mut tx, lease, now).await?;
        self.write_tokens(&mut tx, &org, &id, tokens, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Record how a run ended. Success makes the connection healthy again; a failure
    /// counts, and after [`UNHEALTHY_AFTER`] failures in a row the connection is marked
    /// unhealthy with the reason; refused credentials mark it as needing a reconnect;
    /// an exhausted API budget pauses it. When it turns unhealthy or needs
    /// reconnecting, the organization's admins get an email (queued in the outbox) and
    /// the audit log an entry — once, not on every failed retry.
    pub async fn record_sync_outcome(
        &self,
        lease: &JobLease,
        outcome: SyncOutcome<'_>,
    ) -> Result<ConnectionStatus, StoreError> {
        let (org, id) = lease_target(lease)?;
        let now = self.clock.now();
        let mut tx = self.org_tx(&org).await?;
        let before = connections::fetch(&mut tx, &org, &id).await?;
        let (status, reason, failures) = match outcome {
            SyncOutcome::Succeeded => (ConnectionStatus::Active, None, 0),
            SyncOutcome::Failed(reason) => {
                let failures = before.consecutive_failures + 1;
                let status = if failures >= UNHEALTHY_AFTER {
                    ConnectionStatus::Unhealthy
                } else {
                    match before.status {
                        ConnectionStatus::Paused => ConnectionStatus::Active,
                        s => s,
                    }
                };
                (status, Some(reason), failures)
            }
            SyncOutcome::NeedsReconnect(reason) => (
                ConnectionStatus::NeedsReconnect,
                Some(reason),
                before.consecutive_failures + 1,
            ),
            SyncOutcome::Paused(reason) => (
                ConnectionStatus::Paused,
                Some(reason),
                before.consecutive_failures,
            ),
        };
        let reason = reason.map(|r| r.chars().take(300).collect::<String>());
        sqlx::query(
            "UPDATE crm_connections SET status = $3, status_reason = $4, consecutive_failures = $5, \
             updated_at = $6, last_success_at = CASE WHEN $7 = 1 THEN $6 ELSE last_success_at END \
             WHERE org_id = $1 AND id = $2 AND status <> 'disconnected'",
        )
        .bind(org.clone())
        .bind(id.clone())
        .bind(status.as_str())
        .bind(reason.clone())
        .bind(failures)
        .bind(now)
        .bind(i64::from(matches!(outcome, SyncOutcome::Succeeded)))
        .execute(&mut *tx)
        .await?;
        let worse = matches!(
            status,
            ConnectionStatus::Unhealthy | ConnectionStatus::NeedsReconnect
        ) && before.status != status;
        if worse {
            let action = if status == ConnectionStatus::NeedsReconnect {
                "integration.refresh_failed"
            } else {
                "integration.unhealthy"
            };
            crate::audit::append(
                &mut tx,
                &org,
                now,
                &Origin::default(),
                Event::new(Actor::System, action)
                    .target("integration", &id)
                    .detail(json!({ "provider": before.provider.as_str(), "reason": reason })),
            )
            .await?;
            let admins: Vec<String> = sqlx::query(
                "SELECT email FROM users WHERE org_id = $1 AND is_admin = 1 AND disabled_at IS NULL",
            )
            .bind(org.clone())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("email"))
            .collect::<Result<_, _>>()?;
            let label = before.provider.label();
            let subject = if status == ConnectionStatus::NeedsReconnect {
                format!("Reconnect {label} in Pitchside")
            } else {
                format!("{label} sync is failing in Pitchside")
            };
            let body = format!(
                "Pitchside could not sync your {label} data: {}.\n\nOpen Settings → Integrations to see the details{}.",
                reason.as_deref().unwrap_or("unknown error"),
                if status == ConnectionStatus::NeedsReconnect {
                    " and reconnect the account"
                } else {
                    ""
                }
            );
            for to in admins {
                sqlx::query(
                    "INSERT INTO outbox_emails (id, org_id, kind, to_address, subject, body_text, created_at) \
                     VALUES ($1, $2, 'integration_alert', $3, $4, $5, $6)",
                )
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(org.clone())
                .bind(to)
                .bind(subject.clone())
                .bind(body.clone())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(status)
    }
}

/// Failed runs in a row after which a connection is marked unhealthy.
pub const UNHEALTHY_AFTER: i64 = 3;

/// How a sync run ended.
#[derive(Clone, Copy, Debug)]
pub enum SyncOutcome<'a> {
    Succeeded,
    /// Failed with a readable reason; retried later.
    Failed(&'a str),
    /// The provider refused our credentials and a refresh did not help.
    NeedsReconnect(&'a str),
    /// The API budget (or our share of it) is used up.
    Paused(&'a str),
}
