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
# Reverse proxies whose X-Forwarded-For is believed. Env: PITCHSIDE_TRUSTED_PROXIES
# (comma-separated)
trusted_proxies = []
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
"#;

/// One setting: its environment variable and, unless it is a secret, its TOML key.
struct Spec {
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
    pub auth_rate_per_minute: u32,
    pub api_rate_per_second: u32,
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

/// Where a raw value came from, for error messages.
#[derive(Clone, Debug)]
enum Origin {
    Env,
    File { path: PathBuf, key: &'static str },
}

#[derive(Clone, Debug)]
struct Raw {
    text: String,
    origin: Origin,
}

impl Raw {
    /// How to name this value in a message: always the environment variable, plus the
    /// file key when it came from the file.
    fn label(&self, env: &str) -> String {
        match &self.origin {
            Origin::Env => env.to_owned(),
            Origin::File { path, key } => format!("{env} (`{key}` in {})", path.display()),
        }
    }
}

/// Everything `Config` needs, before parsing: raw text per setting, last layer wins.
#[derive(Default)]
struct Layers {
    raw: HashMap<&'static str, Raw>,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

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
    pub store: StoreOptions,
    pub keys: SigningKey,
    pub web: WebConfig,
}

impl fmt::Debug for ServeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeSettings")
            .field("bind", &self.bind)
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

/// The `&'static` name for an environment variable, for [`Problem::setting`].
fn static_name(name: &str) -> &'static str {
    SPECS
        .iter()
        .map(|s| s.env)
        .chain([CONFIG_ENV])
        .find(|env| *env == name)
        .unwrap_or("PITCHSIDE_*")
}

impl Layers {
    fn problem(&mut self, setting: &'static str, message: String) {
        self.problems.push(Problem { setting, message });
    }

