//! The job queue: one row per recurring job (e.g. the sync of one CRM connection),
//! leased by one worker at a time. A lease is renewed with every unit of work and
//! checked inside each write transaction (a fencing token), so a worker that lost its
//! lease — paused too long, or its instance presumed dead — can no longer write, and a
//! lease that lapses lets another instance take over from the last checkpoint.
//!
//! The table is global (ids and schedules only): workers claim across organizations.
//! Claiming is `FOR UPDATE SKIP LOCKED` on PostgreSQL and a `BEGIN IMMEDIATE`
//! transaction on SQLite (one writer at a time), so two workers never take the same
//! job.

use sqlx::Row;

use crate::{Dialect, Store, StoreError};

/// A job leased by this worker. Only [`Store::claim_job`] makes one.
#[derive(Clone, Debug)]
pub struct JobLease {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) org_id: String,
    pub(crate) payload: String,
    pub(crate) owner: String,
    pub(crate) claimed_at: i64,
    pub(crate) attempts: i64,
    pub(crate) lease_secs: i64,
}

impl JobLease {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn kind(&self) -> &str {
        &self.kind
    }
    pub fn org_id(&self) -> &str {
        &self.org_id
    }
    /// The job's JSON payload.
    pub fn payload(&self) -> &str {
        &self.payload
    }
    /// How many times the job has been claimed without finishing cleanly.
    pub fn attempts(&self) -> i64 {
        self.attempts
    }
    /// When this lease was taken (store clock, epoch seconds).
    pub fn claimed_at(&self) -> i64 {
        self.claimed_at
    }

    /// The CRM connection a sync job is for.
    pub fn connection_id(&self) -> Option<String> {
        serde_json::from_str::<serde_json::Value>(&self.payload)
            .ok()?
            .get("connection_id")?
            .as_str()
            .map(str::to_owned)
    }
}

/// The job kind of CRM syncs.
pub const CRM_SYNC: &str = "crm_sync";

impl Store {
    /// Lease the most overdue job that nobody holds, for `lease_secs`.
    pub async fn claim_job(
        &self,
        owner: &str,
        lease_secs: i64,
    ) -> Result<Option<JobLease>, StoreError> {
        let now = self.clock.now();
        let pick = match self.dialect {
            Dialect::Sqlite => {
                "SELECT id FROM jobs WHERE run_at <= $3 \
                 AND (lease_until IS NULL OR lease_until < $3) ORDER BY run_at LIMIT 1"
            }
            Dialect::Postgres => {
                "SELECT id FROM jobs WHERE run_at <= $3 \
                 AND (lease_until IS NULL OR lease_until < $3) ORDER BY run_at LIMIT 1 \
                 FOR UPDATE SKIP LOCKED"
            }
        };
        let sql = format!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, claimed_at = $3, \
             requested_at = NULL, attempts = attempts + 1, updated_at = $3 WHERE id = ({pick}) \
             RETURNING id, kind, org_id, payload, attempts"
        );
        let mut tx = match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin().await?,
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(owner.to_owned())
            .bind(now + lease_secs)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(JobLease {
            id: row.try_get("id")?,
            kind: row.try_get("kind")?,
            org_id: row.try_get("org_id")?,
            payload: row.try_get("payload")?,
            attempts: row.try_get("attempts")?,
            owner: owner.to_owned(),
            claimed_at: now,
            lease_secs,
        }))
    }

    /// Extend the lease; `Ok(false)` when it is no longer ours.
    pub async fn renew_lease(&self, lease: &JobLease) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        renew(&mut conn, lease, self.clock.now()).await
    }

    /// Release the job: run again at `next_run_at` — or at once, if someone asked for
    /// a run while this one was going. `clean` resets the attempt count.
    pub async fn finish_job(
        &self,
        lease: &JobLease,
        next_run_at: i64,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = NULL, updated_at = $4, \
             run_at = CASE WHEN requested_at IS NOT NULL THEN $4 ELSE $5 END, \
             requested_at = NULL, last_error = $6, \
             attempts = CASE WHEN $6 IS NULL THEN 0 ELSE attempts END \
             WHERE id = $1 AND lease_owner = $2 AND claimed_at = $3",
        )
        .bind(lease.id.clone())
        .bind(lease.owner.clone())
        .bind(lease.claimed_at)
        .bind(now)
        .bind(next_run_at)
        .bind(error.map(|e| e.chars().take(500).collect::<String>()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Renew `lease` through `conn` (inside a caller's transaction, this is the fencing
/// check: zero rows means another worker holds the job now).
pub(crate) async fn renew(
    conn: &mut sqlx::AnyConnection,
    lease: &JobLease,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE jobs SET lease_until = $4, updated_at = $5 \
         WHERE id = $1 AND lease_owner = $2 AND claimed_at = $3",
    )
    .bind(lease.id.clone())
    .bind(lease.owner.clone())
    .bind(lease.claimed_at)
    .bind(now + lease.lease_secs)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Make sure the recurring job `key` exists and runs no later than `run_at`; with
/// `requested`, someone asked for a run (a run already going will be followed by
/// another). Runs in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn schedule(
    conn: &mut sqlx::AnyConnection,
    org_id: &str,
    kind: &str,
    key: &str,
    payload: &str,
    run_at: i64,
    now: i64,
    requested: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO jobs (id, org_id, kind, job_key, payload, run_at, requested_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $8, $7, $7) \
         ON CONFLICT (job_key) DO UPDATE SET run_at = CASE WHEN jobs.run_at > excluded.run_at \
           THEN excluded.run_at ELSE jobs.run_at END, \
           requested_at = COALESCE(excluded.requested_at, jobs.requested_at), \
           updated_at = excluded.updated_at",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(org_id.to_owned())
    .bind(kind.to_owned())
    .bind(key.to_owned())
    .bind(payload.to_owned())
    .bind(run_at)
    .bind(now)
    .bind(requested.then_some(now))
    .execute(conn)
    .await?;
    Ok(())
}

/// Remove the recurring job `key`.
pub(crate) async fn unschedule(
    conn: &mut sqlx::AnyConnection,
    key: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM jobs WHERE job_key = $1")
        .bind(key.to_owned())
        .execute(conn)
        .await?;
    Ok(())
}

/// When the job `key` runs next and whether a worker holds it now.
pub(crate) async fn job_state(
    conn: &mut sqlx::AnyConnection,
    key: &str,
    now: i64,
) -> Result<Option<(i64, bool)>, StoreError> {
    let row = sqlx::query("SELECT run_at, lease_until FROM jobs WHERE job_key = $1")
        .bind(key.to_owned())
        .fetch_optional(conn)
        .await?;
    row.map(|r| {
        let run_at: i64 = r.try_get("run_at")?;
        let lease: Option<i64> = r.try_get("lease_until")?;
        Ok((run_at, lease.is_some_and(|l| l >= now)))
    })
    .transpose()
}
