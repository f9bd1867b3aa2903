//! Where the sealing key rings come from, and reloading them while serving.
//!
//! Each domain's ring comes from exactly one source:
//! 1. the environment, `PITCHSIDE_KEYS_<DOMAIN>` (comma-separated Fernet keys, primary
//!    first);
//! 2. the key file named by `PITCHSIDE_KEYS_FILE`: TOML with one such string per domain
//!    (`coaching_notes = "key2,key1"`), the format `demo` writes;
//! 3. Google Secret Manager: `PITCHSIDE_KEYS_GSM_<DOMAIN>` names a secret version
//!    (`projects/P/secrets/S/versions/latest`) whose payload is the same string, read
//!    with the service account in `PITCHSIDE_KEYS_GSM_CREDENTIALS`.
//!
//! A domain configured in two places is an error: which one wins would be a guess.
//! `serve` reloads the file and Secret Manager rings on SIGHUP and every
//! `PITCHSIDE_KEYS_RELOAD_SECS` (default 300; 0 = SIGHUP only); the environment cannot
//! change under a running process. A reload that fails keeps the rings in use.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use store::Store;
use vault::sealed::{Domain, KeyRing, Keys};

use crate::Error;
use crate::gsm::GsmClient;

pub const KEYS_FILE: &str = "PITCHSIDE_KEYS_FILE";
pub const KEYS_RELOAD_SECS: &str = "PITCHSIDE_KEYS_RELOAD_SECS";
pub const GSM_CREDENTIALS: &str = "PITCHSIDE_KEYS_GSM_CREDENTIALS";
pub const GSM_URL: &str = "PITCHSIDE_KEYS_GSM_URL";
pub const GSM_TOKEN_URL: &str = "PITCHSIDE_KEYS_GSM_TOKEN_URL";

/// The variable naming `domain`'s secret version in Secret Manager.
pub fn gsm_var(domain: Domain) -> String {
    format!(
        "PITCHSIDE_KEYS_GSM_{}",
        domain.as_str().to_ascii_uppercase()
    )
}

/// The configured sources.
pub struct KeySources {
    /// Rings given in the environment (fixed for the life of the process).
    env: BTreeMap<Domain, String>,
    file: Option<PathBuf>,
    gsm: Option<(GsmClient, BTreeMap<Domain, String>)>,
    /// How often `serve` reloads; `None` = on SIGHUP only.
    pub reload_every: Option<Duration>,
}

impl KeySources {
    /// Read the sources' settings through `lookup` (the process environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let env = Domain::ALL
            .into_iter()
            .filter_map(|d| lookup(&d.env_var()).map(|v| (d, v)))
            .collect();
        let file = lookup(KEYS_FILE)
            .filter(|f| !f.trim().is_empty())
            .map(|f| PathBuf::from(f.trim()));
        let names: BTreeMap<Domain, String> = Domain::ALL
            .into_iter()
            .filter_map(|d| lookup(&gsm_var(d)).map(|v| (d, v.trim().to_owned())))
            .collect();
        let gsm = if names.is_empty() {
            None
        } else {
            let credentials = lookup(GSM_CREDENTIALS).ok_or_else(|| {
                Error::invalid(format!(
                    "{} names a Secret Manager secret, so {GSM_CREDENTIALS} must name a \
                     service-account key file",
                    gsm_var(*names.keys().next().unwrap_or(&Domain::CrmTokens))
                ))
            })?;
            let base = lookup(GSM_URL).unwrap_or_else(|| crate::gsm::DEFAULT_BASE_URL.to_owned());
            let client = GsmClient::from_key_file(
                std::path::Path::new(credentials.trim()),
                &base,
                lookup(GSM_TOKEN_URL).as_deref(),
            )
            .map_err(|e| Error::invalid(format!("{GSM_CREDENTIALS}: {e:#}")))?;
            Some((client, names))
        };
        let reload_every = match lookup(KEYS_RELOAD_SECS) {
            None => Some(Duration::from_secs(300)),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(0) => None,
                Ok(n) if n <= 86_400 => Some(Duration::from_secs(n)),
                _ => {
                    return Err(Error::invalid(format!(
                        "{KEYS_RELOAD_SECS} must be a whole number of seconds from 0 to 86400"
                    )));
                }
            },
        };
        Ok(Self {
            env,
            file,
            gsm,
            reload_every,
        })
    }

    /// Whether anything can change on a reload.
    pub fn reloadable(&self) -> bool {
        self.file.is_some() || self.gsm.is_some()
    }

    /// Load every ring from its source; every domain must be present.
    pub async fn load(&self) -> Result<Keys, Error> {
        let mut texts: BTreeMap<Domain, (String, String)> = self
            .env
            .iter()
            .map(|(d, v)| (*d, (d.env_var(), v.clone())))
            .collect();
        let mut put = |domain: Domain, source: String, text: String| -> Result<(), Error> {
            if let Some((first, _)) = texts.get(&domain) {
                return Err(Error::invalid(format!(
                    "the {domain} keys are configured twice, in {first} and in {source}: keep one"
                )));
            }
            texts.insert(domain, (source, text));
            Ok(())
        };
        if let Some(path) = &self.file {
            let label = format!("the key file {} ({KEYS_FILE})", path.display());
            let text = std::fs::read_to_string(path)
                .map_err(|e| Error::invalid(format!("cannot read {label}: {e}")))?;
            let table: BTreeMap<String, String> = toml::from_str(&text).map_err(|e| {
                Error::invalid(format!(
                    "{label} must hold one `domain = \"key,key\"` line per domain: {}",
                    e.message()
                ))
            })?;
            for (name, keys) in table {
                let domain = Domain::parse(&name).ok_or_else(|| {
                    Error::invalid(format!("{label} names an unknown domain {name:?}"))
                })?;
                put(domain, label.clone(), keys)?;
            }
        }
        if let Some((client, names)) = &self.gsm {
            for (domain, name) in names {
                let text = client
                    .access(name)
                    .await
                    .map_err(|e| Error::invalid(format!("{}: {e:#}", gsm_var(*domain))))?;
                put(
                    *domain,
                    format!("Secret Manager ({})", gsm_var(*domain)),
                    text,
                )?;
            }
        }
        let mut keys = Keys::default();
        for (domain, (source, text)) in &texts {
            let ring = KeyRing::parse(*domain, text)
                .map_err(|e| Error::invalid(format!("{source}: {e}")))?;
            keys.insert(ring);
        }
        let missing = keys.missing();
        if !missing.is_empty() {
            let vars: Vec<String> = missing.iter().map(|d| d.env_var()).collect();
            return Err(Error::invalid(format!(
                "missing sealing keys: set {} (comma-separated Fernet keys, primary first; \
                 generate one with `pitchside keys generate`), or give them in the \
                 {KEYS_FILE} file or through PITCHSIDE_KEYS_GSM_<DOMAIN>",
                vars.join(", ")
            )));
        }
        Ok(keys)
    }
}