    /// Flatten the TOML file into raw values. Unknown keys are errors (a typo should not
    /// silently leave a default in place), and secrets are refused outright.
    fn add_toml(&mut self, path: &Path, text: &str) {
        let table: toml::Table = match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                self.problem(
                    CONFIG_ENV,
                    format!("{} is not valid TOML: {}", path.display(), e.message()),
                );
                return;
            }
        };
        for (section, value) in &table {
            let Some(entries) = value.as_table() else {
                self.problem(
                    CONFIG_ENV,
                    format!(
                        "{}: `{section}` must be a section ([database], [server], [log] or [secrets])",
                        path.display()
                    ),
                );
                continue;
            };
            for (name, value) in entries {
                let full = format!("{section}.{name}");
                let Some(spec) = SPECS.iter().find(|s| s.key == Some(full.as_str())) else {
                    let hint = match full.as_str() {
                        "secrets.jwt_secret" | "auth.jwt_secret" | "server.jwt_secret" => format!(
                            ": secrets are not read from the file; set {JWT_SECRET} or \
                             `secrets.jwt_secret_file`"
                        ),
                        "secrets.metrics_token" | "server.metrics_token" => format!(
                            ": secrets are not read from the file; set {METRICS_TOKEN} or \
                             `secrets.metrics_token_file`"
                        ),
                        _ => String::from(" (see `pitchside print-default-config`)"),
                    };
                    self.problem(
                        CONFIG_ENV,
                        format!("{}: unknown setting `{full}`{hint}", path.display()),
                    );
                    continue;
                };
                let key = spec.key.unwrap_or_default();
                let text = match value {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(i) => i.to_string(),
                    toml::Value::Array(items) => {
                        let strings: Option<Vec<&str>> = items.iter().map(|v| v.as_str()).collect();
                        match strings {
                            Some(strings) => strings.join(","),
                            None => {
                                self.problem(
                                    spec.env,
                                    format!(
                                        "`{key}` in {} must be a list of strings",
                                        path.display()
                                    ),
                                );
                                continue;
                            }
                        }
                    }
                    _ => {
                        self.problem(
                            spec.env,
                            format!("`{key}` in {} must be a string or a number", path.display()),
                        );
                        continue;
                    }
                };
                self.raw.insert(
                    spec.env,
                    Raw {
                        text,
                        origin: Origin::File {
                            path: path.to_path_buf(),
                            key,
                        },
                    },
                );
            }
        }
    }

    /// Environment variables override the file. An empty value counts as unset, except
    /// for `PITCHSIDE_DATABASE_ROLE`, where "" means "do not switch roles".
    fn add_env(&mut self, vars: Vec<(String, String)>) {
        for (name, value) in vars {
            if !name.starts_with("PITCHSIDE_") || name == CONFIG_ENV {
                continue;
            }
            let Some(spec) = SPECS.iter().find(|s| s.env == name) else {
                if !name.starts_with("PITCHSIDE_TEST_") {
                    self.warnings
                        .push(format!("unknown environment variable {name} is ignored"));
                }
                continue;
            };
            if value.trim().is_empty() && spec.env != DATABASE_ROLE {
                continue;
            }
            self.raw.insert(
                spec.env,
                Raw {
                    text: value,
                    origin: Origin::Env,
                },
            );
        }
    }

    /// Parse `env`'s raw value, if any, recording a problem on failure.
    fn take<T>(
        &mut self,
        env: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.raw.get(env)?.clone();
        match parse(raw.text.trim()) {
            Ok(v) => Some(v),
            Err(message) => {
                let label = raw.label(env);
                self.problem(env, format!("{label} {message}"));
                None
            }
        }
    }

    /// A secret from its variable or from the file its `*_FILE` setting names.
    fn secret(&mut self, env: &'static str, file_env: &'static str) -> Option<(Secret, String)> {
        let direct = self.raw.get(env).cloned();
        let file = self.raw.get(file_env).cloned();
        match (direct, file) {
            (Some(_), Some(f)) => {
                let label = f.label(file_env);
                self.problem(
                    env,
                    format!("both {env} and {label} are set; set only one of them"),
                );
                None
            }
            (Some(d), None) => Some((Secret::new(d.text.trim()), env.to_owned())),
            (None, Some(f)) => {
                let label = f.label(file_env);
                let path = PathBuf::from(f.text.trim());
                match std::fs::read_to_string(&path) {
                    Ok(text) if !text.trim().is_empty() => Some((
                        Secret::new(text.trim()),
                        format!("the file {} named by {label}", path.display()),
                    )),
                    Ok(_) => {
                        self.problem(
                            file_env,
                            format!("{label} names {}, which is empty", path.display()),
                        );
                        None
                    }
                    Err(e) => {
                        self.problem(
                            file_env,
                            format!(
                                "{label} names {}, which cannot be read: {e}",
                                path.display()
                            ),
                        );
                        None
                    }
                }
            }
            (None, None) => None,
        }
    }

    fn parse(mut self) -> Result<Config, ConfigError> {
        let mut c = Config::default();

        if let Some(url) = self.take(DATABASE_URL, |s| {
            // Never echo the value: it may hold a password.
            DatabaseUrl::parse(s)
        }) {
            c.database.url = Some(url);
        }
        if let Some(role) = self.take(DATABASE_ROLE, parse_role) {
            c.database.role = role;
        }
        if let Some(n) = self.take(DATABASE_MAX_CONNECTIONS, |s| parse_u32(s, 1, 1_000)) {
            c.database.max_connections = n;
        }
        if let Some(bind) = self.take(BIND, parse_bind) {
            c.server.bind = bind;
        }
        if let Some(url) = self.take(PUBLIC_URL, parse_public_url) {
            if url.starts_with("http://") && !is_local_url(&url) {
                self.warnings.push(format!(
                    "{PUBLIC_URL} is plain http ({url}): browsers will not send the Secure \
                     session cookie `serve` sets; put Pitchside behind https"
                ));
            }
            c.server.public_url = Some(url);
        }
        if let Some(proxies) = self.take(TRUSTED_PROXIES, parse_proxies) {
            c.server.trusted_proxies = proxies;
        }
        if let Some(n) = self.take(AUTH_RATE_PER_MINUTE, |s| parse_u32(s, 0, 1_000_000)) {
            c.server.auth_rate_per_minute = n;
        }
        if let Some(n) = self.take(API_RATE_PER_SECOND, |s| parse_u32(s, 0, 1_000_000)) {
            c.server.api_rate_per_second = n;
        }
        if let Some(format) = self.take(LOG_FORMAT, parse_log_format) {
            c.log.format = format;
        }
        if let Some(filter) = self.take(LOG, parse_filter) {
            c.log.filter = filter;
        }
        if let Some((secret, label)) = self.secret(JWT_SECRET, JWT_SECRET_FILE) {
            if SigningKey::from_base64(secret.expose()).is_ok() {
                c.secrets.jwt_secret = Some(secret);
            } else {
                self.problems.extend(bad_jwt_secret(&label).problems);
            }
        }
        if let Some((token, _)) = self.secret(METRICS_TOKEN, METRICS_TOKEN_FILE) {
            c.secrets.metrics_token = Some(token);
        }

        if self.problems.is_empty() {
            c.warnings = self.warnings;
            Ok(c)
        } else {
            Err(ConfigError {
                problems: self.problems,
            })
        }
    }
}

