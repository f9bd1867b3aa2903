//! PostgreSQL: the session checks of concurrent requests share round trips, and an
//! instance answers from the session rows it has already read while the database says
//! nothing about them changed.
//!
//! Every authenticated request must be checked against the database after it arrived
//! (revocation takes effect on the very next request, on every instance). Requests that
//! arrive together are checked together: each queues its (org, session, user) and waits;
//! a dispatcher drains whatever is queued into one batch, one batch at a time, after
//! letting the tasks that are ready run first, on one connection it holds from batch to
//! batch (decision 0013; measured on two cores with 32 clients: ~11 checks per batch,
//! docs/benchmarks.md). Every statement of a batch starts after each of its requests
//! was queued.
//!
//! A batch first reads, for each organization in it, two numbers that move whenever
//! anything a session check depends on changes (`session_versions_of`, migrations 0009
//! and 0010):
//! `auth_version` (any change to one of its sessions but idle tracking: revoked,
//! rotated, deleted) and `directory_version` (any change to one of its users: disabled,
//! seat, team). A request whose session this instance read while both numbers were the
//! same — and which by this instance's clock has neither expired nor gone idle — is
//! answered from that read. Every other request is read in full (`session_rows_many`),
//! in one more statement for the batch, and the read is kept for next time. So a
//! revocation committed before a request arrived always fails it: the numbers read
//! after its arrival differ from those the kept read was made under. Kept reads are
//! bounded ([`MAX_KEPT`]) and hold no secret (no token, only ids and the user's name).
//!
//! If the dispatcher is gone (its runtime shut down), a request checks on its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::Row;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use crate::fastread::SessionRow;
use crate::{Clock, StoreError};

/// The most checks one batch carries.
const MAX_BATCH: usize = 128;

/// The most session reads kept; when full, all are dropped and the next batches read
/// afresh (a few statements, no wrong answer).
pub(crate) const MAX_KEPT: usize = 20_000;

/// `session_versions_of` (migration 0010) takes the organization ids comma-separated.
const VERSIONS: &str = "SELECT * FROM session_versions_of($1)";
const ROWS_MANY: &str = "SELECT * FROM session_rows_many($1::json, $2, $3)";

/// One request's check: who it claims to be, and where the answer goes.
struct Ask {
    org: String,
    session: String,
    user: String,
    reply: oneshot::Sender<Result<Option<SessionRow>, String>>,
}

/// A session read this instance keeps, with what it was read under.
struct Kept {
    row: SessionRow,
    expires_at: i64,
    auth_version: i64,
}

/// Counters for tests, benchmarks and `/metrics`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionCheckStats {
    /// Session checks answered.
    pub checks: u64,
    /// Statements that answered them (a batch runs one or two).
    pub statements: u64,
    /// Checks answered from a kept read after the versions showed no change.
    pub kept: u64,
}

/// The queue in front of the dispatcher, shared by every clone of the store.
#[derive(Default)]
pub(crate) struct SessionBatcher {
    queue: Mutex<Option<mpsc::UnboundedSender<Ask>>>,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    checks: AtomicU64,
    statements: AtomicU64,
    kept_answers: AtomicU64,
    /// By session id (unique across organizations; the kept row names its own).
    kept: Mutex<HashMap<String, Kept>>,
}

impl Shared {
    fn kept(&self) -> MutexGuard<'_, HashMap<String, Kept>> {
        crate::locked(&self.kept)
    }
}

/// What [`SessionBatcher::check`] answers when it cannot batch: check alone.
pub(crate) struct Unbatched;

impl SessionBatcher {
    /// Queue one check and wait for its answer. `Err(Unbatched)` when no dispatcher
    /// can run (no runtime, or it stopped): the caller checks on its own.
    pub(crate) async fn check(
        &self,
        pool: &AnyPool,
        clock: &Clock,
        org: &str,
        session: &str,
        user: &str,
    ) -> Result<Result<Option<SessionRow>, StoreError>, Unbatched> {
        let (reply, answer) = oneshot::channel();
        let ask = Ask {
            org: org.to_owned(),
            session: session.to_owned(),
            user: user.to_owned(),
            reply,
        };
        self.sender(pool, clock)
            .ok_or(Unbatched)?
            .send(ask)
            .map_err(|_| Unbatched)?;
        match answer.await {
            Ok(Ok(row)) => Ok(Ok(row)),
            Ok(Err(message)) => Ok(Err(StoreError::Database(sqlx::Error::Protocol(message)))),
            Err(_) => Err(Unbatched),
        }
    }

