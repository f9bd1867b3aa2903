//! Background workers: each loops claiming due jobs from the database queue and
//! running them, sleeping a little (with jitter, so instances do not poll in step)
//! when nothing is due, until shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::Engine;

/// Start `n` workers on `engine`; they stop when `shutdown` turns true.
pub fn spawn_workers(
    engine: Arc<Engine>,
    n: usize,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    (0..n)
        .map(|i| {
            let engine = engine.clone();
            let mut shutdown = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    if *shutdown.borrow() {
                        return;
                    }
                    let idle = match engine.run_next().await {
                        Ok(Some(_)) => false,
                        Ok(None) => true,
                        Err(e) => {
                            tracing::error!(worker = i, error = %e, "job queue unavailable");
                            true
                        }
                    };
                    if idle {
                        let poll = engine.config().poll_interval;
                        let jitter = Duration::from_millis(rand::random::<u64>() % 500);
                        tokio::select! {
                            _ = tokio::time::sleep(poll + jitter) => {}
                            _ = shutdown.changed() => {}
                        }
                    }
                }
            })
        })
        .collect()
}