fn parse_u32(s: &str, min: u32, max: u32) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "must be a whole number from {min} to {max}, got {:?}",
            shorten(s)
        )),
    }
}

fn parse_bind(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| {
        format!(
            "must be an IP address and port such as 127.0.0.1:8080 or [::]:8080, got {:?}",
            shorten(s)
        )
    })
}

fn parse_role(s: &str) -> Result<Option<String>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let mut chars = s.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if first_ok && s.len() <= 63 && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(Some(s.to_owned()))
    } else {
        Err(format!(
            "must be a plain PostgreSQL role name (letters, digits, _; at most 63), or empty to \
             keep the login role, got {:?}",
            shorten(s)
        ))
    }
}

fn parse_public_url(s: &str) -> Result<String, String> {
    let bad = |why: &str| Err(format!("{why}, got {:?}", shorten(s)));
    let Some((scheme, rest)) = s.split_once("://") else {
        return bad("must be an http:// or https:// URL such as https://pitchside.example.com");
    };
    if scheme != "https" && scheme != "http" {
        return bad("must start with https:// (or http:// for local use)");
    }
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() {
        return bad("must name a host");
    }
    if rest.contains(['/', '?', '#']) {
        return bad(
            "must be scheme://host[:port] with no path, query or fragment (Pitchside is served from the root)",
        );
    }
    if rest.contains('@') || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("must be a plain scheme://host[:port]");
    }
    Ok(format!("{scheme}://{rest}"))
}

fn is_local_url(url: &str) -> bool {
    let host = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]")
}

fn parse_proxies(s: &str) -> Result<Vec<IpAddr>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.contains('/') {
                return Err(format!(
                    "must list IP addresses; ranges such as {p:?} are not supported, list each proxy"
                ));
            }
            p.parse::<IpAddr>().map_err(|_| {
                format!(
                    "must be a comma-separated list of IP addresses, and {:?} is not one",
                    shorten(p)
                )
            })
        })
        .collect()
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s.to_ascii_lowercase().as_str() {
        "json" => Ok(LogFormat::Json),
        "pretty" => Ok(LogFormat::Pretty),
        _ => Err(format!("must be `json` or `pretty`, got {:?}", shorten(s))),
    }
}

fn parse_filter(s: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(s)
        .map(|_| s.to_owned())
        .map_err(|e| {
            format!("must be a log filter such as `info` or `info,pitchside_web=debug`: {e}")
        })
}

