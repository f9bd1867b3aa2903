//! Configuration: defaults, then an optional TOML file, then `PITCHSIDE_*` environment
//! variables (the environment wins). Everything is parsed and checked once, up front,
//! so a bad value stops the process with a message naming the setting instead of
//! failing later, mid-request.
//!
//! Secrets (the JWT signing key, the metrics token) are read only from the environment
//! or from files named by `*_FILE` settings, never from `pitchside.toml`, and they sit in
//! [`Secret`], whose `Debug` never prints them. The database URL may carry a password,
//! so [`DatabaseUrl`] redacts it in `Debug` and `Display` as well.
//!
//! Which settings are *required* depends on the command: [`Config::for_serve`] insists on
//! the database URL, the public URL and the JWT secret; [`Config::store_options`] only on
//! the database URL (`migrate`, `admin`); `demo` needs none of them.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use store::StoreOptions;
use vault::SigningKey;
use web::{CookieMode, WebConfig};

/// Names the TOML file to read.
pub const CONFIG_ENV: &str = "PITCHSIDE_CONFIG";
/// The file read when `PITCHSIDE_CONFIG` is not set, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "pitchside.toml";

pub const DATABASE_URL: &str = "PITCHSIDE_DATABASE_URL";
pub const DATABASE_ROLE: &str = "PITCHSIDE_DATABASE_ROLE";
pub const DATABASE_MAX_CONNECTIONS: &str = "PITCHSIDE_DATABASE_MAX_CONNECTIONS";
pub const BIND: &str = "PITCHSIDE_BIND";
pub const PUBLIC_URL: &str = "PITCHSIDE_PUBLIC_URL";
pub const TRUSTED_PROXIES: &str = "PITCHSIDE_TRUSTED_PROXIES";
pub const TLS_CERT: &str = "PITCHSIDE_TLS_CERT";
pub const TLS_KEY: &str = "PITCHSIDE_TLS_KEY";
pub const HTTP_REDIRECT_BIND: &str = "PITCHSIDE_HTTP_REDIRECT_BIND";
pub const AUTH_RATE_PER_MINUTE: &str = "PITCHSIDE_AUTH_RATE_PER_MINUTE";
pub const API_RATE_PER_SECOND: &str = "PITCHSIDE_API_RATE_PER_SECOND";
pub const LOG_FORMAT: &str = "PITCHSIDE_LOG_FORMAT";
pub const LOG: &str = "PITCHSIDE_LOG";
pub const JWT_SECRET: &str = "PITCHSIDE_JWT_SECRET";
pub const JWT_SECRET_FILE: &str = "PITCHSIDE_JWT_SECRET_FILE";
pub const METRICS_TOKEN: &str = "PITCHSIDE_METRICS_TOKEN";
pub const METRICS_TOKEN_FILE: &str = "PITCHSIDE_METRICS_TOKEN_FILE";

/// The default log filter.
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn";
/// How to make a signing key, quoted in every message about a missing or bad one.
pub const JWT_SECRET_HINT: &str =
    "generate one with `openssl rand -base64 32` or `pitchside keys generate`";

/// A commented `pitchside.toml` holding every default: what `print-default-config` prints.
pub const DEFAULT_CONFIG_TOML: &str = r#"# pitchside.toml: Pitchside configuration (see docs/configuration.md).
#
# Pitchside reads its defaults, then this file (the path in PITCHSIDE_CONFIG, else
# ./pitchside.toml when present), then PITCHSIDE_* environment variables, which win.
# Secrets (the JWT signing key, the metrics token) are never read from this file: set them
# in the environment, or name a file holding them with the *_file settings below.

[database]
# sqlite://path/to/pitchside.db or postgres://user@host:5432/dbname.
# Required by serve, migrate and admin. Env: PITCHSIDE_DATABASE_URL
# url = "sqlite://pitchside-data/pitchside.db"
# PostgreSQL only: the role each connection switches to with SET ROLE; "" keeps the
# login role. Env: PITCHSIDE_DATABASE_ROLE
role = "pitchside_app"
# Size of the connection pool. Env: PITCHSIDE_DATABASE_MAX_CONNECTIONS
max_connections = 16