/// The key ids of every ring, primary first: what a reload compares and logs.
pub fn fingerprint(keys: &Keys) -> BTreeMap<Domain, Vec<String>> {
    Domain::ALL
        .into_iter()
        .map(|d| {
            (
                d,
                keys.ring(d)
                    .key_ids()
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            )
        })
        .collect()
}

/// The key ids of every ring as an audit detail (ids only, never keys).
fn detail(keys: &Keys) -> serde_json::Value {
    serde_json::Value::Object(
        fingerprint(keys)
            .iter()
            .map(|(d, ids)| (d.as_str().to_owned(), serde_json::json!(ids)))
            .collect(),
    )
}

/// Record, in the system chain, which keys an instance starts with: with
/// `keys.reloaded`, the audit trail of when each key came into (and out of) use.
pub async fn record_start(store: &Store) -> Result<(), Error> {
    store
        .audit_operator(None, "keys.loaded", detail(&store.keys()))
        .await
        .map_err(anyhow::Error::from)?;
    Ok(())
}

/// Load the rings again and, if they changed, put them in use. Returns whether they
/// changed; an error leaves the rings in use untouched.
pub async fn reload(sources: &KeySources, store: &Store) -> Result<bool, Error> {
    let keys = sources.load().await?;
    let before = fingerprint(&store.keys());
    let after = fingerprint(&keys);
    if before == after {
        return Ok(false);
    }
    let detail = detail(&keys);
    store.set_keys(Arc::new(keys));
    tracing::info!(key_ids = %detail, "sealing keys reloaded");
    store
        .audit_operator(None, "keys.reloaded", detail)
        .await
        .map_err(anyhow::Error::from)?;
    Ok(true)
}

/// Reload on SIGHUP and on the configured interval, for as long as the server runs.
pub fn spawn_reloader(sources: Arc<KeySources>, store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            let interval = async {
                match sources.reload_every {
                    Some(every) => tokio::time::sleep(every).await,
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(unix)]
            let signal = async {
                match hangup.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            #[cfg(not(unix))]
            let signal = std::future::pending::<()>();
            let why = tokio::select! {
                () = interval => "interval",
                () = signal => "SIGHUP",
            };
            match reload(&sources, &store).await {
                Ok(true) => {}
                Ok(false) => tracing::debug!(trigger = why, "sealing keys unchanged"),
                Err(e) => tracing::error!(
                    trigger = why,
                    error = %e,
                    "reloading the sealing keys failed; the keys in use stay"
                ),
            }
        }
    })
}
