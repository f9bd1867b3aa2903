//! How a command fails, and the exit code each failure maps to.

use std::fmt;

use crate::config::ConfigError;

/// Exit code for configuration and usage errors (as clap uses for bad flags).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for everything else.
pub const EXIT_FAILURE: u8 = 1;

/// A command failed.
#[derive(Debug)]
pub enum Error {
    /// The configuration is missing or invalid: fix the environment or pitchside.toml.
    Config(ConfigError),
    /// An argument or the password on standard input was refused (bad email, weak
    /// password, …): fix the invocation.
    Invalid(String),
    /// Something went wrong while running (database unreachable, user not found, …).
    Failed(anyhow::Error),
}

impl Error {
    pub fn invalid(message: impl Into<String>) -> Self {
        Error::Invalid(message.into())
    }

    /// 2 for configuration and usage errors, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) | Error::Invalid(_) => EXIT_USAGE,
            Error::Failed(_) => EXIT_FAILURE,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Invalid(message) => f.write_str(message),
            // `{:#}` prints the whole context chain on one line.
            Error::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Failed(e)
    }
}