[server]
# Address and port to listen on. Env: PITCHSIDE_BIND
bind = "127.0.0.1:8080"
# The URL people use to reach Pitchside, https in production. Required by serve.
# Env: PITCHSIDE_PUBLIC_URL
# public_url = "https://pitchside.example.com"
# Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed.
# Env: PITCHSIDE_TRUSTED_PROXIES (comma-separated)
trusted_proxies = []
# Terminate TLS (1.2 and 1.3) on `bind` with this PEM certificate chain and private key;
# set both or neither. Env: PITCHSIDE_TLS_CERT, PITCHSIDE_TLS_KEY
# tls_cert = "/etc/pitchside/tls/fullchain.pem"
# tls_key = "/etc/pitchside/tls/privkey.pem"
# With TLS on: also listen here for plain http and redirect it (308) to public_url.
# Env: PITCHSIDE_HTTP_REDIRECT_BIND
# http_redirect_bind = "0.0.0.0:80"
# Per-IP limit on login, signup and invitation endpoints, per minute (0 = off).
# Env: PITCHSIDE_AUTH_RATE_PER_MINUTE
auth_rate_per_minute = 20
# Per-IP limit on the whole API, per second (0 = off). Env: PITCHSIDE_API_RATE_PER_SECOND
api_rate_per_second = 100

[log]
# "pretty" (human-readable) or "json". Env: PITCHSIDE_LOG_FORMAT
format = "pretty"
# A tracing env-filter directive. Env: PITCHSIDE_LOG
filter = "info,sqlx=warn"

[secrets]
# A file holding the base64 JWT signing key (at least 32 bytes). Required by serve unless
# PITCHSIDE_JWT_SECRET is set. Env: PITCHSIDE_JWT_SECRET_FILE
# jwt_secret_file = "/run/secrets/pitchside_jwt_secret"
# A file holding the bearer token /metrics requires. Env: PITCHSIDE_METRICS_TOKEN_FILE
# metrics_token_file = "/run/secrets/pitchside_metrics_token"

[crm]
# Each CRM's API, OAuth authorize and token URLs default to the provider's public ones;
# set them to reach a proxy or a mock. For <provider> in hubspot, salesforce, pipedrive:
# <provider>_api_url, <provider>_auth_url, <provider>_token_url.
# Env: PITCHSIDE_<PROVIDER>_API_URL, PITCHSIDE_<PROVIDER>_AUTH_URL, PITCHSIDE_<PROVIDER>_TOKEN_URL
# hubspot_api_url = "https://api.hubapi.com"
# Your registered OAuth app (its callback URL is <public_url>/integrations/<provider>/callback).
# The secret is never read from this file: set PITCHSIDE_<PROVIDER>_CLIENT_SECRET or name a
# file holding it. Env: PITCHSIDE_<PROVIDER>_CLIENT_ID, PITCHSIDE_<PROVIDER>_CLIENT_SECRET_FILE
# hubspot_client_id = "00000000-0000-0000-0000-000000000000"
# hubspot_client_secret_file = "/run/secrets/pitchside_hubspot_client_secret"
# The daily token budget to assume for Pipedrive (it depends on your plan and seats).
# Env: PITCHSIDE_PIPEDRIVE_DAILY_TOKENS
# pipedrive_daily_tokens = 30000

[sync]
# Minutes between syncs of a connection (5-1440). Env: PITCHSIDE_SYNC_INTERVAL_MINUTES
interval_minutes = 15
# Pitchside's share of a CRM's daily API budget, in percent (1-100): it pauses for the day
# once it has used this much, leaving the rest to your other integrations.
# Env: PITCHSIDE_SYNC_QUOTA_SHARE_PERCENT
quota_share_percent = 50
# Sync workers this instance runs (0 = none: other instances sync). Env: PITCHSIDE_SYNC_WORKERS
workers = 2
# Pace requests to each CRM's published limits. Turn off only for benchmarks against mocks.
# Env: PITCHSIDE_SYNC_RATE_LIMIT (on/off)
rate_limit = true
# Seconds a worker holds a connection's sync without renewing it; after a crash another
# instance takes over this long after (3-3600). Env: PITCHSIDE_SYNC_LEASE_SECONDS
lease_seconds = 60
"#;

/// One setting: its environment variable and, unless it is a secret, its TOML key.
pub(crate) struct Spec {
    env: &'static str,
    key: Option<&'static str>,
}

