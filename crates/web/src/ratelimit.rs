//! Per-IP rate limits. Authentication endpoints (default 20 per minute) count in the
//! database, in fixed one-minute windows, so the limit holds across every instance
//! behind a load balancer (SECURITY.md RL-01). The whole API has a looser per-second
//! limit kept in-process (token buckets), where a database write per request would
//! cost more than it protects. Over a limit: 429 with Retry-After. The per-account
//! login lockout lives in the database and does not depend on either.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::extract::client_ip;
use crate::{ApiError, AppState};

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// In-process token buckets keyed by client IP (the API-wide limit).
#[derive(Clone, Default)]
pub(crate) struct RateLimiter {
    buckets: Arc<Mutex<HashMap<IpAddr, Bucket>>>,
}

impl RateLimiter {
    /// Take one token; on refusal, the seconds until one is available.
    fn take(&self, ip: IpAddr, capacity: f64, per_sec: f64) -> Result<(), u64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 50_000 {
            // Forget clients whose buckets have refilled: they are indistinguishable
            // from new ones.
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_sec < capacity
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

fn is_auth_endpoint(method: &Method, path: &str) -> bool {
    method == Method::POST
        && (path.starts_with("/api/v1/auth/")
            || (path.starts_with("/api/v1/invitations/") && path.ends_with("/accept"))
            || path == "/login"
            || path == "/signup"
            || path.starts_with("/invite/"))
}

pub(crate) async fn enforce(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let Some(ip) = client_ip(req.headers(), peer, &state.config) else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let config = &state.config;
    if config.auth_rate_per_minute > 0 && is_auth_endpoint(req.method(), &path) {
        let bucket = format!("auth:{ip}");
        let over = match state
            .store
            .hit_rate_limit(&bucket, config.auth_rate_per_minute, 60)
            .await
        {
            Ok(over) => over,
            Err(e) => {
                // The request itself needs the database; let it meet the same failure.
                tracing::warn!(error = %e, "rate-limit counter unavailable");
                None
            }
        };
        if let Some(retry_after) = over {
            let refusal = ApiError::TooManyRequests { retry_after };
            return if path.starts_with("/api/") {
                refusal.into_response()
            } else {
                crate::pages::error_page(refusal)
            };
        }
    }
    if config.api_rate_per_second > 0 && path.starts_with("/api/") {
        let rate = f64::from(config.api_rate_per_second);
        if let Err(retry_after) = state.limiter.take(ip, rate, rate) {
            return ApiError::TooManyRequests { retry_after }.into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refuse_after_capacity_and_say_when() {
        let limiter = RateLimiter::default();
        // Capacity 20, refilling 20 a minute.
        let ip: IpAddr = "192.0.2.1".parse().expect("ip");
        for _ in 0..20 {
            assert!(limiter.take(ip, 20.0, 20.0 / 60.0).is_ok());
        }
        let retry = limiter
            .take(ip, 20.0, 20.0 / 60.0)
            .expect_err("21st refused");
        assert!((1..=3).contains(&retry), "retry after {retry}");
        // Another client is independent.
        let other: IpAddr = "192.0.2.2".parse().expect("ip");
        assert!(limiter.take(other, 20.0, 20.0 / 60.0).is_ok());
    }
}
