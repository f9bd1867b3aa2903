//! PostgreSQL: the session checks of concurrent requests share round trips.
//!
//! Every authenticated request must read its session row from the database, after the
//! request arrived (revocation takes effect on the very next request, on every
//! instance). On PostgreSQL most of that read's cost is per statement, not per row —
//! executor start-up, the tenant setting, the implicit transaction, the protocol
//! exchange — so requests that arrive together are checked together: each request
//! queues its (org, session, user) and waits; a dispatcher drains whatever is queued
//! into one call of `session_check_many` (migration 0007). One batch runs at a time;
//! while it does, new requests queue and form the next batch (measured on two cores
//! with 32 clients: one batch at a time averaged 8.2 checks per statement and 15,704
//! requests/s, two at a time 4.6 and 14,089; docs/benchmarks.md).
//! At low load every batch holds one request and costs what a single check did;
//! under load batches grow and the database's work per request shrinks.
//!
//! Every check in a batch starts after its request was queued, so it sees every
//! revocation committed before the request arrived: the promise is unchanged.
//! If the dispatcher is gone (its runtime shut down), a request checks on its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sqlx::AnyPool;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::fastread::SessionRow;
use crate::{Clock, StoreError};

/// The most checks one statement carries.
const MAX_BATCH: usize = 128;

const CHECK_MANY: &str = "SELECT * FROM session_check_many($1::json, $2, $3)";

/// One request's check: who it claims to be, and where the answer goes.
struct Ask {
    org: String,
    session: String,
    user: String,
    reply: oneshot::Sender<Result<Option<SessionRow>, String>>,
}

/// The queue in front of the dispatcher, shared by every clone of the store.
#[derive(Default)]
pub(crate) struct SessionBatcher {
    queue: Mutex<Option<mpsc::UnboundedSender<Ask>>>,
    /// Checks answered and statements run (for tests and benchmarks).
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    checks: AtomicU64,
    batches: AtomicU64,
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

    /// (checks, statements) so far.
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.stats.checks.load(Ordering::Relaxed),
            self.stats.batches.load(Ordering::Relaxed),
        )
    }

    /// The live dispatcher's queue, started on first use (on the caller's runtime) and
    /// again if the runtime it ran on has gone.
    fn sender(&self, pool: &AnyPool, clock: &Clock) -> Option<mpsc::UnboundedSender<Ask>> {
        let mut queue = match self.queue.lock() {
            Ok(q) => q,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(tx) = queue.as_ref().filter(|tx| !tx.is_closed()) {
            return Some(tx.clone());
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(dispatch(
            pool.clone(),
            clock.clone(),
            rx,
            self.stats.clone(),
        ));
        *queue = Some(tx.clone());
        Some(tx)
    }
}

/// Drain the queue into batches, one at a time. Ends when every store clone holding
/// the queue is gone.
async fn dispatch(
    pool: AnyPool,
    clock: Clock,
    mut rx: mpsc::UnboundedReceiver<Ask>,
    stats: Arc<Stats>,
) {
    while let Some(first) = rx.recv().await {
        // Whatever queued while the previous batch ran rides along.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(ask) => batch.push(ask),
                Err(_) => break,
            }
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats
            .checks
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        run_batch(&pool, clock.now(), batch).await;
    }
}

/// One statement for the whole batch; every request gets its own row or none.
async fn run_batch(pool: &AnyPool, now: i64, batch: Vec<Ask>) {
    let triples: Vec<[&str; 3]> = batch
        .iter()
        .map(|a| [a.org.as_str(), a.session.as_str(), a.user.as_str()])
        .collect();
    let json = serde_json::to_string(&triples).unwrap_or_else(|_| "[]".to_owned());
    let rows = sqlx::query(CHECK_MANY)
        .bind(json)
        .bind(now)
        .bind(now - crate::auth::SESSION_IDLE_SECS)
        .fetch_all(pool)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            let message = format!("batched session check: {e}");
            for ask in batch {
                let _ = ask.reply.send(Err(message.clone()));
            }
            return;
        }
    };
    let mut answers: Vec<Result<Option<SessionRow>, String>> =
        (0..batch.len()).map(|_| Ok(None)).collect();
    for row in rows {
        let slot: i64 = match row.try_get("slot") {
            Ok(slot) => slot,
            Err(_) => continue,
        };
        let Some(answer) = usize::try_from(slot - 1)
            .ok()
            .and_then(|i| answers.get_mut(i))
        else {
            continue;
        };
        // A row that does not decode fails that request's check, not the batch.
        *answer = crate::session::from_any_row(&row)
            .map(Some)
            .map_err(|e| e.to_string());
    }
    for (ask, answer) in batch.into_iter().zip(answers) {
        let _ = ask.reply.send(answer);
    }
}