const SPECS: &[Spec] = &[
    Spec {
        env: DATABASE_URL,
        key: Some("database.url"),
    },
    Spec {
        env: DATABASE_ROLE,
        key: Some("database.role"),
    },
    Spec {
        env: DATABASE_MAX_CONNECTIONS,
        key: Some("database.max_connections"),
    },
    Spec {
        env: BIND,
        key: Some("server.bind"),
    },
    Spec {
        env: PUBLIC_URL,
        key: Some("server.public_url"),
    },
    Spec {
        env: TRUSTED_PROXIES,
        key: Some("server.trusted_proxies"),
    },
    Spec {
        env: TLS_CERT,
        key: Some("server.tls_cert"),
    },
    Spec {
        env: TLS_KEY,
        key: Some("server.tls_key"),
    },
    Spec {
        env: HTTP_REDIRECT_BIND,
        key: Some("server.http_redirect_bind"),
    },
    Spec {
        env: AUTH_RATE_PER_MINUTE,
        key: Some("server.auth_rate_per_minute"),
    },
    Spec {
        env: API_RATE_PER_SECOND,
        key: Some("server.api_rate_per_second"),
    },
    Spec {
        env: LOG_FORMAT,
        key: Some("log.format"),
    },
    Spec {
        env: LOG,
        key: Some("log.filter"),
    },
    Spec {
        env: JWT_SECRET_FILE,
        key: Some("secrets.jwt_secret_file"),
    },
    Spec {
        env: METRICS_TOKEN_FILE,
        key: Some("secrets.metrics_token_file"),
    },
    Spec {
        env: JWT_SECRET,
        key: None,
    },
    Spec {
        env: METRICS_TOKEN,
        key: None,
    },
];

/// Every setting: the general ones and the CRM ones ([`crm`]).
fn all_specs() -> impl Iterator<Item = &'static Spec> {
    SPECS.iter().chain(crm::specs())
}

/// A secret string. `Debug` prints `<redacted>`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: pass it on, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A database URL. It may embed a password, so `Debug` and `Display` show it with the
/// password and the query string replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Check the scheme (`sqlite:` or `postgres://`).
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        store::Dialect::from_url(url)
            .map_err(|_| "must start with sqlite:// or postgres://".to_owned())?;
        if url.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(url.to_owned()))
    }

    /// The URL itself, password included: hand it to the driver, never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn dialect(&self) -> store::Dialect {
        store::Dialect::from_url(&self.0).unwrap_or(store::Dialect::Sqlite)
    }

    /// The URL with any password and query string hidden: safe for logs.
    pub fn redacted(&self) -> String {
        let url = self.0.as_str();
        let (base, query) = match url.split_once('?') {
            Some((base, _)) => (base, "?<redacted>"),
            None => (url, ""),
        };
        let Some(scheme_end) = base.find("://").map(|i| i + 3) else {
            return format!("{base}{query}");
        };
        let rest = &base[scheme_end..];
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                let user = userinfo.split(':').next().unwrap_or_default();
                let hidden = if userinfo.contains(':') {
                    ":<redacted>"
                } else {
                    ""
                };
                format!(
                    "{}{user}{hidden}{}{}{query}",
                    &base[..scheme_end],
                    &authority[at..],
                    &rest[authority_end..]
                )
            }
            None => format!("{base}{query}"),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// How log lines look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Compact, human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatabaseConfig {
    pub url: Option<DatabaseUrl>,
    /// PostgreSQL role to `SET ROLE` to; `None` keeps the login role.
    pub role: Option<String>,
    pub max_connections: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    pub bind: SocketAddr,
    /// `scheme://host[:port]`, no trailing slash.
    pub public_url: Option<String>,
    pub trusted_proxies: Vec<IpAddr>,
    /// PEM certificate chain and private key: `serve` terminates TLS itself.
    pub tls: Option<TlsFiles>,
    /// With TLS: a plain-http listener that redirects to the public URL.
    pub http_redirect_bind: Option<SocketAddr>,
    pub auth_rate_per_minute: u32,
    pub api_rate_per_second: u32,
}

/// The certificate chain and key `serve` terminates TLS with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    pub format: LogFormat,
    /// A `tracing_subscriber::EnvFilter` directive, already checked.
    pub filter: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecretsConfig {
    /// Base64 of at least 32 bytes, already checked to make a valid [`SigningKey`].
    pub jwt_secret: Option<Secret>,
    pub metrics_token: Option<Secret>,
}

/// The whole configuration, every value checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub database: DatabaseConfig,
    pub server: ServerConfig,
    pub log: LogConfig,
    pub secrets: SecretsConfig,
    /// CRM endpoints, OAuth apps and how the sync runs.
    pub crm: CrmConfig,
    /// The TOML file that was read, if any.
    pub file: Option<PathBuf>,
    /// Harmless oddities (unknown `PITCHSIDE_*` variables, a plain-http public URL) to
    /// log once telemetry is up.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database: DatabaseConfig {
                url: None,
                role: Some(store::APP_ROLE.to_owned()),
                max_connections: 16,
            },
            server: ServerConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
                public_url: None,
                trusted_proxies: Vec::new(),
                tls: None,
                http_redirect_bind: None,
                auth_rate_per_minute: 20,
                api_rate_per_second: 100,
            },
            log: LogConfig {
                format: LogFormat::Pretty,
                filter: DEFAULT_LOG_FILTER.to_owned(),
            },
            secrets: SecretsConfig {
                jwt_secret: None,
                metrics_token: None,
            },
            crm: CrmConfig::default(),
            file: None,
            warnings: Vec::new(),
        }
    }
}

