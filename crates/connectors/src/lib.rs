//! Read-only clients of the CRMs Pitchside syncs from, one module per provider, and the
//! pieces they share: an HTTP layer that refuses anything but allow-listed reads
//! ([`http`]), a rolling-window rate limiter ([`limiter`]) and OAuth 2.0 with PKCE
//! ([`oauth`]).
//!
//! A connector turns a checkpoint into the next page of canonical records
//! ([`Batch`]); it keeps no state of its own and has no database code. The sync engine
//! (crate `sync`) stores each page together with the checkpoint the connector returned,
//! so a crash resumes from the last stored page.

pub mod http;
pub mod hubspot;
pub mod limiter;
pub mod oauth;
pub mod pipedrive;
pub mod salesforce;
mod types;

pub use http::{Auth, Http, HttpOptions, Meter, QuotaReading, Route};
pub use types::{Batch, Change, Checkpoint, ConnectorError, Credentials, Pass, Skip};

use domain::crm::{ObjectKind, Provider};

/// The base URLs of one provider: API, OAuth authorize and token endpoints. Each is
/// configurable (`PITCHSIDE_<PROVIDER>_API_URL`, `_AUTH_URL`, `_TOKEN_URL`) so tests,
/// benchmarks and on-premise proxies can point elsewhere.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub api: String,
    pub auth: String,
    pub token: String,
}

impl Endpoints {
    /// The provider's public endpoints.
    pub fn default_for(provider: Provider) -> Self {
        let (api, auth, token) = match provider {
            Provider::Hubspot => (
                "https://api.hubapi.com",
                "https://app.hubspot.com/oauth/authorize",
                "https://api.hubapi.com/oauth/v1/token",
            ),
            Provider::Salesforce => (
                "https://login.salesforce.com",
                "https://login.salesforce.com/services/oauth2/authorize",
                "https://login.salesforce.com/services/oauth2/token",
            ),
            Provider::Pipedrive => (
                "https://api.pipedrive.com",
                "https://oauth.pipedrive.com/oauth/authorize",
                "https://oauth.pipedrive.com/oauth/token",
            ),
        };
        Self {
            api: api.to_owned(),
            auth: auth.to_owned(),
            token: token.to_owned(),
        }
    }

    /// The defaults, overridden by `PITCHSIDE_<PROVIDER>_{API,AUTH,TOKEN}_URL` as found
    /// through `lookup` (the process environment, or a map in tests).
    pub fn from_lookup(provider: Provider, lookup: impl Fn(&str) -> Option<String>) -> Self {
        let mut e = Self::default_for(provider);
        let upper = provider.as_str().to_ascii_uppercase();
        let get = |what: &str| {
            lookup(&format!("PITCHSIDE_{upper}_{what}_URL"))
                .map(|v| v.trim().trim_end_matches('/').to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = get("API") {
            e.api = v;
        }
        if let Some(v) = get("AUTH") {
            e.auth = v;
        }
        if let Some(v) = get("TOKEN") {
            e.token = v;
        }
        e
    }
}

/// A connector for one connection: any of the providers, chosen at run time.
pub enum Connector {
    Hubspot(hubspot::Client),
    Salesforce(salesforce::Client),
    Pipedrive(pipedrive::Client),
}

impl Connector {
    /// A connector speaking to `provider` at `api_base` (for Salesforce and Pipedrive,
    /// the instance URL or API domain the token response named) with `credentials`.
    pub fn new(
        provider: Provider,
        api_base: &str,
        credentials: &Credentials,
        options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        Ok(match provider {
            Provider::Hubspot => {
                Connector::Hubspot(hubspot::Client::new(api_base, credentials, options)?)
            }
            Provider::Salesforce => {
                Connector::Salesforce(salesforce::Client::new(api_base, credentials, options)?)
            }
            Provider::Pipedrive => {
                Connector::Pipedrive(pipedrive::Client::new(api_base, credentials, options)?)
            }
        })
    }

    pub fn provider(&self) -> Provider {
        match self {
            Connector::Hubspot(_) => Provider::Hubspot,
            Connector::Salesforce(_) => Provider::Salesforce,
            Connector::Pipedrive(_) => Provider::Pipedrive,
        }
    }

    /// The next page of `kind` after `checkpoint`.
    pub async fn fetch(
        &self,
        kind: ObjectKind,
        checkpoint: &Checkpoint,
    ) -> Result<Batch, ConnectorError> {
        match self {
            Connector::Hubspot(c) => c.fetch(kind, checkpoint).await,
            Connector::Salesforce(c) => c.fetch(kind, checkpoint).await,
            Connector::Pipedrive(c) => c.fetch(kind, checkpoint).await,
        }
    }

    /// Requests made, 429s met and the provider's quota as last reported.
    pub fn meter(&self) -> &Meter {
        match self {
            Connector::Hubspot(c) => c.http().meter(),
            Connector::Salesforce(c) => c.http().meter(),
            Connector::Pipedrive(c) => c.http().meter(),
        }
    }
}
