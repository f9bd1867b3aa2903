//! One sync run of one connection: every kind in order, page by page, each page stored
//! with its checkpoint; tokens refreshed before they expire (and once on a 401);
//! transient failures retried with backoff; the daily API budget guarded; the outcome
//! recorded on the connection and the next run scheduled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use connectors::oauth::{self, Profile};
use connectors::{Batch, Change, Checkpoint, Connector, ConnectorError, Credentials, Meter, Pass};
use domain::crm::{ObjectKind, Record};
use store::crm::{
    AuthKind, Connection, ConnectionStatus, PageWrite, QuotaUse, RunStats, SyncOutcome, Tokens,
};
use store::{JobLease, Store, StoreError};

use crate::SyncConfig;

/// How a run ended, for callers that run jobs themselves (tests, `demo`).
#[derive(Clone, Debug)]
pub struct RunReport {
    pub connection_id: String,
    pub stats: RunStats,
    /// `succeeded`, `failed`, `paused`, or `needs_reconnect`.
    pub status: &'static str,
    pub error: Option<String>,
}

/// Why a run stopped early.
#[derive(Debug)]
enum Stop {
    /// Retry later (after `Some(wait)` if the provider said how long).
    Failed(String, Option<Duration>),
    NeedsReconnect(String),
    Paused(String),
    /// Another worker holds the job now: write nothing more.
    LeaseLost,
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict("lease_lost") => Stop::LeaseLost,
            StoreError::Sealed => {
                Stop::NeedsReconnect("the stored credentials could not be opened".into())
            }
            other => Stop::Failed(format!("database: {other}"), None),
        }
    }
}

/// The sync engine, shared by the workers of one instance.
pub struct Engine {
    store: Store,
    config: Arc<SyncConfig>,
    worker_id: String,
}

/// A connection's live state during a run: its tokens and a connector built on them.
struct Session {
    connection: Connection,
    tokens: Tokens,
    connector: Connector,
    refreshed: bool,
    /// Counts of connectors replaced during the run (after a token refresh).
    carried: (u64, u64, u64),
}

impl Session {
    fn requests(&self) -> u64 {
        self.carried.0 + self.connector.meter().requests()
    }
    fn throttled(&self) -> u64 {
        self.carried.1 + self.connector.meter().throttled()
    }
    /// Budget units spent: provider token costs where the connector counts them,
    /// requests elsewhere.
    fn units(&self) -> u64 {
        let cost = self.carried.2 + self.connector.meter().cost();
        if cost > 0 { cost } else { self.requests() }
    }
    fn meter(&self) -> &Meter {
        self.connector.meter()
    }
}

/// Today's use of the API budget, as this run sees it.
struct Budget {
    day: String,
    /// Units spent today before this run.
    before: u64,
    /// Units of this run already stored.
    stored: u64,
    share_pct: u64,
    fallback_limit: Option<u64>,
}

impl Budget {
    /// Stop if this run would take more than its share of the day's budget, or leave
    /// the customer's other integrations less than theirs.
    fn check(&self, session: &Session) -> Result<(), Stop> {
        let reading = session.meter().quota();
        let Some(limit) = reading
            .daily_limit
            .or(self.fallback_limit)
            .filter(|l| *l > 0)
        else {
            return Ok(());
        };
        let ours = self.before + session.units();
        if ours * 100 >= limit * self.share_pct {
            return Err(Stop::Paused(format!(
                "Pitchside used {ours} of the CRM's daily API budget of {limit} (its share is {}%); it resumes tomorrow",
                self.share_pct
            )));
        }
        let remaining = reading
            .daily_remaining
            .or_else(|| reading.daily_used.map(|u| limit.saturating_sub(u)));
        if let Some(remaining) = remaining
            && remaining * 100 < limit * (100 - self.share_pct.min(100))
        {
            return Err(Stop::Paused(format!(
                "only {remaining} of the CRM's daily API budget of {limit} is left; Pitchside leaves it to your other integrations until tomorrow"
            )));
        }
        Ok(())
    }

    /// This page's share of the day's use (what is not stored yet).
    fn page_use(&mut self, session: &Session, fallback: Option<u64>) -> QuotaUse {
        let units = session.units();
        let used = units.saturating_sub(self.stored);
        self.stored = units;
        let reading = session.meter().quota();
        QuotaUse {
            day: self.day.clone(),
            used,
            daily_limit: reading.daily_limit.or(fallback),
            provider_used: reading.daily_used,
            provider_remaining: reading.daily_remaining,
        }
    }
}

fn new_pass_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// `YYYY-MM-DD` (UTC) of epoch seconds.
fn day_of(secs: i64) -> String {
    let dt =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day()
    )
}

