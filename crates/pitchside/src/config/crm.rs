//! CRM settings: each provider's endpoints and optional OAuth app, and how the sync
//! runs (interval, quota share, workers, rate limiting, assumed budgets).
//!
//! | Variable | `pitchside.toml` |
//! |---|---|
//! | `PITCHSIDE_<PROVIDER>_API_URL`, `_AUTH_URL`, `_TOKEN_URL` | `crm.<provider>_api_url`, … |
//! | `PITCHSIDE_<PROVIDER>_CLIENT_ID` | `crm.<provider>_client_id` |
//! | `PITCHSIDE_<PROVIDER>_CLIENT_SECRET` (or `_CLIENT_SECRET_FILE`) | never (`crm.<provider>_client_secret_file`) |
//! | `PITCHSIDE_PIPEDRIVE_DAILY_TOKENS` | `crm.pipedrive_daily_tokens` |
//! | `PITCHSIDE_SYNC_INTERVAL_MINUTES`, `_QUOTA_SHARE_PERCENT`, `_WORKERS`, `_RATE_LIMIT`, `_LEASE_SECONDS` | `sync.interval_minutes`, … |
//!
//! Client secrets are [`Secret`]s: read from the environment or a file, never from the
//! TOML file, never printed by `Debug`.

use std::collections::{BTreeMap, HashMap};

use connectors::oauth::OAuthApp;
use connectors::{Endpoints, HttpOptions};
use domain::crm::Provider;

use super::layers::Layers;
use super::{Config, Secret, Spec};

pub const SYNC_INTERVAL_MINUTES: &str = "PITCHSIDE_SYNC_INTERVAL_MINUTES";
pub const SYNC_QUOTA_SHARE_PERCENT: &str = "PITCHSIDE_SYNC_QUOTA_SHARE_PERCENT";
pub const SYNC_WORKERS: &str = "PITCHSIDE_SYNC_WORKERS";
pub const SYNC_RATE_LIMIT: &str = "PITCHSIDE_SYNC_RATE_LIMIT";
pub const PIPEDRIVE_DAILY_TOKENS: &str = "PITCHSIDE_PIPEDRIVE_DAILY_TOKENS";
pub const SYNC_LEASE_SECONDS: &str = "PITCHSIDE_SYNC_LEASE_SECONDS";

/// The settings of one provider, by variable name.
struct ProviderVars {
    provider: Provider,
    api: &'static str,
    auth: &'static str,
    token: &'static str,
    client_id: &'static str,
    client_secret: &'static str,
    client_secret_file: &'static str,
}

macro_rules! provider_vars {
    ($provider:expr, $upper:literal) => {
        ProviderVars {
            provider: $provider,
            api: concat!("PITCHSIDE_", $upper, "_API_URL"),
            auth: concat!("PITCHSIDE_", $upper, "_AUTH_URL"),
            token: concat!("PITCHSIDE_", $upper, "_TOKEN_URL"),
            client_id: concat!("PITCHSIDE_", $upper, "_CLIENT_ID"),
            client_secret: concat!("PITCHSIDE_", $upper, "_CLIENT_SECRET"),
            client_secret_file: concat!("PITCHSIDE_", $upper, "_CLIENT_SECRET_FILE"),
        }
    };
}

const PROVIDERS: [ProviderVars; 3] = [
    provider_vars!(Provider::Hubspot, "HUBSPOT"),
    provider_vars!(Provider::Salesforce, "SALESFORCE"),
    provider_vars!(Provider::Pipedrive, "PIPEDRIVE"),
];

macro_rules! provider_specs {
    ($upper:literal, $lower:literal) => {
        [
            Spec {
                env: concat!("PITCHSIDE_", $upper, "_API_URL"),
                key: Some(concat!("crm.", $lower, "_api_url")),
            },
            Spec {
                env: concat!("PITCHSIDE_", $upper, "_AUTH_URL"),
                key: Some(concat!("crm.", $lower, "_auth_url")),
            },
            Spec {
                env: concat!("PITCHSIDE_", $upper, "_TOKEN_URL"),
                key: Some(concat!("crm.", $lower, "_token_url")),
            },
            Spec {
                env: concat!("PITCHSIDE_", $upper, "_CLIENT_ID"),
                key: Some(concat!("crm.", $lower, "_client_id")),
            },
            Spec {
                env: concat!("PITCHSIDE_", $upper, "_CLIENT_SECRET"),
                key: None,
            },
            Spec {
                env: concat!("PITCHSIDE_", $upper, "_CLIENT_SECRET_FILE"),
                key: Some(concat!("crm.", $lower, "_client_secret_file")),
            },
        ]
    };
}

