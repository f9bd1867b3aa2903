//! Pipedrive's rate limits and error answers.
//!
//! Two budgets apply ("Rate limiting", pipedrive.readme.io):
//! - a **burst** limit per token over a rolling 2-second window, by plan: API tokens
//!   from 20 requests (Lite/Essential) upward, OAuth access tokens from 80. We start at
//!   the lowest published value for the auth kind and tighten to `x-ratelimit-limit`;
//!   a burst 429 is retried after `Retry-After`/`x-ratelimit-reset`;
//! - a **daily token budget** for the whole company (30,000 × plan multiplier × seats),
//!   each request costing tokens (list: 10 in v2, 20 in v1, 40 a deal's flow). Once it
//!   is spent every request gets a 429 until the reset: that one is
//!   [`Verdict::QuotaExhausted`], recognized by `x-daily-ratelimit-token-remaining: 0`
//!   (sent by the live API, not in the reference) or a "daily" error text.
//!
//! `x-daily-requests-left` is not read: it counts POST/PUT requests only. Clients that
//! keep hammering after 429s get a 403 with Cloudflare's HTML page; we stop the run.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::http::{Dialect, Meter, QuotaReading, Verdict, excerpt, retry_after};
use crate::limiter::Limiter;

/// The burst window.
pub const BURST_WINDOW: Duration = Duration::from_secs(2);

/// The lowest published burst limit per token: API tokens 20 per 2 s, OAuth access
/// tokens 80 per 2 s (the Lite/Essential plan).
pub fn default_limit(static_token: bool) -> (u32, Duration) {
    if static_token {
        (20, BURST_WINDOW)
    } else {
        (80, BURST_WINDOW)
    }
}

/// Budget tokens a v2 list request costs.
pub const V2_LIST_COST: u64 = 10;
/// Budget tokens a v1 list request costs.
pub const V1_LIST_COST: u64 = 20;
/// Budget tokens a page of a deal's flow (`/v1/deals/{id}/flow`) costs.
pub const FLOW_COST: u64 = 40;

/// How long to stay away after Cloudflare's block page (longer than any in-run wait, so
/// the run ends with `RateLimited` and the job is retried later).
const BLOCKED_WAIT: Duration = Duration::from_secs(15 * 60);

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map(|v| v as u64)
}

/// The error text of a Pipedrive error body (`{"success":false,"error":"…"}`).
fn error_text(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        error: Option<String>,
        #[serde(default)]
        error_info: Option<String>,
    }
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            error: Some(e),
            error_info,
        }) => {
            let text = match error_info {
                Some(info) if !info.is_empty() => format!("{e} ({info})"),
                _ => e,
            };
            excerpt(text.as_bytes())
        }
        _ => excerpt(body),
    }
}

fn daily_budget_spent(headers: &HeaderMap, body: &[u8]) -> bool {
    if header_u64(headers, "x-daily-ratelimit-token-remaining") == Some(0) {
        return true;
    }
    error_text(body).to_ascii_lowercase().contains("daily")
}

fn looks_like_html(body: &[u8]) -> bool {
    let start = String::from_utf8_lossy(&body[..body.len().min(512)]).to_ascii_lowercase();
    start.contains("<html") || start.contains("<!doctype") || start.contains("cloudflare")
}

/// Pipedrive's verdicts and headers.
#[derive(Debug, Default)]
pub struct Pipedrive;

