//! Shared application state.

use std::ops::Deref;
use std::sync::Arc;

use store::Store;
use vault::{PasswordHasher, SigningKey};

use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;
use crate::{CrmSettings, WebConfig};

/// Everything a handler may need. Cloning is one reference-count increment: every
/// middleware layer and `State` extractor clones it on every request.
#[derive(Clone)]
pub struct AppState(Arc<AppParts>);

/// The parts of [`AppState`], reached through `Deref` (`state.store`, `state.config`…).
pub struct AppParts {
    pub store: Store,
    pub hasher: PasswordHasher,
    pub keys: SigningKey,
    pub config: WebConfig,
    pub metrics: Metrics,
    /// How to reach the CRMs (endpoints, OAuth apps, sync defaults).
    pub crm: CrmSettings,
    pub(crate) limiter: RateLimiter,
}

impl AppState {
    /// State with the CRMs' public endpoints and no OAuth apps.
    pub fn new(store: Store, hasher: PasswordHasher, keys: SigningKey, config: WebConfig) -> Self {
        Self::with_crm(store, hasher, keys, config, CrmSettings::default())
    }

    /// State with the given CRM settings.
    pub fn with_crm(
        store: Store,
        hasher: PasswordHasher,
        keys: SigningKey,
        config: WebConfig,
        crm: CrmSettings,
    ) -> Self {
        Self(Arc::new(AppParts {
            store,
            hasher,
            keys,
            config,
            metrics: Metrics::default(),
            crm,
            limiter: RateLimiter::default(),
        }))
    }
}

impl Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}