const HUBSPOT_SPECS: [Spec; 6] = provider_specs!("HUBSPOT", "hubspot");
const SALESFORCE_SPECS: [Spec; 6] = provider_specs!("SALESFORCE", "salesforce");
const PIPEDRIVE_SPECS: [Spec; 6] = provider_specs!("PIPEDRIVE", "pipedrive");
const SYNC_SPECS: [Spec; 6] = [
    Spec {
        env: SYNC_LEASE_SECONDS,
        key: Some("sync.lease_seconds"),
    },
    Spec {
        env: SYNC_INTERVAL_MINUTES,
        key: Some("sync.interval_minutes"),
    },
    Spec {
        env: SYNC_QUOTA_SHARE_PERCENT,
        key: Some("sync.quota_share_percent"),
    },
    Spec {
        env: SYNC_WORKERS,
        key: Some("sync.workers"),
    },
    Spec {
        env: SYNC_RATE_LIMIT,
        key: Some("sync.rate_limit"),
    },
    Spec {
        env: PIPEDRIVE_DAILY_TOKENS,
        key: Some("crm.pipedrive_daily_tokens"),
    },
];

/// Every CRM setting.
pub(super) fn specs() -> impl Iterator<Item = &'static Spec> {
    HUBSPOT_SPECS
        .iter()
        .chain(SALESFORCE_SPECS.iter())
        .chain(PIPEDRIVE_SPECS.iter())
        .chain(SYNC_SPECS.iter())
}

/// One provider's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderConfig {
    pub api_url: Option<String>,
    pub auth_url: Option<String>,
    pub token_url: Option<String>,
    /// The registered OAuth app, if any (both set, or neither).
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
}

/// CRM and sync settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrmConfig {
    pub providers: BTreeMap<Provider, ProviderConfig>,
    pub sync_interval_minutes: u32,
    pub quota_share_percent: u32,
    /// Sync workers this instance runs (0: none; other instances sync).
    pub sync_workers: u32,
    /// Pace requests to the providers' limits (off only for benchmarks against mocks).
    pub rate_limit: bool,
    /// Pipedrive's daily token budget, where Pipedrive reports none.
    pub pipedrive_daily_tokens: Option<u64>,
    /// How long a worker holds a sync job without renewing it: after a crash, another
    /// instance takes the sync over this long after the last renewal.
    pub lease_seconds: u32,
}

impl Default for CrmConfig {
    fn default() -> Self {
        Self {
            providers: BTreeMap::new(),
            sync_interval_minutes: 15,
            quota_share_percent: 50,
            sync_workers: 2,
            rate_limit: true,
            pipedrive_daily_tokens: None,
            lease_seconds: 60,
        }
    }
}

fn parse_url(s: &str) -> Result<String, String> {
    let ok = (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > "http://".len()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(s.trim_end_matches('/').to_owned())
    } else {
        Err(format!(
            "must be an http:// or https:// URL, got {:?}",
            super::layers::shorten(s)
        ))
    }
}

fn parse_plain(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 500 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("must be a client id without spaces".into())
    } else {
        Ok(s.to_owned())
    }
}

fn parse_switch(s: &str) -> Result<bool, String> {
    match s.to_ascii_lowercase().as_str() {
        "on" | "true" | "1" | "yes" => Ok(true),
        "off" | "false" | "0" | "no" => Ok(false),
        _ => Err(format!(
            "must be on or off, got {:?}",
            super::layers::shorten(s)
        )),
    }
}

