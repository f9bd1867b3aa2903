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
    AuthKind, Connection, ConnectionStatus, PageWrite, PreparedPage, QuotaUse, RecentIds, RunStats,
    SyncOutcome, Tokens,
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
    connector: Arc<Connector>,
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
        let connector = Arc::new(self.connector(&connection, &tokens)?);
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
        session.connector = Arc::new(self.connector(&session.connection, &tokens)?);
        session.tokens = tokens;
        Ok(())
    }

    /// How pages are retried.
    fn retry(&self) -> Retry {
        Retry {
            attempts: self.config.page_attempts,
            backoff: self.config.page_backoff,
            max_wait: self.config.http.max_wait,
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
        loop {
            let mut at = Position {
                checkpoint: &mut checkpoint,
                pass_id: &mut pass_id,
            };
            match self
                .streak(lease, session, kind, run_id, stats, budget, &mut at)
                .await
            {
                Ok(()) => return Ok(()),
                // A page failed: deal with it (refresh a token, or stop), then go on
                // from the last page stored.
                Err(Streak::Fetch(e)) => self.recover(lease, session, e).await?,
                Err(Streak::Stop(stop)) => return Err(stop),
            }
        }
    }

    /// Fetch pages ahead while writing them, until the pass ends or a page fails: three
    /// stages running side by side — fetching, preparing (existing rows read, payloads
    /// sealed) and committing. Pages that are ready when the preparer comes back for
    /// more are written together (up to [`GROUP_RECORDS`]) in one transaction with the
    /// last one's checkpoint: as safe as one page at a time (a crash replays the group),
    /// with a fraction of the transactions when the CRM answers faster than the
    /// database writes.
    #[allow(clippy::too_many_arguments)]
    async fn streak(
        &self,
        lease: &JobLease,
        session: &Session,
        kind: ObjectKind,
        run_id: &str,
        stats: &mut RunStats,
        budget: &mut Budget,
        at: &mut Position<'_>,
    ) -> Result<(), Streak> {
        // Pages fetched ahead are bounded by their records, not their number (a
        // Salesforce page holds twenty HubSpot pages' worth).
        let (pages_tx, mut pages) = tokio::sync::mpsc::unbounded_channel::<Fetched>();
        let room = std::sync::Arc::new(tokio::sync::Semaphore::new(RECORDS_AHEAD));
        let (ready_tx, mut ready) =
            tokio::sync::mpsc::channel::<Result<(PreparedPage, Checkpoint), Streak>>(1);
        let start = at.checkpoint.clone();
        let first_pass_id = at.pass_id.clone();
        // The reader is a task of its own, so parsing pages runs on another core than
        // sealing and writing them.
        let connector = session.connector.clone();
        let retry = self.retry();
        let fetcher = AbortOnDrop(tokio::spawn(async move {
            let mut cp = start;
            loop {
                let fetched = fetch_page(&connector, retry, kind, &cp).await;
                let (last, records) = match &fetched {
                    Ok(b) => {
                        cp = b.checkpoint.clone();
                        (b.done, b.changes.len().clamp(1, RECORDS_AHEAD))
                    }
                    Err(_) => (true, 1),
                };
                let Ok(permit) = room.clone().acquire_many_owned(records as u32).await else {
                    break;
                };
                if pages_tx.send((fetched, permit)).is_err() || last {
                    break;
                }
            }
        }));
        let preparer = async move {
            let mut pass_id = first_pass_id;
            let mut recent = RecentIds::default();
            loop {
                let (group, failed) = match self.next_group(&mut pages, session, budget).await {
                    Ok(g) => g,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e)).await;
                        break;
                    }
                };
                let prepared = match self
                    .prepare_group(
                        lease,
                        session,
                        kind,
                        run_id,
                        budget,
                        &pass_id,
                        &group,
                        &mut recent,
                    )
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Streak::Stop(e))).await;
                        break;
                    }
                };
                let done = prepared.0.done();
                pass_id = prepared.0.checkpoint().1.to_owned();
                if ready_tx.send(Ok(prepared)).await.is_err() {
                    break;
                }
                // A failure is only passed on once the pages before it are written.
                if let Some(e) = failed {
                    let _ = ready_tx.send(Err(Streak::Fetch(e))).await;
                    break;
                }
                if done {
                    break;
                }
            }
            std::future::pending::<()>().await;
        };
        let overlap = self.store.overlaps_page_writes();
        let writer = async move {
            // On PostgreSQL, a page whose records do not meet those of the page being
            // staged is staged beside it, on another connection; pages are finished
            // (fenced, checkpointed, committed) in order (see store's `commit.rs`).
            let mut staging: Option<Staging> = None;
            loop {
                let (prepared, checkpoint) = match ready.recv().await {
                    Some(Ok(p)) => p,
                    stop => {
                        // The pages before a failure are stored, as one at a time.
                        if let Some(earlier) = staging.take() {
                            self.land(lease, kind, earlier, stats, at).await?;
                        }
                        return Err(match stop {
                            Some(Err(e)) => e,
                            _ => Streak::Stop(Stop::Failed(
                                "the page preparer ended early".into(),
                                None,
                            )),
                        });
                    }
                };
                stats.passes.insert(
                    kind.as_str().to_owned(),
                    if prepared.full_pass() {
                        "full"
                    } else {
                        "incremental"
                    }
                    .to_owned(),
                );
                stats.requests = session.requests();
                stats.throttled = session.throttled();
                let done = prepared.done();
                let next_pass = prepared.checkpoint().1.to_owned();
                if !overlap {
                    let before = self.store.stage_page(lease, prepared).await;
                    let staged = before.map_err(|e| Streak::Stop(e.into()))?;
                    self.finished(lease, kind, staged, stats).await?;
                    *at.checkpoint = checkpoint;
                    *at.pass_id = next_pass;
                    if done {
                        return Ok(());
                    }
                    continue;
                }
                let touched = prepared.touches();
                let beside = may_stage_beside(
                    staging.as_ref().map(|s| (&s.touched, s.done)),
                    &touched,
                    done,
                );
                if !beside && let Some(earlier) = staging.take() {
                    self.land(lease, kind, earlier, stats, at).await?;
                }
                let (store, held) = (self.store.clone(), lease.clone());
                let next = Staging {
                    task: StagingTask(tokio::spawn(async move {
                        store.stage_page(&held, prepared).await
                    })),
                    checkpoint,
                    next_pass,
                    done,
                    touched,
                };
                if let Some(earlier) = staging.take() {
                    self.land(lease, kind, earlier, stats, at).await?;
                }
                if done {
                    self.land(lease, kind, next, stats, at).await?;
                    return Ok(());
                }
                staging = Some(next);
            }
        };
        let result = tokio::select! {
            result = writer => result,
            () = preparer => unreachable!("the page preparer never ends on its own"),
        };
        drop(fetcher);
        result
    }

    /// Wait for a page being staged, finish it, and move the position past it.
    async fn land(
        &self,
        lease: &JobLease,
        kind: ObjectKind,
        mut staging: Staging,
        stats: &mut RunStats,
        at: &mut Position<'_>,
    ) -> Result<(), Streak> {
        let staged = (&mut staging.task.0)
            .await
            .map_err(|e| Streak::Stop(Stop::Failed(format!("page writer: {e}"), None)))?
            .map_err(|e| Streak::Stop(e.into()))?;
        self.finished(lease, kind, staged, stats).await?;
        *at.checkpoint = staging.checkpoint;
        *at.pass_id = staging.next_pass;
        Ok(())
    }

    /// Finish a staged page (fence, checkpoint, counters, commit), then refresh the
    /// table's statistics when this run's created records cross a threshold.
    async fn finished(
        &self,
        lease: &JobLease,
        kind: ObjectKind,
        staged: store::crm::StagedPage,
        stats: &mut RunStats,
    ) -> Result<(), Streak> {
        let before = stats.kinds.get(kind.as_str()).map_or(0, |k| k.created);
        self.store
            .finish_page(lease, staged, stats)
            .await
            .map_err(|e| Streak::Stop(e.into()))?;
        let after = stats.kinds.get(kind.as_str()).map_or(0, |k| k.created);
        if ANALYZE_AT.iter().any(|n| before < *n && after >= *n) {
            self.store
                .refresh_statistics(lease, kind)
                .await
                .map_err(|e| Streak::Stop(e.into()))?;
        }
        Ok(())
    }

    /// The next pages to write together: at least one, then whatever else is already
    /// fetched, up to [`GROUP_RECORDS`] or the end of the pass. A page that failed ends
    /// the group and is returned after it.
    async fn next_group(
        &self,
        pages: &mut tokio::sync::mpsc::UnboundedReceiver<Fetched>,
        session: &Session,
        budget: &Budget,
    ) -> Result<(Vec<Batch>, Option<ConnectorError>), Streak> {
        budget.check(session).map_err(Streak::Stop)?;
        // The permits go back (making room for more pages) as the group is taken.
        let mut group = match pages.recv().await {
            Some((Ok(b), _permit)) => vec![b],
            Some((Err(e), _permit)) => return Err(Streak::Fetch(e)),
            None => {
                return Err(Streak::Stop(Stop::Failed(
                    "the page reader ended early".into(),
                    None,
                )));
            }
        };
        while !group.last().is_some_and(|b| b.done)
            && group.iter().map(|b| b.changes.len()).sum::<usize>() < GROUP_RECORDS
        {
            match pages.try_recv() {
                Ok((Ok(b), _permit)) => group.push(b),
                Ok((Err(e), _permit)) => return Ok((group, Some(e))),
                Err(_) => break,
            }
        }
        Ok((group, None))
    }

    /// Prepare a group of consecutive pages of one pass as one write, with the last
    /// page's checkpoint (stored with it, and where the pass goes on from).
    #[allow(clippy::too_many_arguments)]
    async fn prepare_group(
        &self,
        lease: &JobLease,
        session: &Session,
        kind: ObjectKind,
        run_id: &str,
        budget: &mut Budget,
        pass_id: &str,
        group: &[Batch],
        recent: &mut RecentIds,
    ) -> Result<(PreparedPage, Checkpoint), Stop> {
        let Some(last) = group.last() else {
            return Err(Stop::Failed("an empty group of pages".into(), None));
        };
        let (upserts, deletes) = merge(group);
        let mut skipped = 0;
        for skip in group.iter().flat_map(|b| &b.skipped) {
            skipped += 1;
            tracing::warn!(%kind, external_id = ?skip.external_id, reason = %skip.reason, "skipped a CRM record");
        }
        let next_pass_id = if last.done {
            new_pass_id()
        } else {
            pass_id.to_owned()
        };
        let state = serde_json::to_string(&last.checkpoint)
            .map_err(|e| Stop::Failed(format!("checkpoint: {e}"), None))?;
        let fallback = budget.fallback_limit;
        let write = PageWrite {
            kind,
            upserts,
            deletes,
            skipped,
            full_pass: last.pass == Pass::Full,
            pass_id,
            done: last.done,
            checkpoint: &state,
            checkpoint_pass_id: &next_pass_id,
            run_id,
            quota: budget.page_use(session, fallback),
            pages: group.len() as u64,
        };
        let prepared = self.store.prepare_page(lease, write, recent).await?;
        Ok((prepared, last.checkpoint.clone()))
    }
}

