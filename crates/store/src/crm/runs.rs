//! Sync runs and quota: what each run read, created, updated, deleted and skipped per
//! kind, the requests it made and the 429s it met (written with every page, so a crash
//! loses nothing of the history), and how much of the CRM's daily API budget each
//! connection used per day.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::jobs::JobLease;
use crate::{Scope, Store, StoreError};

/// Counters of one kind within a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindStats {
    /// Records received from the CRM.
    pub read: u64,
    pub created: u64,
    pub updated: u64,
    /// Received but not newer than what the mirror holds.
    pub unchanged: u64,
    pub deleted: u64,
    /// Records the connector could not map (counted, reasons logged).
    pub skipped: u64,
    pub pages: u64,
}

/// A run's counters, per kind, and its requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStats {
    pub kinds: BTreeMap<String, KindStats>,
    pub requests: u64,
    pub throttled: u64,
    /// Pass of each kind in this run: "full" or "incremental".
    #[serde(default)]
    pub passes: BTreeMap<String, String>,
}

impl RunStats {
    pub fn kind(&mut self, kind: &str) -> &mut KindStats {
        self.kinds.entry(kind.to_owned()).or_default()
    }

    /// Totals over every kind.
    pub fn total(&self) -> KindStats {
        let mut t = KindStats::default();
        for k in self.kinds.values() {
            t.read += k.read;
            t.created += k.created;
            t.updated += k.updated;
            t.unchanged += k.unchanged;
            t.deleted += k.deleted;
            t.skipped += k.skipped;
            t.pages += k.pages;
        }
        t
    }
}

/// One run, as the history shows it.
#[derive(Clone, Debug)]
pub struct SyncRun {
    pub id: String,
    pub trigger: String,
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub stats: RunStats,
    pub error: Option<String>,
}

/// One day of API budget use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuotaDay {
    /// `YYYY-MM-DD` (UTC).
    pub day: String,
    /// Requests (Pipedrive: tokens) Pitchside spent.
    pub used: u64,
    /// The daily budget, as reported by the provider or configured.
    pub daily_limit: Option<u64>,
    /// The provider's own count of the day's use by everyone (where it reports one).
    pub provider_used: Option<u64>,
    pub provider_remaining: Option<u64>,
}

/// This page's contribution to the day's quota.
#[derive(Clone, Debug, Default)]
pub struct QuotaUse {
    pub day: String,
    /// Spent since the last page.
    pub used: u64,
    pub daily_limit: Option<u64>,
    pub provider_used: Option<u64>,
    pub provider_remaining: Option<u64>,
}

