//! Shared application state.

use std::sync::Arc;

use store::Store;
use vault::{PasswordHasher, SigningKey};

use crate::WebConfig;
use crate::metrics::Metrics;
use crate::ratelimit::RateLimiter;

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub hasher: PasswordHasher,
    pub keys: SigningKey,
    pub config: Arc<WebConfig>,
    pub metrics: Metrics,
    pub(crate) limiter: RateLimiter,
}

impl AppState {
    pub fn new(store: Store, hasher: PasswordHasher, keys: SigningKey, config: WebConfig) -> Self {
        Self {
            store,
            hasher,
            keys,
            config: Arc::new(config),
            metrics: Metrics::default(),
            limiter: RateLimiter::default(),
        }
    }
}