/// How pages are retried after transient failures.
#[derive(Clone, Copy, Debug)]
struct Retry {
    attempts: u32,
    backoff: Duration,
    /// A `Retry-After` longer than this ends the run instead.
    max_wait: Duration,
}

/// One page, with retries of transient failures (truncated or malformed bodies, 5xx
/// and network failures after the HTTP layer's own retries).
async fn fetch_page(
    connector: &Connector,
    retry: Retry,
    kind: ObjectKind,
    checkpoint: &Checkpoint,
) -> Result<Batch, ConnectorError> {
    let mut attempt = 0;
    loop {
        match connector.fetch(kind, checkpoint).await {
            Ok(batch) => return Ok(batch),
            Err(e) if e.is_transient() && attempt + 1 < retry.attempts => {
                if let ConnectorError::RateLimited {
                    retry_after: Some(wait),
                } = &e
                    && *wait > retry.max_wait
                {
                    return Err(e);
                }
                let base = retry.backoff.as_secs_f64() * 2f64.powi(attempt as i32);
                let wait = Duration::from_secs_f64(base * (0.5 + 0.5 * rand::random::<f64>()));
                tracing::debug!(%kind, attempt, error = %e, "page failed; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A spawned task that is aborted when this handle is dropped.
/// A page being staged on a task of its own (PostgreSQL), with what finishing it
/// records; the records it touches decide whether the next page may be staged beside it.
struct Staging {
    task: StagingTask,
    checkpoint: Checkpoint,
    next_pass: String,
    done: bool,
    touched: std::collections::HashSet<String>,
}

/// Whether a page (touching `touched`, ending its pass if `done`) may be staged while
/// `earlier` (the records it touches, whether it ends its pass) is still being staged:
/// only if neither ends its pass (the sweep must see every mark before it) and they
/// touch no record in common (else each could wait for a row lock the other holds
/// until it commits, while the later one may commit only after the earlier).
fn may_stage_beside(
    earlier: Option<(&std::collections::HashSet<String>, bool)>,
    touched: &std::collections::HashSet<String>,
    done: bool,
) -> bool {
    !done && earlier.is_some_and(|(before, ends)| !ends && before.is_disjoint(touched))
}

/// The staging task, aborted (its transaction rolled back) if dropped unfinished.
struct StagingTask(tokio::task::JoinHandle<Result<store::crm::StagedPage, StoreError>>);

impl Drop for StagingTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Records created in one run after which the database is asked to refresh its
/// statistics on the table (see `Store::refresh_statistics`).
const ANALYZE_AT: [u64; 3] = [2_000, 20_000, 200_000];

/// Records fetched ahead of the writer, at most (bounds memory whatever the page size).
const RECORDS_AHEAD: usize = 6_000;
/// Records written in one transaction, at most (a single larger page is written whole).
const GROUP_RECORDS: usize = 3_000;

/// A fetched page (or the failure to fetch one) and its room in the buffer ahead.
type Fetched = (
    Result<Batch, ConnectorError>,
    tokio::sync::OwnedSemaphorePermit,
);

/// Where a kind's pass stands: the checkpoint and pass of the last page stored.
struct Position<'a> {
    checkpoint: &'a mut Checkpoint,
    pass_id: &'a mut String,
}

/// Why a streak of pages ended early.
enum Streak {
    /// A page could not be fetched (after the retries).
    Fetch(ConnectorError),
    Stop(Stop),
}

/// The changes of consecutive pages as one write: for each record, its last change
/// wins (an upsert after a deletion recreates it; a deletion after an upsert removes it).
fn merge(group: &[Batch]) -> (Vec<&Record>, Vec<&str>) {
    use std::collections::HashMap;
    let changes: Vec<&Change> = group.iter().flat_map(|b| &b.changes).collect();
    let mut last_upsert: HashMap<&str, usize> = HashMap::new();
    let mut last_delete: HashMap<&str, usize> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        match change {
            Change::Upsert(r) => last_upsert.insert(r.external_id.as_str(), i),
            Change::Delete { external_id } => last_delete.insert(external_id.as_str(), i),
        };
    }
    let mut upserts = Vec::with_capacity(changes.len());
    let mut deletes = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        match change {
            // Every upsert not followed by a deletion (the store keeps the newest of
            // several upserts).
            Change::Upsert(r) => {
                if last_delete
                    .get(r.external_id.as_str())
                    .is_none_or(|d| *d < i)
                {
                    upserts.push(r);
                }
            }
            // The last deletion of a record, unless an upsert follows it.
            Change::Delete { external_id } => {
                let id = external_id.as_str();
                if last_delete.get(id) == Some(&i) && last_upsert.get(id).is_none_or(|u| *u < i) {
                    deletes.push(id);
                }
            }
        }
    }
    (upserts, deletes)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_are_staged_side_by_side_only_when_they_share_no_record_and_end_no_pass() {
        use std::collections::HashSet;
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
        let (a, b, ab) = (set(&["1", "2"]), set(&["3"]), set(&["2", "3"]));
        assert!(super::may_stage_beside(Some((&a, false)), &b, false));
        assert!(
            !super::may_stage_beside(Some((&a, false)), &ab, false),
            "a shared record"
        );
        assert!(
            !super::may_stage_beside(Some((&a, true)), &b, false),
            "after a pass's end"
        );
        assert!(
            !super::may_stage_beside(Some((&a, false)), &b, true),
            "the pass's end"
        );
        assert!(
            !super::may_stage_beside(None, &b, false),
            "nothing being staged"
        );
    }

    use super::*;

    fn upsert(id: &str, ms: i64) -> Change {
        Change::Upsert(Record {
            external_id: id.into(),
            updated_at_ms: ms,
            data: domain::crm::RecordData::Owner(domain::crm::Owner {
                email: None,
                name: id.into(),
                active: true,
            }),
            raw: serde_json::value::RawValue::from_string("{}".into()).expect("raw"),
        })
    }

    fn delete(id: &str) -> Change {
        Change::Delete {
            external_id: id.into(),
        }
    }

    fn batch(changes: Vec<Change>) -> Batch {
        Batch {
            changes,
            skipped: Vec::new(),
            pass: Pass::Incremental,
            checkpoint: Checkpoint::full(),
            done: false,
        }
    }

    #[test]
    fn the_last_change_of_each_record_wins_across_pages() {
        let group = [
            batch(vec![upsert("a", 1), upsert("b", 1), delete("c")]),
            batch(vec![delete("a"), upsert("c", 2), upsert("b", 2)]),
            batch(vec![upsert("d", 1), delete("d"), delete("e"), delete("e")]),
        ];
        let (upserts, deletes) = merge(&group);
        let ups: Vec<(&str, i64)> = upserts
            .iter()
            .map(|r| (r.external_id.as_str(), r.updated_at_ms))
            .collect();
        assert_eq!(ups, vec![("b", 1), ("c", 2), ("b", 2)]);
        // "d" may exist from an earlier sync: its deletion stands.
        assert_eq!(deletes, vec!["a", "d", "e"]);
    }
}