/// Read the CRM settings out of the layers into `c`.
pub(super) fn parse(layers: &mut Layers, c: &mut Config) {
    use super::layers::parse_u32;
    for vars in &PROVIDERS {
        let id = layers.take(vars.client_id, parse_plain);
        let secret = layers
            .secret(vars.client_secret, vars.client_secret_file)
            .map(|(s, _)| s);
        if id.is_some() != secret.is_some() {
            let (set, missing) = if id.is_some() {
                (vars.client_id, vars.client_secret)
            } else {
                (vars.client_secret, vars.client_id)
            };
            layers.problem(
                missing,
                format!(
                    "{set} is set but {missing} is not: an OAuth app needs both its client id and secret"
                ),
            );
        }
        let p = ProviderConfig {
            api_url: layers.take(vars.api, parse_url),
            auth_url: layers.take(vars.auth, parse_url),
            token_url: layers.take(vars.token, parse_url),
            client_id: id,
            client_secret: secret,
        };
        if p != ProviderConfig::default() {
            c.crm.providers.insert(vars.provider, p);
        }
    }
    if let Some(n) = layers.take(SYNC_INTERVAL_MINUTES, |s| parse_u32(s, 5, 1440)) {
        c.crm.sync_interval_minutes = n;
    }
    if let Some(n) = layers.take(SYNC_QUOTA_SHARE_PERCENT, |s| parse_u32(s, 1, 100)) {
        c.crm.quota_share_percent = n;
    }
    if let Some(n) = layers.take(SYNC_WORKERS, |s| parse_u32(s, 0, 64)) {
        c.crm.sync_workers = n;
    }
    if let Some(n) = layers.take(SYNC_LEASE_SECONDS, |s| parse_u32(s, 3, 3600)) {
        c.crm.lease_seconds = n;
    }
    if let Some(on) = layers.take(SYNC_RATE_LIMIT, parse_switch) {
        c.crm.rate_limit = on;
    }
    if let Some(n) = layers.take(PIPEDRIVE_DAILY_TOKENS, |s| {
        s.parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| "must be a whole number above 0".to_owned())
    }) {
        c.crm.pipedrive_daily_tokens = Some(n);
    }
}

impl CrmConfig {
    /// The endpoints of `provider`: public defaults, overridden where configured.
    pub fn endpoints(&self, provider: Provider) -> Endpoints {
        let p = self.providers.get(&provider);
        let vars = PROVIDERS.iter().find(|v| v.provider == provider);
        Endpoints::from_lookup(provider, |name| {
            let (p, vars) = (p?, vars?);
            if name == vars.api {
                p.api_url.clone()
            } else if name == vars.auth {
                p.auth_url.clone()
            } else if name == vars.token {
                p.token_url.clone()
            } else {
                None
            }
        })
    }

    /// The registered OAuth apps, with our callback under `public_url`.
    pub fn oauth_apps(&self, public_url: &str) -> HashMap<Provider, OAuthApp> {
        self.providers
            .iter()
            .filter_map(|(provider, p)| {
                Some((
                    *provider,
                    OAuthApp {
                        client_id: p.client_id.clone()?,
                        client_secret: p.client_secret.as_ref()?.expose().to_owned(),
                        redirect_uri: web::crm::redirect_uri(public_url, *provider),
                    },
                ))
            })
            .collect()
    }

    fn budgets(&self) -> HashMap<Provider, u64> {
        self.pipedrive_daily_tokens
            .map(|n| (Provider::Pipedrive, n))
            .into_iter()
            .collect()
    }

    /// What the HTTP layer needs (endpoints, OAuth apps, defaults of new connections).
    pub fn web_settings(&self, public_url: &str) -> web::CrmSettings {
        let mut s = web::CrmSettings::default();
        for provider in Provider::ALL {
            s.endpoints.insert(provider, self.endpoints(provider));
            if self
                .providers
                .get(&provider)
                .is_some_and(|p| p.api_url.is_some())
            {
                s.api_url_overridden.insert(provider);
            }
        }
        s.oauth_apps = self.oauth_apps(public_url);
        s.sync_interval_minutes = i64::from(self.sync_interval_minutes);
        s.quota_share_percent = i64::from(self.quota_share_percent);
        s.daily_budgets = self.budgets();
        s
    }

    /// What the sync engine needs.
    pub fn sync_config(&self, public_url: &str) -> sync::SyncConfig {
        sync::SyncConfig {
            endpoints: Provider::ALL
                .into_iter()
                .map(|p| (p, self.endpoints(p)))
                .collect(),
            oauth_apps: self.oauth_apps(public_url),
            http: HttpOptions {
                rate_limit: self.rate_limit,
                ..HttpOptions::default()
            },
            daily_budgets: self.budgets(),
            lease_secs: i64::from(self.lease_seconds),
            ..sync::SyncConfig::default()
        }
    }
}
