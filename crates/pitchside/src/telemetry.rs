//! Logging: `tracing` with an env-filter from `PITCHSIDE_LOG`, one JSON object per line
//! when `PITCHSIDE_LOG_FORMAT=json`, compact human-readable lines otherwise. Logs go to
//! standard error, so standard output stays for what a command prints (the demo's URL
//! and logins, an admin command's result).
//!
//! Nothing here logs configuration values: secrets stay out by construction, and the
//! request span in `web` records only ids, method and route.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{DEFAULT_LOG_FILTER, LogConfig, LogFormat};

/// Install the global subscriber. Later calls (tests running several commands in one
/// process) keep the first subscriber and do nothing.
pub fn init(log: &LogConfig) {
    // The filter was checked when the configuration was loaded; fall back to the
    // default rather than fail if that ever changes.
    let filter =
        EnvFilter::try_new(&log.filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LOG_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder
            .compact()
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
    // An error only means a subscriber is already installed.
    let _ = result;
}
