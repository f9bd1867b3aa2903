//! How HubSpot says no, and what its headers say about our budget.
//!
//! 429 bodies name the policy that was hit (`policyName`): `DAILY` means the account's
//! daily allocation is gone ([`Verdict::QuotaExhausted`]); `TEN_SECONDLY_ROLLING` is the
//! burst window (wait `Retry-After`, else the window's length); `SECONDLY` is the
//! search API's per-second limit (wait a second). 401 is an expired or revoked token.
//! 423 (record locked) and 477 (portal migration) are retried. Every answer's
//! `X-HubSpot-RateLimit-Max` / `-Interval-Milliseconds` set our burst limiter, and
//! `-Daily` / `-Daily-Remaining` (private apps only) go to the meter.

use std::time::Duration;

use reqwest::header::HeaderMap;

use super::wire::ErrorBody;
use crate::QuotaReading;
use crate::http::{Dialect, Meter, Verdict, default_verdict, excerpt, retry_after};
use crate::limiter::Limiter;

/// HubSpot's reading of answers.
pub(crate) struct HubspotDialect {
    /// Whether our limiters pace requests at all (off for benchmarks against a mock);
    /// headers then only feed the meter.
    pub pace: bool,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl Dialect for HubspotDialect {
    fn verdict(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Verdict {
        match status {
            429 => {
                let e: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
                let policy = e.policy_name.as_deref().unwrap_or_default();
                let message = e
                    .message
                    .as_deref()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if policy.eq_ignore_ascii_case("DAILY") || message.contains("daily limit") {
                    return Verdict::QuotaExhausted;
                }
                let after = retry_after(headers).or_else(|| {
                    if policy.eq_ignore_ascii_case("SECONDLY") || message.contains("secondly limit")
                    {
                        Some(Duration::from_secs(1))
                    } else {
                        let window =
                            header_u64(headers, "x-hubspot-ratelimit-interval-milliseconds")
                                .unwrap_or(10_000);
                        Some(Duration::from_millis(window.min(60_000)))
                    }
                });
                Verdict::Retry {
                    after,
                    throttled: true,
                }
            }
            423 => Verdict::Retry {
                after: retry_after(headers).or(Some(Duration::from_secs(2))),
                throttled: false,
            },
            477 => Verdict::Retry {
                after: retry_after(headers),
                throttled: false,
            },
            401 => Verdict::Unauthorized,
            400..=499 => Verdict::Fail(excerpt(body)),
            _ => default_verdict(status, headers, body),
        }
    }

    fn observe(&self, headers: &HeaderMap, meter: &Meter, limiters: &[Limiter]) {
        let daily_limit = header_u64(headers, "x-hubspot-ratelimit-daily");
        let daily_remaining = header_u64(headers, "x-hubspot-ratelimit-daily-remaining");
        if daily_limit.is_some() || daily_remaining.is_some() {
            meter.observe_quota(QuotaReading {
                daily_limit,
                daily_used: daily_limit
                    .zip(daily_remaining)
                    .map(|(l, r)| l.saturating_sub(r)),
                daily_remaining,
            });
        }
        if !self.pace {
            return;
        }
        let max = header_u64(headers, "x-hubspot-ratelimit-max");
        let interval = header_u64(headers, "x-hubspot-ratelimit-interval-milliseconds");
        if let (Some(max), Some(interval), Some(burst)) = (max, interval, limiters.first())
            && max > 0
            && interval > 0
        {
            // HubSpot states this app's own burst limit: use it, up or down.
            burst.adopt(
                u32::try_from(max).unwrap_or(u32::MAX),
                Duration::from_millis(interval),
            );
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
    fn policies_decide_between_waiting_and_stopping() {
        let d = HubspotDialect { pace: true };
        let daily = br#"{"status":"error","message":"You have reached your daily limit.","errorType":"RATE_LIMIT","policyName":"DAILY"}"#;
        assert!(matches!(
            d.verdict(429, &HeaderMap::new(), daily),
            Verdict::QuotaExhausted
        ));
        let burst =
            br#"{"status":"error","errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}"#;
        assert!(matches!(
            d.verdict(429, &headers(&[("retry-after", "3")]), burst),
            Verdict::Retry { after: Some(a), throttled: true } if a == Duration::from_secs(3)
        ));
        assert!(matches!(
            d.verdict(429, &HeaderMap::new(), burst),
            Verdict::Retry { after: Some(a), .. } if a == Duration::from_secs(10)
        ));
        let search = br#"{"status":"error","message":"You have reached your secondly limit.","policyName":"SECONDLY"}"#;
        assert!(matches!(
            d.verdict(429, &HeaderMap::new(), search),
            Verdict::Retry { after: Some(a), .. } if a == Duration::from_secs(1)
        ));
        assert!(matches!(
            d.verdict(429, &HeaderMap::new(), b"<html>"),
            Verdict::Retry {
                throttled: true,
                ..
            }
        ));
        let expired = br#"{"status":"error","message":"The OAuth token used to make this call expired 0 second(s) ago.","category":"EXPIRED_AUTHENTICATION"}"#;
        assert!(matches!(
            d.verdict(401, &HeaderMap::new(), expired),
            Verdict::Unauthorized
        ));
        assert!(matches!(
            d.verdict(502, &HeaderMap::new(), b""),
            Verdict::Retry {
                throttled: false,
                ..
            }
        ));
        assert!(matches!(
            d.verdict(400, &HeaderMap::new(), b"{}"),
            Verdict::Fail(_)
        ));
        assert!(matches!(
            d.verdict(423, &HeaderMap::new(), b""),
            Verdict::Retry { .. }
        ));
    }

    #[test]
    fn headers_set_the_burst_limiter_and_feed_the_meter() {
        let d = HubspotDialect { pace: true };
        let meter = Meter::default();
        let limiters = [
            Limiter::new(110, Duration::from_secs(10)),
            Limiter::new(5, Duration::from_secs(1)),
        ];
        d.observe(
            &headers(&[
                ("x-hubspot-ratelimit-max", "100"),
                ("x-hubspot-ratelimit-remaining", "99"),
                ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
                ("x-hubspot-ratelimit-daily", "250000"),
                ("x-hubspot-ratelimit-daily-remaining", "249000"),
            ]),
            &meter,
            &limiters,
        );
        assert_eq!(limiters[0].limit(), Some((100, Duration::from_secs(10))));
        assert_eq!(limiters[1].limit(), Some((5, Duration::from_secs(1))));
        let q = meter.quota();
        assert_eq!(
            (q.daily_limit, q.daily_remaining, q.daily_used),
            (Some(250_000), Some(249_000), Some(1_000))
        );

        // Unpaced (benchmarks): the headers never switch a limiter on.
        let open = [Limiter::unlimited()];
        HubspotDialect { pace: false }.observe(
            &headers(&[
                ("x-hubspot-ratelimit-max", "3"),
                ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
            ]),
            &meter,
            &open,
        );
        assert_eq!(open[0].limit(), None);
    }
}
