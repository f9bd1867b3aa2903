//! Configuration layers: defaults, then the TOML file, then the environment, kept as
//! raw text per setting (last layer wins) and parsed into [`Config`] once.

use super::*;

/// Where a raw value came from, for error messages.
#[derive(Clone, Debug)]
pub(super) enum Origin {
    Env,
    File { path: PathBuf, key: &'static str },
}

#[derive(Clone, Debug)]
pub(super) struct Raw {
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
pub(super) struct Layers {
    raw: HashMap<&'static str, Raw>,
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

/// The `&'static` name for an environment variable, for [`Problem::setting`].
pub(super) fn static_name(name: &str) -> &'static str {
    all_specs()
        .map(|s| s.env)
        .chain([CONFIG_ENV])
        .find(|env| *env == name)
        .unwrap_or("PITCHSIDE_*")
}

impl Layers {
    pub(super) fn problem(&mut self, setting: &'static str, message: String) {
        self.problems.push(Problem { setting, message });
    }

    /// Flatten the TOML file into raw values. Unknown keys are errors (a typo should not
    /// silently leave a default in place), and secrets are refused outright.
    pub(super) fn add_toml(&mut self, path: &Path, text: &str) {
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
                        "{}: `{section}` must be a section ([database], [server], [log], [secrets], [crm] or [sync])",
                        path.display()
                    ),
                );
                continue;
            };
            for (name, value) in entries {
                let full = format!("{section}.{name}");
                let Some(spec) = all_specs().find(|s| s.key == Some(full.as_str())) else {
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
                    toml::Value::Boolean(b) => b.to_string(),
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
    pub(super) fn add_env(&mut self, vars: Vec<(String, String)>) {
        for (name, value) in vars {
            if !name.starts_with("PITCHSIDE_") || name == CONFIG_ENV {
                continue;
            }
            let Some(spec) = all_specs().find(|s| s.env == name) else {
                // Test settings, and the sealing key rings (read directly by the commands
                // that seal, see `server::sealing_keys`), are not configuration keys.
                if !name.starts_with("PITCHSIDE_TEST_") && !name.starts_with("PITCHSIDE_KEYS_") {
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
    pub(super) fn take<T>(
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
    pub(super) fn secret(
        &mut self,
        env: &'static str,
        file_env: &'static str,
    ) -> Option<(Secret, String)> {
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

    pub(super) fn parse(mut self) -> Result<Config, ConfigError> {
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
        let cert = self.take(TLS_CERT, parse_path);
        let key = self.take(TLS_KEY, parse_path);
        match (cert, key) {
            (Some(cert), Some(key)) => c.server.tls = Some(TlsFiles { cert, key }),
            (None, None) => {}
            (Some(_), None) => self.problem(
                TLS_KEY,
                format!("{TLS_CERT} is set but {TLS_KEY} is not: set both or neither"),
            ),
            (None, Some(_)) => self.problem(
                TLS_CERT,
                format!("{TLS_KEY} is set but {TLS_CERT} is not: set both or neither"),
            ),
        }
        if let Some(bind) = self.take(HTTP_REDIRECT_BIND, parse_bind) {
            if c.server.tls.is_none() {
                self.problem(
                    HTTP_REDIRECT_BIND,
                    format!(
                        "{HTTP_REDIRECT_BIND} redirects plain http to https, which needs \
                         {TLS_CERT} and {TLS_KEY}"
                    ),
                );
            }
            c.server.http_redirect_bind = Some(bind);
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
        super::crm::parse(&mut self, &mut c);

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

pub(super) fn parse_u32(s: &str, min: u32, max: u32) -> Result<u32, String> {
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

fn parse_path(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() || s.chars().any(char::is_control) {
        return Err("must be a file path".into());
    }
    Ok(PathBuf::from(s))
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
pub(super) fn shorten(s: &str) -> String {
    if s.chars().count() > 80 {
        let head: String = s.chars().take(80).collect();
        format!("{head}…")
    } else {
        s.to_owned()
    }
}
