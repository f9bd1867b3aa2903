//! What the integration handlers need to reach the CRMs: each provider's endpoints
//! (`PITCHSIDE_<PROVIDER>_{API,AUTH,TOKEN}_URL`), the OAuth apps configured for this
//! server, one shared HTTP client that never follows redirects (token exchange,
//! revocation, the read that checks a pasted token), and the defaults new connections
//! get. `Debug` never shows a client secret ([`OAuthApp`] redacts it).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use connectors::oauth::OAuthApp;
use connectors::{Endpoints, HttpOptions};
use domain::crm::Provider;

/// How often a connection syncs unless told otherwise (`PITCHSIDE_SYNC_INTERVAL_MINUTES`).
pub const DEFAULT_SYNC_INTERVAL_MINUTES: i64 = 15;
/// Pitchside's share of a CRM's daily API budget (`PITCHSIDE_SYNC_QUOTA_SHARE_PERCENT`).
pub const DEFAULT_QUOTA_SHARE_PERCENT: i64 = 50;

/// CRM settings of the HTTP layer.
#[derive(Clone, Debug)]
pub struct CrmSettings {
    /// API, authorize and token URLs per provider.
    pub endpoints: HashMap<Provider, Endpoints>,
    /// Providers whose API URL was configured explicitly: it then wins over the
    /// instance URL (Salesforce) or API domain (Pipedrive) a token response names, so
    /// tests and on-premise proxies keep every request on their host.
    pub api_url_overridden: HashSet<Provider>,
    /// Registered OAuth apps; a provider without one offers no OAuth connect.
    pub oauth_apps: HashMap<Provider, OAuthApp>,
    /// Shared client (no redirects) for OAuth calls and the token check.
    pub http: reqwest::Client,
    /// Connector settings for the one read that checks a pasted token.
    pub verify_options: HttpOptions,
    /// Defaults for new connections.
    pub sync_interval_minutes: i64,
    pub quota_share_percent: i64,
    /// Daily budgets assumed where a provider reports none (shown beside the use).
    pub daily_budgets: HashMap<Provider, u64>,
}

impl Default for CrmSettings {
    fn default() -> Self {
        let http = connectors::http::build_client(Duration::from_secs(30))
            .unwrap_or_else(|_| reqwest::Client::new());
        Self {
            endpoints: Provider::ALL
                .into_iter()
                .map(|p| (p, Endpoints::default_for(p)))
                .collect(),
            api_url_overridden: HashSet::new(),
            oauth_apps: HashMap::new(),
            verify_options: HttpOptions {
                client: Some(http.clone()),
                max_retries: 1,
                backoff_base: Duration::from_millis(200),
                backoff_cap: Duration::from_secs(2),
                max_wait: Duration::from_secs(5),
                timeout: Duration::from_secs(20),
                ..HttpOptions::default()
            },
            http,
            sync_interval_minutes: DEFAULT_SYNC_INTERVAL_MINUTES,
            quota_share_percent: DEFAULT_QUOTA_SHARE_PERCENT,
            daily_budgets: HashMap::new(),
        }
    }
}

impl CrmSettings {
    /// The endpoints of `provider` (its public ones unless configured).
    pub fn endpoints(&self, provider: Provider) -> Endpoints {
        self.endpoints
            .get(&provider)
            .cloned()
            .unwrap_or_else(|| Endpoints::default_for(provider))
    }

    /// Point `provider` at `endpoints` (all three URLs), as an explicit configuration.
    pub fn set_endpoints(&mut self, provider: Provider, endpoints: Endpoints) {
        self.endpoints.insert(provider, endpoints);
        self.api_url_overridden.insert(provider);
    }

    /// The registered OAuth app of `provider`, if any.
    pub fn oauth_app(&self, provider: Provider) -> Option<&OAuthApp> {
        self.oauth_apps.get(&provider)
    }
}

/// Our callback URL for `provider`: `{public_url}/integrations/{provider}/callback`,
/// exactly as it must be registered with the provider.
pub fn redirect_uri(public_url: &str, provider: Provider) -> String {
    format!(
        "{}/integrations/{}/callback",
        public_url.trim_end_matches('/'),
        provider.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_secrets_stay_out_of_debug_output() {
        let mut s = CrmSettings::default();
        s.oauth_apps.insert(
            Provider::Hubspot,
            OAuthApp {
                client_id: "id-1".into(),
                client_secret: "very-secret-value".into(),
                redirect_uri: redirect_uri("https://p.example/", Provider::Hubspot),
            },
        );
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(shown.contains("https://p.example/integrations/hubspot/callback"));
    }
}