impl Dialect for Pipedrive {
    fn verdict(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Verdict {
        match status {
            401 => Verdict::Unauthorized,
            429 if daily_budget_spent(headers, body) => Verdict::QuotaExhausted,
            429 => Verdict::Retry {
                after: retry_after(headers)
                    .or_else(|| header_u64(headers, "x-ratelimit-reset").map(Duration::from_secs))
                    .or(Some(BURST_WINDOW)),
                throttled: true,
            },
            403 if looks_like_html(body) => Verdict::Retry {
                after: Some(BLOCKED_WAIT),
                throttled: true,
            },
            500..=599 => Verdict::Retry {
                after: None,
                throttled: false,
            },
            _ => Verdict::Fail(error_text(body)),
        }
    }

    fn observe(&self, headers: &HeaderMap, meter: &Meter, limiters: &[Limiter]) {
        // Tighten a configured limiter to the plan's real burst limit (a limiter left
        // unlimited on purpose, for benchmarks, stays so).
        if let (Some(limit), Some(limiter)) =
            (header_u64(headers, "x-ratelimit-limit"), limiters.first())
            && limit > 0
            && limiter.limit().is_some()
        {
            limiter.tighten(u32::try_from(limit).unwrap_or(u32::MAX), BURST_WINDOW);
        }
        let daily_limit = header_u64(headers, "x-daily-ratelimit-token-limit");
        let daily_remaining = header_u64(headers, "x-daily-ratelimit-token-remaining");
        if daily_limit.is_some() || daily_remaining.is_some() {
            meter.observe_quota(QuotaReading {
                daily_limit,
                daily_used: daily_limit
                    .zip(daily_remaining)
                    .map(|(l, r)| l.saturating_sub(r)),
                daily_remaining,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("header"));
        }
        h
    }

    #[test]
    fn default_limits_are_the_published_ones() {
        assert_eq!(default_limit(true), (20, Duration::from_secs(2)));
        assert_eq!(default_limit(false), (80, Duration::from_secs(2)));
    }

    #[test]
    fn verdicts() {
        let d = Pipedrive;
        let burst = br#"{"success":false,"error":"Request over limit","errorCode":429}"#;
        assert!(matches!(
            d.verdict(429, &headers(&[("x-ratelimit-reset", "1")]), burst),
            Verdict::Retry { after: Some(a), throttled: true } if a == Duration::from_secs(1)
        ));
        assert!(matches!(
            d.verdict(429, &headers(&[("retry-after", "3"), ("x-ratelimit-reset", "1")]), burst),
            Verdict::Retry { after: Some(a), .. } if a == Duration::from_secs(3)
        ));
        assert!(matches!(
            d.verdict(429, &HeaderMap::new(), burst),
            Verdict::Retry { after: Some(a), .. } if a == BURST_WINDOW
        ));
        assert!(matches!(
            d.verdict(
                429,
                &headers(&[("x-daily-ratelimit-token-remaining", "0")]),
                burst
            ),
            Verdict::QuotaExhausted
        ));
        assert!(matches!(
            d.verdict(
                429,
                &HeaderMap::new(),
                br#"{"success":false,"error":"Daily token budget exceeded"}"#
            ),
            Verdict::QuotaExhausted
        ));
        assert!(matches!(
            d.verdict(401, &HeaderMap::new(), b"{}"),
            Verdict::Unauthorized
        ));
        assert!(matches!(
            d.verdict(502, &HeaderMap::new(), b""),
            Verdict::Retry {
                after: None,
                throttled: false
            }
        ));
        assert!(matches!(
            d.verdict(403, &HeaderMap::new(), b"<!DOCTYPE html><title>Attention Required! | Cloudflare</title>"),
            Verdict::Retry { after: Some(a), .. } if a > Duration::from_secs(120)
        ));
        match d.verdict(
            403,
            &HeaderMap::new(),
            br#"{"success":false,"error":"Scope and URL mismatch","error_info":"see docs"}"#,
        ) {
            Verdict::Fail(m) => assert_eq!(m, "Scope and URL mismatch (see docs)"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn headers_tighten_and_meter_the_budget() {
        let meter = Meter::default();
        let limiters = [Limiter::new(80, BURST_WINDOW)];
        let h = headers(&[
            ("x-ratelimit-limit", "40"),
            ("x-daily-ratelimit-token-limit", "60000"),
            ("x-daily-ratelimit-token-remaining", "59000"),
        ]);
        Pipedrive.observe(&h, &meter, &limiters);
        assert_eq!(limiters[0].limit(), Some((40, BURST_WINDOW)));
        assert_eq!(
            meter.quota(),
            QuotaReading {
                daily_limit: Some(60_000),
                daily_used: Some(1_000),
                daily_remaining: Some(59_000),
            }
        );
        // An unlimited limiter (rate limiting off) is left alone.
        let open = [Limiter::unlimited()];
        Pipedrive.observe(&h, &meter, &open);
        assert_eq!(open[0].limit(), None);
    }
}