    /// The session's idle tracking moved to `at` (written by this instance): kept
    /// reads follow, so the next requests do not write it again.
    pub(crate) fn touched(&self, org: &str, session: &str, at: i64) {
        if let Some(k) = self
            .shared
            .kept()
            .get_mut(session)
            .filter(|k| k.row.org_id == org)
        {
            k.row.last_seen_at = k.row.last_seen_at.max(at);
        }
    }

    /// Close the queue: the dispatcher ends after the batch in flight and gives its
    /// connection back, so the pool can close. A later check starts a new one.
    pub(crate) fn stop(&self) {
        crate::locked(&self.queue).take();
    }

    pub(crate) fn stats(&self) -> SessionCheckStats {
        let s = &self.shared;
        SessionCheckStats {
            checks: s.checks.load(Ordering::Relaxed),
            statements: s.statements.load(Ordering::Relaxed),
            kept: s.kept_answers.load(Ordering::Relaxed),
        }
    }

    /// The live dispatcher's queue, started on first use (on the caller's runtime) and
    /// again if the runtime it ran on has gone.
    fn sender(&self, pool: &AnyPool, clock: &Clock) -> Option<mpsc::UnboundedSender<Ask>> {
        let mut queue = crate::locked(&self.queue);
        if let Some(tx) = queue.as_ref().filter(|tx| !tx.is_closed()) {
            return Some(tx.clone());
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(dispatch(
            pool.clone(),
            clock.clone(),
            rx,
            self.shared.clone(),
        ));
        *queue = Some(tx.clone());
        Some(tx)
    }
}

/// Drain the queue into batches, one at a time. Ends when the queue closes: every
/// store clone holding it is gone, or [`SessionBatcher::stop`].
async fn dispatch(
    pool: AnyPool,
    clock: Clock,
    mut rx: mpsc::UnboundedReceiver<Ask>,
    shared: Arc<Shared>,
) {
    // One batch runs at a time, so one connection serves them all: held from one
    // batch to the next while the pool can spare it (one database process stays warm,
    // no pool hand-off per batch; docs/benchmarks.md), replaced after an error, given
    // back when the queue closes.
    let mut held: Option<PoolConnection<Any>> = None;
    while let Some(first) = rx.recv().await {
        // Let the tasks that are ready run first — the requests the last batch
        // answered, and new ones read from their sockets — so that those arriving
        // now ride in this batch instead of the next statement. When nothing else is
        // ready this returns at once.
        tokio::task::yield_now().await;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(ask) => batch.push(ask),
                Err(_) => break,
            }
        }
        shared
            .checks
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        let now = clock.now();
        // A held connection may have died while idle (server restart, idle timeout):
        // then the checks it left unanswered are tried once more on a fresh one.
        let reused = held.is_some();
        let (mut outcome, mut conn) = attempt(&pool, held.take(), now, batch, &shared).await;
        if reused && let Err((batch, _)) = outcome {
            (outcome, conn) = attempt(&pool, None, now, batch, &shared).await;
        }
        held = conn;
        if let Err((batch, message)) = outcome {
            for ask in batch {
                let _ = ask.reply.send(Err(message.clone()));
            }
        }
    }
}

/// What a batch ran on and how it ended; the connection comes back only if the batch
/// succeeded on it.
type Attempt = (Result<(), (Vec<Ask>, String)>, Option<PoolConnection<Any>>);

/// Run the batch on `conn`, or on one from the pool.
async fn attempt(
    pool: &AnyPool,
    conn: Option<PoolConnection<Any>>,
    now: i64,
    batch: Vec<Ask>,
    shared: &Shared,
) -> Attempt {
    let mut conn = match conn {
        Some(conn) => conn,
        None => match pool.acquire().await {
            Ok(conn) => conn,
            Err(e) => return (Err((batch, format!("session check connection: {e}"))), None),
        },
    };
    match run_batch(&mut conn, now, batch, shared).await {
        Ok(()) => (Ok(()), spare(pool).then_some(conn)),
        Err(unanswered) => {
            // It may be broken: closed rather than handed to another query.
            conn.close_on_drop();
            (Err(unanswered), None)
        }
    }
}

/// Whether the pool can spare the dispatcher a connection between batches: another one
/// is idle or can still be opened. Otherwise it goes back at once (a pool of one
/// connection, or one under pressure, must not wait for the next batch).
fn spare(pool: &AnyPool) -> bool {
    pool.num_idle() > 0 || pool.size() < pool.options().get_max_connections()
}

