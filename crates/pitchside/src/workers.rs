//! The CRM sync workers `serve` (and `demo`) run beside the web server: `n` tasks that
//! claim due sync jobs from the database queue (`sync::spawn_workers`). On shutdown they
//! are told to stop and given a few seconds to finish the page in hand; a run cut short
//! resumes from its last stored page on the next instance that claims the job.

use std::sync::Arc;
use std::time::Duration;

use store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::CrmConfig;

/// How long stopping waits for runs in flight before cutting them short.
pub const SYNC_STOP_GRACE: Duration = Duration::from_secs(10);

/// Running sync workers.
pub struct SyncWorkers {
    stop: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl SyncWorkers {
    /// Start `config.sync_workers` workers (none when it is 0).
    pub fn start(store: Store, config: &CrmConfig, public_url: &str) -> Self {
        let (stop, stopped) = watch::channel(false);
        let n = config.sync_workers as usize;
        let handles = if n == 0 {
            Vec::new()
        } else {
            let engine = Arc::new(sync::Engine::new(store, config.sync_config(public_url)));
            sync::spawn_workers(engine, n, stopped)
        };
        tracing::info!(
            workers = n,
            rate_limit = config.rate_limit,
            "CRM sync workers started"
        );
        Self { stop, handles }
    }

    /// Stop the workers: let each finish what it is doing for up to
    /// [`SYNC_STOP_GRACE`], then abort it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for handle in self.handles {
            let abort = handle.abort_handle();
            if tokio::time::timeout(SYNC_STOP_GRACE, handle).await.is_err() {
                abort.abort();
                tracing::warn!(
                    "a sync run was cut short by shutdown; it resumes from its last page"
                );
            }
        }
    }
}
