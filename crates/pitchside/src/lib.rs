//! The `pitchside` binary's logic, as a library so tests can call it: configuration
//! ([`config`]), the demo seed ([`demo::seed`]), and [`run`], which `main` calls.
//!
//! Commands:
//! - `serve`: production; everything from `PITCHSIDE_*` and `pitchside.toml`.
//! - `demo`: a seeded local instance on a SQLite file (not for production).
//! - `migrate`: apply pending migrations.
//! - `admin create-org | create-user | reset-password | revoke-sessions`.
//! - `keys generate`, `print-default-config`.

pub mod admin;
pub mod cli;
pub mod config;
pub mod demo;
mod demo_crm;
mod error;
pub mod gsm;
pub mod keysource;
pub mod server;
pub mod telemetry;
pub mod workers;

pub use cli::{Cli, Command};
pub use config::{Config, ConfigError};
pub use error::{EXIT_FAILURE, EXIT_USAGE, Error};

/// Load the configuration, start logging and run the command.
pub async fn run(cli: Cli) -> Result<(), Error> {
    web::tls::install_crypto_provider();
    if !cli.command.needs_config() {
        return execute(&Config::default(), cli.command).await;
    }
    let config = Config::load()?;
    telemetry::init(&config.log);
    if let Some(file) = &config.file {
        tracing::info!(file = %file.display(), "read the configuration file");
    }
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    execute(&config, cli.command).await
}

/// Run a command with an already loaded configuration (telemetry is the caller's).
pub async fn execute(config: &Config, command: Command) -> Result<(), Error> {
    match command {
        Command::Serve => server::serve(config).await,
        Command::Demo(args) => demo::run(config, args).await,
        Command::Migrate => server::migrate(config).await,
        Command::Admin { command } => admin::run(config, command).await,
        Command::Keys {
            command: cli::KeysCommand::Generate,
        } => {
            // 32 random bytes as url-safe base64 with padding: a Fernet key Python's
            // `Fernet(key)` accepts, and a valid `PITCHSIDE_JWT_SECRET` as well.
            println!("{}", vault::sealed::generate_fernet_key());
            Ok(())
        }
        Command::Keys {
            command: cli::KeysCommand::Status,
        } => keys_status(config).await,
        Command::Keys {
            command: cli::KeysCommand::Reencrypt { domain, batch },
        } => keys_reencrypt(config, &domain, batch).await,
        Command::Audit {
            command: cli::AuditCommand::Verify { org },
        } => audit_verify(config, org.as_deref()).await,
        Command::Audit {
            command: cli::AuditCommand::Prune,
        } => audit_prune(config).await,
        Command::PrintDefaultConfig => {
            print!("{}", config::DEFAULT_CONFIG_TOML);
            Ok(())
        }
    }
}

/// `pitchside keys status`.
async fn keys_status(config: &Config) -> Result<(), Error> {
    let keys = std::sync::Arc::new(
        keysource::KeySources::from_lookup(|var| std::env::var(var).ok())?
            .load()
            .await?,
    );
    let store = server::connect(config.store_options()?)
        .await?
        .with_keys(keys.clone());
    for domain in vault::sealed::Domain::ALL {
        let ring = keys.ring(domain);
        let counts = store
            .sealed_key_counts(domain)
            .await
            .map_err(anyhow::Error::from)?;
        println!("{domain}:");
        for (i, id) in ring.key_ids().into_iter().enumerate() {
            let role = if i == 0 { "primary" } else { "old" };
            println!(
                "  {id} ({role}): {} values",
                counts.get(id).copied().unwrap_or(0)
            );
        }
        for (id, n) in counts
            .iter()
            .filter(|(id, _)| !ring.key_ids().contains(&id.as_str()))
        {
            println!("  {id} (NOT CONFIGURED): {n} values cannot be opened");
        }
    }
    store.close().await;
    Ok(())
}

/// `pitchside keys reencrypt DOMAIN`.
async fn keys_reencrypt(config: &Config, domain: &str, batch: u32) -> Result<(), Error> {
    let domain = vault::sealed::Domain::parse(domain).ok_or_else(|| {
        Error::invalid(format!(
            "unknown domain {domain:?}: use crm_tokens, crm_records, coaching_notes, ai_insights or transcripts"
        ))
    })?;
    let keys = std::sync::Arc::new(
        keysource::KeySources::from_lookup(|var| std::env::var(var).ok())?
            .load()
            .await?,
    );
    let store = server::connect(config.store_options()?)
        .await?
        .with_keys(keys);
    let report = store
        .reencrypt(domain, batch.max(1))
        .await
        .map_err(anyhow::Error::from)?;
    tracing::info!(%domain, reencrypted = report.reencrypted, raced = report.raced, unreadable = report.unreadable, "re-encryption finished");
    println!(
        "{domain}: {} values re-encrypted under the primary key, {} changed concurrently (run again to pick them up), {} could not be opened",
        report.reencrypted, report.raced, report.unreadable
    );
    store
        .audit_operator(
            None,
            "keys.reencrypted",
            serde_json::json!({
                "domain": domain.as_str(),
                "primary_key_id": keys_primary(&store, domain),
                "reencrypted": report.reencrypted,
                "raced": report.raced,
                "unreadable": report.unreadable,
            }),
        )
        .await
        .map_err(anyhow::Error::from)?;
    store.close().await;
    if report.unreadable > 0 {
        return Err(Error::Failed(anyhow::anyhow!(
            "{} values could not be opened with the configured keys",
            report.unreadable
        )));
    }
    Ok(())
}

fn keys_primary(store: &store::Store, domain: vault::sealed::Domain) -> Option<String> {
    store.keys().ring(domain).primary_id().map(str::to_owned)
}

/// `pitchside audit verify [--org ID]`.
async fn audit_verify(config: &Config, org: Option<&str>) -> Result<(), Error> {
    let store = server::connect(config.store_options()?).await?;
    let report = store.audit_verify(org).await.map_err(anyhow::Error::from)?;
    store.close().await;
    for b in &report.breaks {
        println!(
            "BROKEN: organization {} at entry {}: {}",
            b.org_id, b.seq, b.reason
        );
    }
    println!(
        "{} chains, {} entries checked, {} broken",
        report.chains,
        report.entries,
        report.breaks.len()
    );
    if report.breaks.is_empty() {
        Ok(())
    } else {
        Err(Error::Failed(anyhow::anyhow!(
            "the audit log has been tampered with ({} broken chains)",
            report.breaks.len()
        )))
    }
}

/// `pitchside audit prune`.
async fn audit_prune(config: &Config) -> Result<(), Error> {
    let store = server::connect(config.store_options()?).await?;
    let report = store.audit_prune().await.map_err(anyhow::Error::from)?;
    store.close().await;
    println!(
        "{} entries older than 730 days removed from {} chains",
        report.pruned, report.chains
    );
    Ok(())
}