impl Engine {
    pub fn new(store: Store, config: SyncConfig) -> Self {
        Self {
            store,
            config: Arc::new(config),
            worker_id: format!("worker-{}", uuid::Uuid::now_v7()),
        }
    }

    pub fn config(&self) -> &SyncConfig {
        &self.config
    }

    /// Claim one due job and run it. `None` when nothing is due.
    pub async fn run_next(&self) -> Result<Option<RunReport>, StoreError> {
        let Some(lease) = self
            .store
            .claim_job(&self.worker_id, self.config.lease_secs)
            .await?
        else {
            return Ok(None);
        };
        if lease.kind() != store::CRM_SYNC {
            tracing::warn!(kind = lease.kind(), "unknown job kind; released");
            self.store
                .finish_job(
                    &lease,
                    self.store.clock().now() + 3600,
                    Some("unknown job kind"),
                )
                .await?;
            return Ok(None);
        }
        Ok(Some(self.run(lease).await))
    }

    /// Run due jobs until none is left (tests and `demo`).
    pub async fn run_until_idle(&self) -> Result<Vec<RunReport>, StoreError> {
        let mut reports = Vec::new();
        while let Some(r) = self.run_next().await? {
            reports.push(r);
        }
        Ok(reports)
    }

    /// Run a leased sync job to its end, keeping the lease alive meanwhile.
    pub async fn run(&self, lease: JobLease) -> RunReport {
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = {
            let store = self.store.clone();
            let lease = lease.clone();
            let lost = lost.clone();
            let every = Duration::from_secs((self.config.lease_secs / 3).max(1) as u64);
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    if !matches!(store.renew_lease(&lease).await, Ok(true)) {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            })
        };
        let mut stats = RunStats::default();
        let (connection_id, interval, result) = self.sync(&lease, &mut stats).await;
        heartbeat.abort();
        let now = self.store.clock().now();
        let (status, error, next, outcome) = match &result {
            Ok(()) => (
                "succeeded",
                None,
                now + interval,
                Some(SyncOutcome::Succeeded),
            ),
            Err(Stop::Failed(reason, wait)) => {
                let backoff = 30_i64 << (lease.attempts().clamp(1, 6) - 1);
                let wait = wait.map_or(backoff.min(interval), |w| w.as_secs() as i64);
                (
                    "failed",
                    Some(reason.clone()),
                    now + wait.max(1),
                    Some(SyncOutcome::Failed(reason)),
                )
            }
            Err(Stop::NeedsReconnect(reason)) => (
                "needs_reconnect",
                Some(reason.clone()),
                now + 6 * 3600,
                Some(SyncOutcome::NeedsReconnect(reason)),
            ),
            Err(Stop::Paused(reason)) => (
                "paused",
                Some(reason.clone()),
                now + 3600,
                Some(SyncOutcome::Paused(reason)),
            ),
            Err(Stop::LeaseLost) => ("failed", Some("another worker took over".into()), now, None),
        };
        if lost.load(Ordering::Relaxed) || matches!(result, Err(Stop::LeaseLost)) {
            tracing::warn!(connection = %connection_id, "lost the sync lease; another worker continues");
        } else {
            if let Some(outcome) = outcome
                && let Err(e) = self.store.record_sync_outcome(&lease, outcome).await
            {
                tracing::error!(connection = %connection_id, error = %e, "could not record the sync outcome");
            }
            if let Err(e) = self.store.finish_job(&lease, next, error.as_deref()).await {
                tracing::error!(connection = %connection_id, error = %e, "could not release the sync job");
            }
        }
        tracing::info!(
            connection = %connection_id,
            status,
            read = stats.total().read,
            requests = stats.requests,
            throttled = stats.throttled,
            "sync run ended"
        );
        RunReport {
            connection_id,
            stats,
            status,
            error,
        }
    }

    /// The run itself. Returns the connection id, its sync interval and how it ended.
    async fn sync(
        &self,
        lease: &JobLease,
        stats: &mut RunStats,
    ) -> (String, i64, Result<(), Stop>) {
        const DEFAULT_INTERVAL: i64 = 900;
        let target = match self.store.sync_target(lease).await {
            Ok(t) => t,
            Err(e) => {
                let id = lease.connection_id().unwrap_or_default();
                return (id, DEFAULT_INTERVAL, Err(e.into()));
            }
        };
        let connection_id = target.connection.id.clone();
        let interval = target.connection.sync_interval_secs.max(60);
        if target.connection.status == ConnectionStatus::Disconnected {
            return (connection_id, interval, Ok(()));
        }
        let result = self
            .sync_connection(lease, target.connection, target.tokens, stats)
            .await;
        (connection_id, interval, result)
    }

    async fn sync_connection(
        &self,
        lease: &JobLease,
        connection: Connection,
        tokens: Option<Tokens>,
        stats: &mut RunStats,
    ) -> Result<(), Stop> {
        let tokens = tokens.ok_or_else(|| Stop::NeedsReconnect("no stored credentials".into()))?;
        let trigger = if connection.full_resync {
            self.store.reset_checkpoints(lease).await?;
            "resync"
        } else if self
            .store
            .read_checkpoint(lease, ObjectKind::Owner)
            .await?
            .is_none()
        {
            "initial"
        } else {
            "scheduled"
        };
        let mut session = self.session(connection, tokens)?;
        let expires_soon = session
            .tokens
            .expires_at
            .is_some_and(|at| at <= self.store.clock().now() + self.config.refresh_margin_secs);
        if expires_soon && session.tokens.refresh_token.is_some() {
            self.refresh(lease, &mut session).await?;
        }
        let run_id = self.store.begin_run(lease, trigger).await?;
        let day = day_of(self.store.clock().now());
        let before = self.store.lease_quota_day(lease, &day).await?.used;
        let fallback = self
            .config
            .daily_budgets
            .get(&session.connection.provider)
            .copied();
        let mut budget = Budget {
            day,
            before,
            stored: 0,
            share_pct: session.connection.quota_share_pct.clamp(1, 100) as u64,
            fallback_limit: fallback,
        };
        let mut result = Ok(());
        for kind in ObjectKind::ALL {
            result = self
                .sync_kind(lease, &mut session, kind, &run_id, stats, &mut budget)
                .await;
            if result.is_err() {
                break;
            }
        }
        stats.requests = session.requests();
        stats.throttled = session.throttled();
        let (status, error) = match &result {
            Ok(()) => ("succeeded", None),
            Err(Stop::Paused(r)) => ("paused", Some(r.as_str())),
            Err(Stop::Failed(r, _)) | Err(Stop::NeedsReconnect(r)) => ("failed", Some(r.as_str())),
            Err(Stop::LeaseLost) => ("interrupted", Some("another worker took over")),
        };
        if !matches!(result, Err(Stop::LeaseLost)) {
            let rest = budget.page_use(&session, fallback);
            self.store
                .end_run(lease, &run_id, status, stats, error, &rest)
                .await?;
        }
        result
    }

    fn session(&self, connection: Connection, tokens: Tokens) -> Result<Session, Stop> {
        let connector = self.connector(&connection, &tokens)?;
        Ok(Session {
            connection,
            tokens,
            connector,
            refreshed: false,
            carried: (0, 0, 0),
        })
    }

    fn connector(&self, connection: &Connection, tokens: &Tokens) -> Result<Connector, Stop> {
        let credentials = Credentials {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            expires_at: tokens.expires_at,
            static_token: connection.auth_kind == AuthKind::Token,
        };
        Connector::new(
            connection.provider,
            &connection.api_base,
            &credentials,
            self.config.http.clone(),
        )
        .map_err(|e| Stop::Failed(e.to_string(), None))
    }

    /// Trade the refresh token for a new access token, store it sealed, and rebuild
    /// the connector on it.
    async fn refresh(&self, lease: &JobLease, session: &mut Session) -> Result<(), Stop> {
        let provider = session.connection.provider;
        let reconnect = |why: &str| Stop::NeedsReconnect(why.to_owned());
        let app = self
            .config
            .oauth_apps
            .get(&provider)
            .ok_or_else(|| reconnect("no OAuth app is configured to refresh the CRM token"))?;
        let refresh_token = session.tokens.refresh_token.clone().ok_or_else(|| {
            reconnect("the CRM refused the access token and there is no refresh token")
        })?;
        let http = match &self.config.http.client {
            Some(c) => c.clone(),
            None => connectors::http::build_client(self.config.http.timeout)
                .map_err(|e| Stop::Failed(e.to_string(), None))?,
        };
        session.refreshed = true;
        let set = oauth::refresh(
            &http,
            &Profile::for_provider(provider),
            app,
            &self.config.endpoints(provider),
            &refresh_token,
        )
        .await
        .map_err(|e| match e {
            ConnectorError::InvalidGrant => {
                reconnect("the CRM refused the refresh token; reconnect the integration")
            }
            other => Stop::Failed(format!("token refresh failed: {other}"), None),
        })?;
        let tokens = Tokens {
            access_token: set.access_token,
            refresh_token: set.refresh_token.or(Some(refresh_token)),
            expires_at: set.expires_in.map(|s| self.store.clock().now() + s),
        };
        self.store.store_tokens(lease, &tokens).await?;
        let meter = session.connector.meter();
        session.carried.0 += meter.requests();
        session.carried.1 += meter.throttled();
        session.carried.2 += meter.cost();
        session.connector = self.connector(&session.connection, &tokens)?;
        session.tokens = tokens;
        Ok(())
    }

    /// One page, with retries of transient failures.
    async fn fetch(
        &self,
        connector: &Connector,
        kind: ObjectKind,
        checkpoint: &Checkpoint,
    ) -> Result<Batch, ConnectorError> {
        let mut attempt = 0;
        loop {
            match connector.fetch(kind, checkpoint).await {
                Ok(batch) => return Ok(batch),
                Err(e) if e.is_transient() && attempt + 1 < self.config.page_attempts => {
                    if let ConnectorError::RateLimited {
                        retry_after: Some(wait),
                    } = &e
                        && *wait > self.config.http.max_wait
                    {
                        return Err(e);
                    }
                    let base = self.config.page_backoff.as_secs_f64() * 2f64.powi(attempt as i32);
                    let wait = Duration::from_secs_f64(base * (0.5 + 0.5 * rand::random::<f64>()));
                    tracing::debug!(%kind, attempt, error = %e, "page failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// What a connector error means for the run.
    async fn recover(
        &self,
        lease: &JobLease,
        session: &mut Session,
        error: ConnectorError,
    ) -> Result<(), Stop> {
        match error {
            ConnectorError::Unauthorized
                if !session.refreshed && session.tokens.refresh_token.is_some() =>
            {
                self.refresh(lease, session).await
            }
            ConnectorError::Unauthorized => Err(Stop::NeedsReconnect(
                "the CRM refused Pitchside's credentials".into(),
            )),
            ConnectorError::InvalidGrant => Err(Stop::NeedsReconnect(
                "the CRM refused the refresh token; reconnect the integration".into(),
            )),
            ConnectorError::QuotaExhausted => Err(Stop::Paused(
                "the CRM's daily API budget is used up; syncing resumes when it resets".into(),
            )),
            ConnectorError::RateLimited { retry_after } => Err(Stop::Failed(
                "the CRM kept answering 429 Too Many Requests".into(),
                retry_after,
            )),
            other => Err(Stop::Failed(other.to_string(), None)),
        }
    }

    async fn sync_kind(
        &self,
        lease: &JobLease,
        session: &mut Session,
        kind: ObjectKind,
        run_id: &str,
        stats: &mut RunStats,
        budget: &mut Budget,
    ) -> Result<(), Stop> {
        let (mut checkpoint, mut pass_id) = match self.store.read_checkpoint(lease, kind).await? {
            Some((state, pass)) => (
                serde_json::from_str(&state).unwrap_or_else(|_| Checkpoint::full()),
                pass,
            ),
            None => (Checkpoint::full(), new_pass_id()),
        };
        let fallback = budget.fallback_limit;
        let mut pending: Option<Result<Batch, ConnectorError>> = None;
        loop {
            budget.check(session)?;
            let fetched = match pending.take() {
                Some(r) => r,
                None => self.fetch(&session.connector, kind, &checkpoint).await,
            };
            let batch = match fetched {
                Ok(b) => b,
                Err(e) => {
                    self.recover(lease, session, e).await?;
                    continue;
                }
            };
            stats.passes.insert(
                kind.as_str().to_owned(),
                match batch.pass {
                    Pass::Full => "full",
                    Pass::Incremental => "incremental",
                }
                .to_owned(),
            );
            for skip in &batch.skipped {
                tracing::warn!(%kind, external_id = ?skip.external_id, reason = %skip.reason, "skipped a CRM record");
            }
            let mut upserts: Vec<&Record> = Vec::with_capacity(batch.changes.len());
            let mut deletes: Vec<&str> = Vec::new();
            for change in &batch.changes {
                match change {
                    Change::Upsert(r) => upserts.push(r),
                    Change::Delete { external_id } => deletes.push(external_id),
                }
            }
            let next_pass_id = if batch.done {
                new_pass_id()
            } else {
                pass_id.clone()
            };
            let state = serde_json::to_string(&batch.checkpoint)
                .map_err(|e| Stop::Failed(format!("checkpoint: {e}"), None))?;
            stats.requests = session.requests();
            stats.throttled = session.throttled();
            let write = PageWrite {
                kind,
                upserts,
                deletes,
                skipped: batch.skipped.len() as u64,
                full_pass: batch.pass == Pass::Full,
                pass_id: &pass_id,
                done: batch.done,
                checkpoint: &state,
                checkpoint_pass_id: &next_pass_id,
                run_id,
                quota: budget.page_use(session, fallback),
            };
            if batch.done {
                self.store.apply_page(lease, write, stats).await?;
                return Ok(());
            }
            // Fetch the next page while this one is written.
            let (applied, next) = tokio::join!(
                self.store.apply_page(lease, write, stats),
                self.fetch(&session.connector, kind, &batch.checkpoint)
            );
            applied?;
            pending = Some(next);
            checkpoint = batch.checkpoint;
            pass_id = next_pass_id;
        }
    }
}
