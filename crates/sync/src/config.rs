//! What the engine needs to know about the outside world: each provider's endpoints
//! and OAuth app, HTTP behaviour, and the schedule.

use std::collections::HashMap;
use std::time::Duration;

use connectors::oauth::OAuthApp;
use connectors::{Endpoints, HttpOptions};
use domain::crm::Provider;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// API, authorize and token URLs per provider.
    pub endpoints: HashMap<Provider, Endpoints>,
    /// Registered OAuth apps (for refreshing tokens), where configured.
    pub oauth_apps: HashMap<Provider, OAuthApp>,
    /// HTTP behaviour of connectors (a shared client; rate limiting on/off; retries).
    pub http: HttpOptions,
    /// How long a worker's lease on a job lasts without renewal (renewed every third).
    pub lease_secs: i64,
    /// How often an idle worker looks for due jobs.
    pub poll_interval: Duration,
    /// Attempts at one page after transient failures (truncated bodies, 5xx after the
    /// HTTP layer's own retries, network errors).
    pub page_attempts: u32,
    /// First wait between page attempts (doubles, with jitter).
    pub page_backoff: Duration,
    /// A daily budget to assume where the provider reports none (e.g. Pipedrive's
    /// token budget, which depends on the customer's plan and seats).
    pub daily_budgets: HashMap<Provider, u64>,
    /// Refresh OAuth access tokens this long before they expire.
    pub refresh_margin_secs: i64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            endpoints: Provider::ALL
                .into_iter()
                .map(|p| (p, Endpoints::default_for(p)))
                .collect(),
            oauth_apps: HashMap::new(),
            http: HttpOptions::default(),
            lease_secs: 60,
            poll_interval: Duration::from_secs(1),
            page_attempts: 4,
            page_backoff: Duration::from_millis(500),
            daily_budgets: HashMap::new(),
            refresh_margin_secs: 120,
        }
    }
}

impl SyncConfig {
    pub fn endpoints(&self, provider: Provider) -> Endpoints {
        self.endpoints
            .get(&provider)
            .cloned()
            .unwrap_or_else(|| Endpoints::default_for(provider))
    }
}
