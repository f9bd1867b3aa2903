//! `serve` and `migrate`, and the wiring `demo` shares with them: opening the store,
//! migrating it, and serving until SIGINT or SIGTERM.

use std::num::NonZeroUsize;
use std::time::Duration;

use anyhow::Context;
use std::sync::Arc;

use store::{Clock, Store, StoreOptions};
use tokio::net::TcpListener;
use vault::PasswordHasher;
use vault::password::PRODUCTION_COST;
use web::AppState;

use crate::Error;
use crate::config::{BIND, Config, DatabaseUrl};

/// How long requests in flight get to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Logical CPUs: how many bcrypt hashes may run at once.
pub fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(NonZeroUsize::get)
        .unwrap_or(1)
}

/// The production password hasher: bcrypt cost 12, one hash per CPU at a time.
pub fn production_hasher() -> PasswordHasher {
    PasswordHasher::new(PRODUCTION_COST, cpus())
}

/// `pitchside serve`.
pub async fn serve(config: &Config) -> Result<(), Error> {
    let settings = config.for_serve()?;
    let sources = Arc::new(crate::keysource::KeySources::from_lookup(|var| {
        std::env::var(var).ok()
    })?);
    let keys = sources.load().await?;
    let tls = match &settings.tls {
        Some(files) => Some(
            web::tls::server_config(&files.cert, &files.key).map_err(|e| {
                Error::invalid(format!(
                    "{} / {}: {e}",
                    crate::config::TLS_CERT,
                    crate::config::TLS_KEY
                ))
            })?,
        ),
        None => None,
    };
    let store = connect_and_migrate(settings.store)
        .await?
        .with_keys(Arc::new(keys));
    let listener = TcpListener::bind(settings.bind)
        .await
        .with_context(|| format!("failed to listen on {} (set by {BIND})", settings.bind))?;
    let addr = listener
        .local_addr()
        .context("failed to read the listening address")?;
    tracing::info!(
        %addr,
        public_url = %settings.web.public_url,
        tls = tls.is_some(),
        bcrypt_cost = PRODUCTION_COST,
        "pitchside is serving"
    );
    let redirect = match settings.http_redirect_bind {
        Some(bind) => {
            let listener = TcpListener::bind(bind).await.with_context(|| {
                format!(
                    "failed to listen on {bind} (set by {})",
                    crate::config::HTTP_REDIRECT_BIND
                )
            })?;
            tracing::info!(addr = %bind, "redirecting plain http to the public URL");
            Some(tokio::spawn(web::tls::serve_redirect(
                listener,
                settings.web.public_url.clone(),
                shutdown_signal(),
            )))
        }
        None => None,
    };
    crate::keysource::record_start(&store).await?;
    let reloader = sources
        .reloadable()
        .then(|| crate::keysource::spawn_reloader(sources.clone(), store.clone()));
    let public_url = settings.web.public_url.clone();
    let state = AppState::with_crm(
        store.clone(),
        production_hasher(),
        settings.keys,
        settings.web,
        config.crm.web_settings(&public_url),
    );
    let workers = crate::workers::SyncWorkers::start(store.clone(), &config.crm, &public_url);
    let served = match tls {
        Some(tls) => serve_until_shutdown_tls(listener, tls, state).await,
        None => serve_until_shutdown(listener, state).await,
    };
    workers.stop().await;
    served?;
    if let Some(redirect) = redirect {
        redirect.abort();
    }
    if let Some(reloader) = reloader {
        reloader.abort();
    }
    store.close().await;
    tracing::info!("pitchside stopped");
    Ok(())
}

/// `pitchside migrate`.
pub async fn migrate(config: &Config) -> Result<(), Error> {
    let store = connect_and_migrate(config.store_options()?).await?;
    store.close().await;
    println!("The database is up to date.");
    Ok(())
}

/// Open the store for the admin commands (no migration: that is `migrate`'s job).
pub async fn connect(options: StoreOptions) -> anyhow::Result<Store> {
    let url = DatabaseUrl::parse(&options.url).map_err(anyhow::Error::msg)?;
    tracing::debug!(database = %url, "connecting to the database");
    Store::connect(options, Clock::system())
        .await
        .with_context(|| format!("failed to connect to the database at {url}"))
}

/// Apply pending migrations, then open the store the application uses.
///
/// Open the store and apply pending migrations. `Store::migrate` runs them over its own
/// connection as the login role (the owner), and the pool connects lazily, so the
/// application role the first migration creates exists before any pooled connection
/// switches to it.
pub async fn connect_and_migrate(options: StoreOptions) -> anyhow::Result<Store> {
    let url = DatabaseUrl::parse(&options.url).map_err(anyhow::Error::msg)?;
    tracing::info!(database = %url, "opening the database");
    let store = connect(options).await?;
    store
        .migrate()
        .await
        .context("failed to apply database migrations")?;
    Ok(store)
}

/// How often the audit retention job runs (every instance runs it; a run that finds
/// nothing to prune writes nothing, and concurrent runs serialize on each chain's head).
pub const AUDIT_RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Background jobs that live as long as the server: today, audit retention.
fn spawn_jobs(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(AUDIT_RETENTION_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match store.audit_prune().await {
                Ok(r) if r.pruned > 0 => {
                    tracing::info!(pruned = r.pruned, chains = r.chains, "audit retention ran")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "audit retention failed; retrying next hour"),
            }
        }
    })
}

/// Serve until SIGINT or SIGTERM, then let requests in flight finish (for at most
/// [`SHUTDOWN_GRACE`]). Background jobs run alongside and stop with the server.
pub async fn serve_until_shutdown(listener: TcpListener, state: AppState) -> anyhow::Result<()> {
    let jobs = spawn_jobs(state.store.clone());
    let served = serve_requests(listener, state).await;
    jobs.abort();
    served
}

/// [`serve_until_shutdown`], terminating TLS.
pub async fn serve_until_shutdown_tls(
    listener: TcpListener,
    tls: Arc<web::tls::RustlsConfig>,
    state: AppState,
) -> anyhow::Result<()> {
    let jobs = spawn_jobs(state.store.clone());
    let served = serve_requests_with(listener, state, Some(tls)).await;
    jobs.abort();
    served
}

async fn serve_requests(listener: TcpListener, state: AppState) -> anyhow::Result<()> {
    serve_requests_with(listener, state, None).await
}

async fn serve_requests_with(
    listener: TcpListener,
    state: AppState,
    tls: Option<Arc<web::tls::RustlsConfig>>,
) -> anyhow::Result<()> {
    let (stopping_tx, mut stopping_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested: finishing requests in flight");
        let _ = stopping_tx.send(true);
    };
    let deadline = async move {
        if stopping_rx.wait_for(|stopping| *stopping).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = async move {
            match tls {
                Some(tls) => web::tls::serve_tls(listener, tls, state, shutdown).await,
                None => web::serve(listener, state, shutdown).await,
            }
        } => served.context("the server failed"),
        () = deadline => {
            tracing::warn!(grace_secs = SHUTDOWN_GRACE.as_secs(), "requests still running after the grace period; stopping anyway");
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
