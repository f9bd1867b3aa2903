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
mod error;
pub mod server;
pub mod telemetry;

pub use cli::{Cli, Command};
pub use config::{Config, ConfigError};
pub use error::{EXIT_FAILURE, EXIT_USAGE, Error};

/// Load the configuration, start logging and run the command.
pub async fn run(cli: Cli) -> Result<(), Error> {
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
        Command::PrintDefaultConfig => {
            print!("{}", config::DEFAULT_CONFIG_TOML);
            Ok(())
        }
    }
}