/// One thing wrong with the configuration, tied to the environment variable that sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The environment variable (`PITCHSIDE_…`) the problem is about.
    pub setting: &'static str,
    /// A full sentence naming the setting (and the file key, when it came from the file).
    pub message: String,
}

/// The configuration is unusable. Lists every problem found, not just the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<Problem>,
}

impl ConfigError {
    fn new(setting: &'static str, message: impl Into<String>) -> Self {
        Self {
            problems: vec![Problem {
                setting,
                message: message.into(),
            }],
        }
    }

    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Whether a problem concerns `setting` (an environment variable name).
    pub fn mentions(&self, setting: &str) -> bool {
        self.problems.iter().any(|p| p.setting == setting)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [one] => f.write_str(&one.message),
            many => {
                write!(f, "{} configuration problems:", many.len())?;
                for p in many {
                    write!(f, "\n  - {}", p.message)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

pub mod crm;
mod layers;
pub use crm::{CrmConfig, ProviderConfig};
use layers::{Layers, static_name};

impl Config {
    /// Read the process environment (and the TOML file it points at).
    pub fn load() -> Result<Self, ConfigError> {
        let mut vars = Vec::new();
        let mut problems = Vec::new();
        for (key, value) in std::env::vars_os() {
            let Some(key) = key.to_str().filter(|k| k.starts_with("PITCHSIDE_")) else {
                continue;
            };
            match value.into_string() {
                Ok(value) => vars.push((key.to_owned(), value)),
                Err(_) => problems.push(Problem {
                    setting: static_name(key),
                    message: format!("{key} is not valid UTF-8"),
                }),
            }
        }
        let result = Self::from_env_map(vars);
        if problems.is_empty() {
            return result;
        }
        if let Err(e) = result {
            problems.extend(e.problems);
        }
        Err(ConfigError { problems })
    }

    /// Build from the given environment variables (other names are ignored), reading the
    /// TOML file named by `PITCHSIDE_CONFIG` among them, else `./pitchside.toml` if it
    /// exists.
    pub fn from_env_map<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let named = vars
            .iter()
            .find(|(k, v)| k == CONFIG_ENV && !v.trim().is_empty())
            .map(|(_, v)| PathBuf::from(v.trim()));
        let file = match named {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(text) => Some((path, text)),
                Err(e) => {
                    return Err(ConfigError::new(
                        CONFIG_ENV,
                        format!(
                            "{CONFIG_ENV} names {} but it cannot be read: {e}",
                            path.display()
                        ),
                    ));
                }
            },
            None => {
                let path = PathBuf::from(DEFAULT_CONFIG_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Some((path, text)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => {
                        return Err(ConfigError::new(
                            CONFIG_ENV,
                            format!("./{DEFAULT_CONFIG_FILE} exists but cannot be read: {e}"),
                        ));
                    }
                }
            }
        };
        Self::build(file.as_ref().map(|(p, t)| (p.as_path(), t.as_str())), vars)
    }

    /// Build from TOML text (as if read from `pitchside.toml`) and environment variables,
    /// without touching the file system except for `*_FILE` secrets.
    pub fn from_toml_and_env<I, K, V>(toml: Option<&str>, vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::build(toml.map(|t| (Path::new(DEFAULT_CONFIG_FILE), t)), vars)
    }

    fn build(
        file: Option<(&Path, &str)>,
        vars: Vec<(String, String)>,
    ) -> Result<Self, ConfigError> {
        let mut layers = Layers::default();
        if let Some((path, text)) = file {
            layers.add_toml(path, text);
        }
        layers.add_env(vars);
        let mut config = layers.parse()?;
        config.file = file.map(|(p, _)| p.to_path_buf());
        Ok(config)
    }

    /// The database URL, required by every command that opens the database.
    pub fn database_url(&self) -> Result<&DatabaseUrl, ConfigError> {
        self.database.url.as_ref().ok_or_else(|| {
            ConfigError::new(
                DATABASE_URL,
                format!(
                    "{DATABASE_URL} is not set: set it to sqlite:///path/to/pitchside.db or \
                     postgres://user@host/dbname (or `database.url` in pitchside.toml)"
                ),
            )
        })
    }

    /// Connection settings for the store, with the configured URL.
    pub fn store_options(&self) -> Result<StoreOptions, ConfigError> {
        Ok(self.store_options_for(self.database_url()?.expose()))
    }

    /// Connection settings for the store, with another URL (the demo's SQLite file).
    pub fn store_options_for(&self, url: &str) -> StoreOptions {
        StoreOptions {
            url: url.to_owned(),
            max_connections: self.database.max_connections,
            pg_role: self.database.role.clone(),
        }
    }

    /// The JWT signing key, required by `serve`.
    pub fn signing_key(&self) -> Result<SigningKey, ConfigError> {
        let secret = self.secrets.jwt_secret.as_ref().ok_or_else(|| {
            ConfigError::new(
                JWT_SECRET,
                format!(
                    "{JWT_SECRET} is not set: `pitchside serve` signs login tokens with it and \
                     will not start without one. Set {JWT_SECRET} to base64 of at least 32 random \
                     bytes ({JWT_SECRET_HINT}) or name a file holding it in {JWT_SECRET_FILE}"
                ),
            )
        })?;
        SigningKey::from_base64(secret.expose()).map_err(|_| bad_jwt_secret(JWT_SECRET))
    }

    /// The public URL, required by `serve`.
    pub fn public_url(&self) -> Result<&str, ConfigError> {
        self.server.public_url.as_deref().ok_or_else(|| {
            ConfigError::new(
                PUBLIC_URL,
                format!(
                    "{PUBLIC_URL} is not set: set it to the URL people use to reach Pitchside, \
                     e.g. https://pitchside.example.com (it builds invitation links and the \
                     allowed Origin)"
                ),
            )
        })
    }

    /// The HTTP layer's settings for `public_url` and `cookie_mode`.
    pub fn web_config(&self, public_url: &str, cookie_mode: CookieMode) -> WebConfig {
        WebConfig {
            public_url: public_url.trim_end_matches('/').to_owned(),
            cookie_mode,
            auth_rate_per_minute: self.server.auth_rate_per_minute,
            api_rate_per_second: self.server.api_rate_per_second,
            trusted_proxies: self.server.trusted_proxies.clone(),
            access_ttl_secs: 900,
            metrics_token: self
                .secrets
                .metrics_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
        }
    }

    /// Everything `serve` needs, or every required setting that is missing.
    pub fn for_serve(&self) -> Result<ServeSettings, ConfigError> {
        let mut problems = Vec::new();
        let store = self
            .store_options()
            .map_err(|e| problems.extend(e.problems));
        let public_url = self.public_url().map_err(|e| problems.extend(e.problems));
        let keys = self.signing_key().map_err(|e| problems.extend(e.problems));
        match (store, public_url, keys) {
            (Ok(store), Ok(public_url), Ok(keys)) => Ok(ServeSettings {
                bind: self.server.bind,
                tls: self.server.tls.clone(),
                http_redirect_bind: self.server.http_redirect_bind,
                store,
                keys,
                web: self.web_config(public_url, CookieMode::Secure),
            }),
            _ => Err(ConfigError { problems }),
        }
    }
}

/// What `serve` runs with. `Debug` leaves out the database URL and the metrics token
/// (the store and web crates' own `Debug` would print them).
pub struct ServeSettings {
    pub bind: SocketAddr,
    pub tls: Option<TlsFiles>,
    pub http_redirect_bind: Option<SocketAddr>,
    pub store: StoreOptions,
    pub keys: SigningKey,
    pub web: WebConfig,
}

impl fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeSettings")
            .field("bind", &self.bind)
            .field("tls", &self.tls)
            .field("http_redirect_bind", &self.http_redirect_bind)
            .field("database", &DatabaseUrl(self.store.url.clone()))
            .field("max_connections", &self.store.max_connections)
            .field("pg_role", &self.store.pg_role)
            .field("public_url", &self.web.public_url)
            .field("cookie_mode", &self.web.cookie_mode)
            .field("auth_rate_per_minute", &self.web.auth_rate_per_minute)
            .field("api_rate_per_second", &self.web.api_rate_per_second)
            .field("trusted_proxies", &self.web.trusted_proxies)
            .field(
                "metrics_token",
                &self.web.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

fn bad_jwt_secret(label: &str) -> ConfigError {
    ConfigError::new(
        JWT_SECRET,
        format!(
            "{label} is not a valid signing key: it must be base64 (standard or url-safe) of at \
             least 32 random bytes; {JWT_SECRET_HINT}"
        ),
    )
}

#[cfg(test)]
mod tests;