/// The organizations' (auth_version, directory_version), read now.
async fn versions(
    conn: &mut AnyConnection,
    batch: &[Ask],
) -> Result<HashMap<String, (i64, i64)>, sqlx::Error> {
    // Each id once; ids are UUIDs (checked before a request is queued), so no comma
    // occurs inside one.
    let mut orgs: Vec<&str> = batch.iter().map(|a| a.org.as_str()).collect();
    orgs.sort_unstable();
    orgs.dedup();
    let rows = sqlx::query(VERSIONS)
        .bind(orgs.join(","))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("org_id")?,
                (r.try_get("auth_version")?, r.try_get("directory_version")?),
            ))
        })
        .collect()
}

/// Answer the batch: from kept reads where the versions allow, the rest read in full.
/// On a database error the unanswered checks come back with the message.
async fn run_batch(
    conn: &mut AnyConnection,
    now: i64,
    batch: Vec<Ask>,
    shared: &Shared,
) -> Result<(), (Vec<Ask>, String)> {
    let idle_after = now - crate::auth::SESSION_IDLE_SECS;
    shared.statements.fetch_add(1, Ordering::Relaxed);
    let versions = match versions(conn, &batch).await {
        Ok(v) => v,
        Err(e) => return Err((batch, format!("session versions: {e}"))),
    };
    let mut misses = Vec::new();
    {
        let kept = shared.kept();
        for ask in batch {
            let Some(&(auth, directory)) = versions.get(&ask.org) else {
                // No such organization (or not visible): no session of it passes.
                let _ = ask.reply.send(Ok(None));
                continue;
            };
            let answer = kept.get(&ask.session).filter(|k| {
                k.row.org_id == ask.org
                    && k.auth_version == auth
                    && k.row.directory_version == directory
                    && k.row.id == ask.user
                    && k.expires_at > now
                    && k.row.last_seen_at > idle_after
            });
            match answer {
                Some(k) => {
                    shared.kept_answers.fetch_add(1, Ordering::Relaxed);
                    let _ = ask.reply.send(Ok(Some(k.row.clone())));
                }
                // Expired or idle by this clock, or read under other versions: ask
                // the database (another instance may have seen the session since).
                None => misses.push(ask),
            }
        }
    }
    if misses.is_empty() {
        return Ok(());
    }
    shared.statements.fetch_add(1, Ordering::Relaxed);
    let triples: Vec<[&str; 3]> = misses
        .iter()
        .map(|a| [a.org.as_str(), a.session.as_str(), a.user.as_str()])
        .collect();
    let json = serde_json::to_string(&triples).unwrap_or_else(|_| "[]".to_owned());
    let rows = sqlx::query(ROWS_MANY)
        .bind(json)
        .bind(now)
        .bind(idle_after)
        .fetch_all(&mut *conn)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return Err((misses, format!("batched session check: {e}"))),
    };
    let mut answers: Vec<Result<Option<Kept>, String>> =
        (0..misses.len()).map(|_| Ok(None)).collect();
    for row in rows {
        let Some(answer) = row
            .try_get::<i64, _>("slot")
            .ok()
            .and_then(|slot| usize::try_from(slot - 1).ok())
            .and_then(|i| answers.get_mut(i))
        else {
            continue;
        };
        // A row that does not decode fails that request's check, not the batch.
        *answer = kept_from_row(&row).map(Some).map_err(|e| e.to_string());
    }
    let mut kept = shared.kept();
    for (ask, answer) in misses.into_iter().zip(answers) {
        let key = ask.session;
        let reply = match answer {
            Ok(Some(k)) => {
                let row = k.row.clone();
                if kept.len() >= MAX_KEPT && !kept.contains_key(&key) {
                    kept.clear();
                }
                kept.insert(key, k);
                Ok(Some(row))
            }
            Ok(None) => {
                kept.remove(&key);
                Ok(None)
            }
            Err(e) => {
                kept.remove(&key);
                Err(e)
            }
        };
        let _ = ask.reply.send(reply);
    }
    Ok(())
}

fn kept_from_row(row: &AnyRow) -> Result<Kept, StoreError> {
    Ok(Kept {
        row: crate::session::from_any_row(row)?,
        expires_at: row.try_get("expires_at")?,
        auth_version: row.try_get("auth_version")?,
    })
}