/// Quote user input in messages without flooding the terminal.
fn shorten(s: &str) -> String {
    if s.chars().count() > 80 {
        let head: String = s.chars().take(80).collect();
        format!("{head}…")
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldCE="; // 35 bytes

    fn env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml_and_env(None, pairs.iter().copied())
    }

    fn serve_env() -> Vec<(&'static str, &'static str)> {
        vec![
            (
                DATABASE_URL,
                "postgres://app:hunter2hunter2@db.internal:5432/pitchside",
            ),
            (PUBLIC_URL, "https://pitchside.example.com/"),
            (JWT_SECRET, KEY),
        ]
    }

    #[test]
    fn defaults_apply_with_no_input() {
        let c = env(&[]).expect("defaults are valid");
        assert_eq!(c, Config::default());
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.server.auth_rate_per_minute, 20);
        assert_eq!(c.server.api_rate_per_second, 100);
        assert_eq!(c.database.role.as_deref(), Some("pitchside_app"));
        assert_eq!(c.log.filter, "info,sqlx=warn");
        assert_eq!(c.log.format, LogFormat::Pretty);
    }

    #[test]
    fn the_printed_default_config_is_the_default() {
        let c = Config::from_toml_and_env(
            Some(DEFAULT_CONFIG_TOML),
            std::iter::empty::<(String, String)>(),
        )
        .expect("default config parses");
        assert_eq!(c.file.as_deref(), Some(Path::new(DEFAULT_CONFIG_FILE)));
        assert_eq!(Config { file: None, ..c }, Config::default());
    }

    #[test]
    fn serve_without_a_jwt_secret_refuses_naming_the_variable() {
        let mut vars = serve_env();
        vars.retain(|(k, _)| *k != JWT_SECRET);
        let c = env(&vars).expect("loading does not require the secret");
        let err = c.for_serve().expect_err("serve requires the secret");
        assert!(err.mentions(JWT_SECRET), "{err}");
        let msg = err.to_string();
        assert!(msg.contains("PITCHSIDE_JWT_SECRET"), "{msg}");
        assert!(msg.contains("openssl rand -base64 32"), "{msg}");
    }

    #[test]
    fn serve_lists_every_missing_requirement() {
        let err = env(&[])
            .expect("loads")
            .for_serve()
            .expect_err("nothing set");
        for var in [DATABASE_URL, PUBLIC_URL, JWT_SECRET] {
            assert!(err.mentions(var), "{err}");
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn serve_settings_are_production_settings() {
        let s = env(&serve_env())
            .expect("loads")
            .for_serve()
            .expect("complete");
        assert_eq!(s.web.cookie_mode, CookieMode::Secure);
        assert_eq!(s.web.public_url, "https://pitchside.example.com");
        assert_eq!(s.store.pg_role.as_deref(), Some("pitchside_app"));
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains(KEY), "{debug}");
    }

    #[test]
    fn a_bad_jwt_secret_is_named_but_never_echoed() {
        let short = "dG9vLXNob3J0"; // "too-short"
        let err = env(&[(JWT_SECRET, short)]).expect_err("too short");
        assert!(err.mentions(JWT_SECRET));
        let msg = err.to_string();
        assert!(msg.contains("PITCHSIDE_JWT_SECRET") && msg.contains("openssl rand -base64 32"));
        assert!(!msg.contains(short), "{msg}");
    }

    #[test]
    fn a_bad_rate_names_the_variable() {
        let err = env(&[(AUTH_RATE_PER_MINUTE, "twenty")]).expect_err("not a number");
        assert!(err.mentions(AUTH_RATE_PER_MINUTE));
        assert!(
            err.to_string().contains("PITCHSIDE_AUTH_RATE_PER_MINUTE"),
            "{err}"
        );
        let err = env(&[(API_RATE_PER_SECOND, "-5")]).expect_err("negative");
        assert!(
            err.to_string().contains("PITCHSIDE_API_RATE_PER_SECOND"),
            "{err}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = env(&[
            (BIND, "localhost"),
            (LOG_FORMAT, "xml"),
            (DATABASE_URL, "mysql://x"),
            (TRUSTED_PROXIES, "10.0.0.0/8"),
        ])
        .expect_err("four problems");
        assert_eq!(err.problems().len(), 4, "{err}");
        for var in [BIND, LOG_FORMAT, DATABASE_URL, TRUSTED_PROXIES] {
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn toml_overrides_defaults_and_env_overrides_toml() {
        let toml = r#"
            [server]
            bind = "0.0.0.0:9000"
            auth_rate_per_minute = 5
            trusted_proxies = ["10.0.0.1", "10.0.0.2"]
            [log]
            format = "json"
        "#;
        let c =
            Config::from_toml_and_env(Some(toml), [(AUTH_RATE_PER_MINUTE, "7"), ("HOME", "/root")])
                .expect("valid");
        assert_eq!(c.server.bind.to_string(), "0.0.0.0:9000", "from the file");
        assert_eq!(c.server.auth_rate_per_minute, 7, "env wins over the file");
        assert_eq!(c.server.api_rate_per_second, 100, "default stays");
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.server.trusted_proxies.len(), 2);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn a_bad_value_in_the_file_names_the_key_and_the_variable() {
        let err = Config::from_toml_and_env(
            Some("[server]\napi_rate_per_second = \"fast\"\n"),
            std::iter::empty::<(String, String)>(),
        )
        .expect_err("bad value");
        let msg = err.to_string();
        assert!(msg.contains("PITCHSIDE_API_RATE_PER_SECOND"), "{msg}");
        assert!(msg.contains("server.api_rate_per_second"), "{msg}");
    }

    #[test]
    fn unknown_keys_and_secrets_in_the_file_are_refused() {
        let err = Config::from_toml_and_env(
            Some("[server]\nbnd = \"0.0.0.0:1\"\n[secrets]\njwt_secret = \"x\"\n"),
            std::iter::empty::<(String, String)>(),
        )
        .expect_err("typo and secret");
        let msg = err.to_string();
        assert!(msg.contains("server.bnd"), "{msg}");
        assert!(msg.contains("secrets are not read from the file"), "{msg}");
        let err =
            Config::from_toml_and_env(Some("bind = "), std::iter::empty::<(String, String)>())
                .expect_err("bad toml");
        assert!(err.mentions(CONFIG_ENV));
    }

    #[test]
    fn from_env_map_reads_the_file_named_by_pitchside_config() {
        let dir = std::env::temp_dir().join(format!("pitchside-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("custom.toml");
        std::fs::write(
            &path,
            "[database]\nurl = \"sqlite://from-file.db\"\nmax_connections = 4\n",
        )
        .expect("write");
        let secret_path = dir.join("jwt");
        std::fs::write(&secret_path, format!("{KEY}\n")).expect("write");
        let c = Config::from_env_map([
            (CONFIG_ENV.to_owned(), path.display().to_string()),
            (
                JWT_SECRET_FILE.to_owned(),
                secret_path.display().to_string(),
            ),
            (DATABASE_MAX_CONNECTIONS.to_owned(), "8".to_owned()),
        ])
        .expect("valid");
        assert_eq!(c.file.as_deref(), Some(path.as_path()));
        assert_eq!(
            c.database_url().expect("set").expose(),
            "sqlite://from-file.db"
        );
        assert_eq!(c.database.max_connections, 8);
        assert_eq!(c.secrets.jwt_secret.as_ref().map(Secret::expose), Some(KEY));
        assert!(c.signing_key().is_ok());

        let both = Config::from_env_map([
            (JWT_SECRET_FILE, secret_path.display().to_string()),
            (JWT_SECRET, KEY.to_owned()),
        ])
        .expect_err("ambiguous");
        assert!(both.mentions(JWT_SECRET), "{both}");

        let missing =
            Config::from_env_map([(CONFIG_ENV, dir.join("nope.toml").display().to_string())])
                .expect_err("missing file");
        assert!(missing.to_string().contains(CONFIG_ENV), "{missing}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn database_role_can_be_disabled_and_is_checked() {
        let c = env(&[(DATABASE_ROLE, "")]).expect("empty disables");
        assert_eq!(c.database.role, None);
        let c = env(&[(DATABASE_ROLE, "app_rw")]).expect("plain name");
        assert_eq!(c.database.role.as_deref(), Some("app_rw"));
        let err =
            env(&[(DATABASE_ROLE, "x\"; DROP TABLE users; --")]).expect_err("not an identifier");
        assert!(err.mentions(DATABASE_ROLE));
    }

    #[test]
    fn public_urls_are_normalised_and_checked() {
        let c = env(&[(PUBLIC_URL, "https://coach.example.com:8443/")]).expect("valid");
        assert_eq!(
            c.server.public_url.as_deref(),
            Some("https://coach.example.com:8443")
        );
        for bad in ["coach.example.com", "ftp://x", "https://x/app", "https://"] {
            let err = env(&[(PUBLIC_URL, bad)]).expect_err(bad);
            assert!(err.mentions(PUBLIC_URL), "{bad}: {err}");
        }
        let c = env(&[(PUBLIC_URL, "http://coach.example.com")]).expect("allowed");
        assert_eq!(c.warnings.len(), 1, "plain http off localhost warns");
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let c = env(&[
            (
                DATABASE_URL,
                "postgres://app:hunter2hunter2@db/p?sslpassword=zzz",
            ),
            (JWT_SECRET, KEY),
            (METRICS_TOKEN, "metrics-token-value"),
        ])
        .expect("valid");
        let debug = format!("{c:?}");
        for secret in ["hunter2", KEY, "metrics-token-value", "zzz"] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
        }
        assert!(debug.contains("postgres://app:<redacted>@db/p"), "{debug}");
    }

    #[test]
    fn unknown_variables_warn_but_test_variables_do_not() {
        let c = env(&[
            ("PITCHSIDE_JWT_SECRT", "x"),
            ("PITCHSIDE_TEST_POSTGRES_URL", "y"),
        ])
        .expect("valid");
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("PITCHSIDE_JWT_SECRT"));
    }

    #[test]
    fn log_filter_and_connections_are_checked() {
        assert!(env(&[(LOG, "debug,pitchside_web=trace")]).is_ok());
        assert!(
            env(&[(LOG, "info,[{")])
                .expect_err("bad filter")
                .mentions(LOG)
        );
        assert!(
            env(&[(DATABASE_MAX_CONNECTIONS, "0")])
                .expect_err("zero")
                .mentions(DATABASE_MAX_CONNECTIONS)
        );
    }
}