impl Store {
    /// Start a run (and mark runs of this connection that a crash left "running" as
    /// interrupted).
    pub async fn begin_run(&self, lease: &JobLease, trigger: &str) -> Result<String, StoreError> {
        let (org, connection) = super::lease_target(lease)?;
        let id = uuid::Uuid::now_v7().to_string();
        let now = self.clock.now();
        let mut tx = self.org_tx(&org).await?;
        sqlx::query(
            "UPDATE crm_sync_runs SET status = 'interrupted', finished_at = $3 \
             WHERE org_id = $1 AND connection_id = $2 AND status = 'running'",
        )
        .bind(org.clone())
        .bind(connection.clone())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO crm_sync_runs (id, org_id, connection_id, trigger_kind, status, started_at, stats) \
             VALUES ($1, $2, $3, $4, 'running', $5, '{}')",
        )
        .bind(id.clone())
        .bind(org)
        .bind(connection)
        .bind(trigger.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// End a run with its final counters and the quota use not yet stored with a
    /// page (requests after the last stored page: a prefetch, a refused page).
    pub async fn end_run(
        &self,
        lease: &JobLease,
        run_id: &str,
        status: &str,
        stats: &RunStats,
        error: Option<&str>,
        rest: &QuotaUse,
    ) -> Result<(), StoreError> {
        let (org, connection) = super::lease_target(lease)?;
        let mut tx = self.org_tx(&org).await?;
        write_run(&mut tx, &org, run_id, stats).await?;
        add_quota(&mut tx, &org, &connection, rest).await?;
        sqlx::query(
            "UPDATE crm_sync_runs SET status = $3, finished_at = $4, error = $5 WHERE org_id = $1 AND id = $2",
        )
        .bind(org.clone())
        .bind(run_id.to_owned())
        .bind(status.to_owned())
        .bind(self.clock.now())
        .bind(error.map(|e| e.chars().take(500).collect::<String>()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest runs of a connection, newest first (admins and executives).
    pub async fn list_runs(
        &self,
        scope: &Scope,
        connection_id: &str,
        limit: u32,
    ) -> Result<Vec<SyncRun>, StoreError> {
        self.get_connection(scope, connection_id).await?;
        let mut conn = self.org_read(&scope.org()).await?;
        let rows = sqlx::query(
            "SELECT id, trigger_kind, status, started_at, finished_at, stats, error FROM crm_sync_runs \
             WHERE org_id = $1 AND connection_id = $2 ORDER BY started_at DESC, id DESC LIMIT $3",
        )
        .bind(scope.org())
        .bind(connection_id.to_owned())
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        conn.commit().await?;
        rows.iter()
            .map(|r| {
                let stats: String = r.try_get("stats")?;
                Ok(SyncRun {
                    id: r.try_get("id")?,
                    trigger: r.try_get("trigger_kind")?,
                    status: r.try_get("status")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    stats: serde_json::from_str(&stats).unwrap_or_default(),
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    /// The connection's API budget use on `day` (admins and executives).
    pub async fn quota_day(
        &self,
        scope: &Scope,
        connection_id: &str,
        day: &str,
    ) -> Result<QuotaDay, StoreError> {
        self.get_connection(scope, connection_id).await?;
        let mut conn = self.org_read(&scope.org()).await?;
        let q = read_quota(&mut conn, &scope.org(), connection_id, day).await?;
        conn.commit().await?;
        Ok(q)
    }

    /// The same, for the sync engine deciding whether to go on.
    pub async fn lease_quota_day(
        &self,
        lease: &JobLease,
        day: &str,
    ) -> Result<QuotaDay, StoreError> {
        let (org, connection) = super::lease_target(lease)?;
        let mut conn = self.org_read(&org).await?;
        let q = read_quota(&mut conn, &org, &connection, day).await?;
        conn.commit().await?;
        Ok(q)
    }
}

async fn read_quota(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    day: &str,
) -> Result<QuotaDay, StoreError> {
    let row = sqlx::query(
        "SELECT used, daily_limit, provider_used, provider_remaining FROM crm_quota \
         WHERE org_id = $1 AND connection_id = $2 AND day = $3",
    )
    .bind(org.to_owned())
    .bind(connection.to_owned())
    .bind(day.to_owned())
    .fetch_optional(conn)
    .await?;
    let u = |v: Option<i64>| v.map(|v| v.max(0) as u64);
    Ok(match row {
        None => QuotaDay {
            day: day.to_owned(),
            ..QuotaDay::default()
        },
        Some(r) => QuotaDay {
            day: day.to_owned(),
            used: r.try_get::<i64, _>("used")?.max(0) as u64,
            daily_limit: u(r.try_get("daily_limit")?),
            provider_used: u(r.try_get("provider_used")?),
            provider_remaining: u(r.try_get("provider_remaining")?),
        },
    })
}

/// Write the run's counters (inside the page's transaction).
pub(crate) async fn write_run(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    run_id: &str,
    stats: &RunStats,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE crm_sync_runs SET stats = $3, requests = $4, throttled = $5 WHERE org_id = $1 AND id = $2",
    )
    .bind(org.to_owned())
    .bind(run_id.to_owned())
    .bind(serde_json::to_string(stats).unwrap_or_else(|_| "{}".into()))
    .bind(stats.requests as i64)
    .bind(stats.throttled as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// Add a page's quota use (inside the page's transaction).
pub(crate) async fn add_quota(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    q: &QuotaUse,
) -> Result<(), StoreError> {
    let i = |v: Option<u64>| v.map(|v| v.min(i64::MAX as u64) as i64);
    sqlx::query(
        "INSERT INTO crm_quota (org_id, connection_id, day, used, daily_limit, provider_used, provider_remaining) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (org_id, connection_id, day) DO UPDATE SET used = crm_quota.used + excluded.used, \
         daily_limit = COALESCE(excluded.daily_limit, crm_quota.daily_limit), \
         provider_used = COALESCE(excluded.provider_used, crm_quota.provider_used), \
         provider_remaining = COALESCE(excluded.provider_remaining, crm_quota.provider_remaining)",
    )
    .bind(org.to_owned())
    .bind(connection.to_owned())
    .bind(q.day.clone())
    .bind(q.used as i64)
    .bind(i(q.daily_limit))
    .bind(i(q.provider_used))
    .bind(i(q.provider_remaining))
    .execute(conn)
    .await?;
    Ok(())
}

/// The content of every mirror table, row ids, seals and sync bookkeeping left out.
const CHECKSUM_QUERIES: [&str; 8] = [
    "SELECT external_id || '|' || COALESCE(email, '') || '|' || name || '|' || CAST(active AS TEXT) FROM crm_owners WHERE org_id = $1",
    "SELECT external_id || '|' || label || '|' || CAST(display_order AS TEXT) FROM crm_pipelines WHERE org_id = $1",
    "SELECT pipeline_ext || '|' || external_id || '|' || label || '|' || CAST(is_closed AS TEXT) || CAST(is_won AS TEXT) FROM crm_stages WHERE org_id = $1",
    "SELECT external_id || '|' || name || '|' || COALESCE(domain, '') || '|' || COALESCE(owner_ext, '') || '|' || CAST(updated_ms AS TEXT) FROM crm_companies WHERE org_id = $1",
    "SELECT external_id || '|' || name || '|' || COALESCE(email, '') || '|' || COALESCE(company_ext, '') || '|' || CAST(updated_ms AS TEXT) FROM crm_contacts WHERE org_id = $1",
    "SELECT external_id || '|' || name || '|' || COALESCE(amount, '') || '|' || COALESCE(currency, '') || '|' || COALESCE(stage_ext, '') || '|' || COALESCE(owner_ext, '') || '|' || COALESCE(company_ext, '') || '|' || CAST(updated_ms AS TEXT) FROM crm_deals WHERE org_id = $1",
    "SELECT deal_ext || '|' || contact_ext FROM crm_deal_contacts WHERE org_id = $1",
    "SELECT external_id || '|' || activity_type || '|' || COALESCE(subject, '') || '|' || COALESCE(deal_ext, '') || '|' || COALESCE(contact_ext, '') || '|' || CAST(updated_ms AS TEXT) FROM crm_activities WHERE org_id = $1",
];

impl Store {
    /// A checksum over everything synced into an organization's mirror (external ids
    /// and canonical fields; not row ids, seals or sync bookkeeping), and the number of
    /// rows: equal checksums mean equal mirrors. For tests and benchmarks that compare
    /// an interrupted sync with an uninterrupted one.
    pub async fn mirror_checksum(&self, org_id: &str) -> Result<String, StoreError> {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        let mut rows_total = 0;
        let mut conn = self.org_read(org_id).await?;
        for sql in CHECKSUM_QUERIES {
            let mut rows: Vec<String> = sqlx::query_scalar(sql)
                .bind(org_id.to_owned())
                .fetch_all(&mut *conn)
                .await?;
            rows.sort_unstable();
            rows_total += rows.len();
            for row in rows {
                hasher.update(row.as_bytes());
                hasher.update(b"\n");
            }
            hasher.update(b"--\n");
        }
        conn.commit().await?;
        let digest = hasher.finalize();
        let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        Ok(format!("{rows_total} rows, {hex}"))
    }
}
