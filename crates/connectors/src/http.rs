//! The only way a connector talks to a provider. Read-only by construction: every
//! request is checked against the provider's allow-list of (method, path) reads before
//! it leaves the process — GETs, plus the few POSTs that only read (HubSpot search and
//! batch read) — and anything else is refused with [`ConnectorError::WriteRefused`].
//!
//! It also paces requests (a [`Limiter`] per bucket), retries what is worth retrying
//! (429 honouring `Retry-After`, 5xx and network failures with jittered exponential
//! backoff), and meters what it sends: requests, 429s met, the provider's clock and its
//! quota headers, for the run history and the daily-budget guard.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;

use crate::ConnectorError;
use crate::limiter::Limiter;

/// One allow-listed read: a method and a path pattern whose `*` segments match any one
/// segment. `bucket` picks the limiter (e.g. HubSpot's search has its own rate).
#[derive(Clone, Copy, Debug)]
pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub bucket: usize,
}

impl Route {
    pub const fn get(pattern: &'static str) -> Self {
        Self {
            method: "GET",
            pattern,
            bucket: 0,
        }
    }

    /// A POST that only reads (a search or batch read).
    pub const fn read_post(pattern: &'static str, bucket: usize) -> Self {
        Self {
            method: "POST",
            pattern,
            bucket,
        }
    }

    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.method != method {
            return false;
        }
        let mut want = self.pattern.split('/');
        let mut got = path.split('/');
        loop {
            match (want.next(), got.next()) {
                (None, None) => return true,
                (Some("*"), Some(seg)) if !seg.is_empty() => {}
                (Some(w), Some(g)) if w == g => {}
                _ => return false,
            }
        }
    }
}

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: Bearer …` (OAuth access tokens, HubSpot private-app tokens).
    Bearer(String),
    /// A named header (Pipedrive's `x-api-token`).
    Header(&'static str, String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Auth::Header(name, _) => write!(f, "Header({name}, <redacted>)"),
        }
    }
}

/// Knobs of the HTTP layer.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// A shared client (connection pooling across connections); built if `None`.
    pub client: Option<reqwest::Client>,
    /// Pace requests to the provider's published limits (off only for benchmarks of
    /// our own throughput against a mock).
    pub rate_limit: bool,
    /// Retries of one request after 429, 5xx or a network failure.
    pub max_retries: u32,
    /// First backoff; doubles per attempt, with full jitter, up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The longest `Retry-After` waited for inside a run; longer ones end the run with
    /// [`ConnectorError::RateLimited`] and the job is retried later.
    pub max_wait: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            client: None,
            rate_limit: true,
            max_retries: 5,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(30),
            max_wait: Duration::from_secs(120),
            timeout: Duration::from_secs(60),
        }
    }
}

/// The provider's daily budget as its headers last reported it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuotaReading {
    /// Requests (or Pipedrive tokens) allowed per day.
    pub daily_limit: Option<u64>,
    /// Used today by everyone on the account (Salesforce `api-usage`).
    pub daily_used: Option<u64>,
    /// Left today for everyone on the account (HubSpot `-Daily-Remaining`).
    pub daily_remaining: Option<u64>,
}

/// What one connection's requests cost: counted here, stored with each run.
#[derive(Debug, Default)]
pub struct Meter {
    requests: AtomicU64,
    throttled: AtomicU64,
    /// Budget units spent (Pipedrive's token costs; 1 per request elsewhere).
    cost: AtomicU64,
    server_ms: AtomicI64,
    quota: Mutex<QuotaReading>,
}

impl Meter {
    /// Requests sent (each retry counts).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
    /// 429s (and other throttling answers) met.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
    /// Budget units spent.
    pub fn cost(&self) -> u64 {
        self.cost.load(Ordering::Relaxed)
    }
    pub fn add_cost(&self, units: u64) {
        self.cost.fetch_add(units, Ordering::Relaxed);
    }
    /// The provider's clock (`Date` of its last response, epoch ms), if it sent one.
    pub fn server_ms(&self) -> Option<i64> {
        Some(self.server_ms.load(Ordering::Relaxed)).filter(|ms| *ms > 0)
    }
    pub fn quota(&self) -> QuotaReading {
        match self.quota.lock() {
            Ok(q) => *q,
            Err(p) => *p.into_inner(),
        }
    }
    /// Merge a reading from response headers (fields it lacks are kept).
    pub fn observe_quota(&self, reading: QuotaReading) {
        let mut q = match self.quota.lock() {
            Ok(q) => q,
            Err(p) => p.into_inner(),
        };
        if reading.daily_limit.is_some() {
            q.daily_limit = reading.daily_limit;
        }
        if reading.daily_used.is_some() {
            q.daily_used = reading.daily_used;
        }
        if reading.daily_remaining.is_some() {
            q.daily_remaining = reading.daily_remaining;
        }
    }
}

/// What a provider makes of a response that is not a success.
#[derive(Debug)]
pub enum Verdict {
    /// Try again after this long (or after our backoff when `None`). `throttled`
    /// counts it as a 429 met.
    Retry {
        after: Option<Duration>,
        throttled: bool,
    },
    Unauthorized,
    QuotaExhausted,
    Fail(String),
}

/// A provider's hooks: how to read its error answers and its rate-limit headers.
pub trait Dialect: Send + Sync {
    /// Judge a non-2xx answer.
    fn verdict(&self, status: u16, headers: &HeaderMap, body: &[u8]) -> Verdict {
        default_verdict(status, headers, body)
    }
    /// Read rate-limit and quota headers of any answer; adjust the limiters.
    fn observe(&self, _headers: &HeaderMap, _meter: &Meter, _limiters: &[Limiter]) {}
}

/// 429 → retry after `Retry-After`; 5xx → retry with backoff; 401 → unauthorized;
/// anything else fails with the status and a short, single-line excerpt.
pub fn default_verdict(status: u16, headers: &HeaderMap, body: &[u8]) -> Verdict {
    match status {
        429 => Verdict::Retry {
            after: retry_after(headers),
            throttled: true,
        },
        500..=599 => Verdict::Retry {
            after: None,
            throttled: false,
        },
        401 => Verdict::Unauthorized,
        _ => Verdict::Fail(excerpt(body)),
    }
}

/// The start of an error body, on one line, for a readable reason.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect();
    one_line.trim().to_owned()
}

/// A successful answer.
#[derive(Debug)]
pub struct Reply {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as `T`; a truncated or malformed body is [`ConnectorError::Malformed`].
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ConnectorError::Malformed(format!(
                "{} at line {} column {}",
                e.classify_kind(),
                e.line(),
                e.column()
            ))
        })
    }
}

trait ClassifyKind {
    fn classify_kind(&self) -> &'static str;
}

impl ClassifyKind for serde_json::Error {
    fn classify_kind(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

/// A read-only HTTP client for one connection.
pub struct Http {
    client: reqwest::Client,
    base: String,
    routes: &'static [Route],
    auth: Auth,
    limiters: Vec<Limiter>,
    meter: Meter,
    options: HttpOptions,
    dialect: Box<dyn Dialect>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http")
            .field("base", &self.base)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl Http {
    /// A client for `base` (scheme and host, no trailing slash) that may only send the
    /// `routes`, paced by one limiter per bucket (`limits[i]` for bucket `i`; `None` =
    /// unlimited). With `options.rate_limit` off every bucket is unlimited.
    pub fn new(
        base: &str,
        routes: &'static [Route],
        auth: Auth,
        limits: &[Option<(u32, Duration)>],
        options: HttpOptions,
        dialect: Box<dyn Dialect>,
    ) -> Result<Self, ConnectorError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(ConnectorError::Config(
                "the API base URL must start with https:// or http://".into(),
            ));
        }
        let client = match &options.client {
            Some(c) => c.clone(),
            None => build_client(options.timeout)?,
        };
        let buckets = routes.iter().map(|r| r.bucket + 1).max().unwrap_or(1);
        let limiters = (0..buckets)
            .map(|i| match limits.get(i).copied().flatten() {
                Some((max, window)) if options.rate_limit => Limiter::new(max, window),
                _ => Limiter::unlimited(),
            })
            .collect();
        Ok(Self {
            client,
            base,
            routes,
            auth,
            limiters,
            meter: Meter::default(),
            options,
            dialect,
        })
    }

    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET base + path_and_query`.
    pub async fn get(&self, path_and_query: &str) -> Result<Reply, ConnectorError> {
        self.send(Method::GET, path_and_query, None).await
    }

    /// `POST base + path` with a JSON body — only for allow-listed read POSTs.
    pub async fn post_read(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Reply, ConnectorError> {
        self.send(Method::POST, path, Some(body)).await
    }

    /// The allow-list check: the route's bucket, or a refusal. Public so tests can
    /// show what would be refused without a server.
    pub fn permit(&self, method: &str, path_and_query: &str) -> Result<usize, ConnectorError> {
        let path = path_and_query.split(['?', '#']).next().unwrap_or_default();
        let clean = path.starts_with('/')
            && !path.contains("..")
            && !path.contains("//")
            && !path.contains('%');
        self.routes
            .iter()
            .find(|r| clean && r.matches(method, path))
            .map(|r| r.bucket)
            .ok_or_else(|| ConnectorError::WriteRefused {
                method: method.to_owned(),
                path: path.to_owned(),
            })
    }

    async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Reply, ConnectorError> {
        let bucket = self.permit(method.as_str(), path_and_query)?;
        let limiter = &self.limiters[bucket.min(self.limiters.len() - 1)];
        let url = format!("{}{}", self.base, path_and_query);
        let mut attempt = 0;
        loop {
            limiter.acquire().await;
            self.meter.requests.fetch_add(1, Ordering::Relaxed);
            let mut request = self
                .client
                .request(method.clone(), &url)
                .timeout(self.options.timeout)
                .header(reqwest::header::ACCEPT, "application/json");
            request = match &self.auth {
                Auth::Bearer(token) => request.bearer_auth(token),
                Auth::Header(name, value) => request.header(*name, value),
            };
            if let Some(body) = body {
                request = request.json(body);
            }
            // (status, verdict) of an answer that is not a success; 0 = no answer.
            let (status, verdict) = match request.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    self.observe(&headers);
                    match response.bytes().await {
                        Ok(bytes) if (200..300).contains(&status) => {
                            return Ok(Reply {
                                headers,
                                body: bytes.to_vec(),
                            });
                        }
                        Ok(bytes) => (status, self.dialect.verdict(status, &headers, &bytes)),
                        Err(e) => (status, transport_failure(&e)),
                    }
                }
                Err(e) => (0, transport_failure(&e)),
            };
            match verdict {
                Verdict::Retry { after, throttled } => {
                    if throttled {
                        self.meter.throttled.fetch_add(1, Ordering::Relaxed);
                    }
                    if attempt >= self.options.max_retries {
                        return Err(if throttled {
                            ConnectorError::RateLimited { retry_after: after }
                        } else if status >= 500 {
                            ConnectorError::Status {
                                status,
                                message: format!("still failing after {} attempts", attempt + 1),
                            }
                        } else {
                            ConnectorError::Transport(format!(
                                "no answer after {} attempts",
                                attempt + 1
                            ))
                        });
                    }
                    let wait = after.unwrap_or_else(|| self.backoff(attempt));
                    if wait > self.options.max_wait {
                        return Err(ConnectorError::RateLimited {
                            retry_after: Some(wait),
                        });
                    }
                    tracing::debug!(
                        attempt,
                        status,
                        wait_ms = wait.as_millis() as u64,
                        "provider asked us to wait"
                    );
                    if throttled {
                        // Everyone on this bucket waits, not just this request.
                        limiter.pause_for(wait);
                    } else {
                        tokio::time::sleep(wait).await;
                    }
                    attempt += 1;
                }
                Verdict::Unauthorized => return Err(ConnectorError::Unauthorized),
                Verdict::QuotaExhausted => return Err(ConnectorError::QuotaExhausted),
                Verdict::Fail(message) => return Err(ConnectorError::Status { status, message }),
            }
        }
    }

    fn observe(&self, headers: &HeaderMap) {
        if let Some(ms) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_http_date)
        {
            self.meter.server_ms.store(ms, Ordering::Relaxed);
        }
        self.dialect.observe(headers, &self.meter, &self.limiters);
    }

    /// Full-jitter exponential backoff for `attempt` (0-based).
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.options.backoff_base.as_secs_f64();
        let cap = self.options.backoff_cap.as_secs_f64();
        let ceiling = (base * 2f64.powi(attempt.min(20) as i32)).min(cap);
        Duration::from_secs_f64(ceiling * (0.5 + 0.5 * rand::random::<f64>()))
    }
}

/// Network failures, timeouts and bodies cut short are retried like a 5xx.
fn transport_failure(e: &reqwest::Error) -> Verdict {
    tracing::debug!(
        timeout = e.is_timeout(),
        connect = e.is_connect(),
        "request to provider failed"
    );
    Verdict::Retry {
        after: None,
        throttled: false,
    }
}

/// A client that follows no redirects (a provider never needs them for reads, and a
/// redirect is how a request would wander off the allow-listed host).
pub fn build_client(timeout: Duration) -> Result<reqwest::Client, ConnectorError> {
    // reqwest's rustls has no provider of its own here; the process-wide one may
    // already be installed (the binary does it at start), which is fine.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ConnectorError::Config(format!("HTTP client: {e}")))
}

/// `Retry-After` as seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
    }
    let at = parse_http_date(value)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    Some(Duration::from_millis(u64::try_from(at - now).unwrap_or(0)))
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as epoch milliseconds.
pub fn parse_http_date(value: &str) -> Option<i64> {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let dt = time::PrimitiveDateTime::parse(value.trim(), format).ok()?;
    Some(dt.assume_utc().unix_timestamp() * 1000)
}

/// An RFC 3339 timestamp (`2025-05-01T10:12:13.456Z`, `…+01:00`) as epoch milliseconds.
pub fn parse_rfc3339_ms(value: &str) -> Option<i64> {
    let dt =
        time::OffsetDateTime::parse(value.trim(), &time::format_description::well_known::Rfc3339)
            .ok()?;
    i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Epoch milliseconds as RFC 3339 UTC (`2025-05-01T10:12:13.456Z`).
pub fn format_rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|dt| {
            dt.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &[Route] = &[
        Route::get("/crm/v3/objects/*"),
        Route::read_post("/crm/v3/objects/*/search", 1),
    ];

    struct Plain;
    impl Dialect for Plain {}

    fn http() -> Http {
        Http::new(
            "http://127.0.0.1:9",
            ROUTES,
            Auth::Bearer("t".into()),
            &[None, None],
            HttpOptions::default(),
            Box::new(Plain),
        )
        .expect("client")
    }

    #[test]
    fn only_allow_listed_reads_pass() {
        let h = http();
        assert_eq!(
            h.permit("GET", "/crm/v3/objects/deals?limit=100").ok(),
            Some(0)
        );
        assert_eq!(
            h.permit("POST", "/crm/v3/objects/deals/search").ok(),
            Some(1)
        );
        for (m, p) in [
            ("POST", "/crm/v3/objects/deals"),
            ("PATCH", "/crm/v3/objects/deals"),
            ("DELETE", "/crm/v3/objects/deals"),
            ("PUT", "/crm/v3/objects/deals"),
            ("GET", "/crm/v3/objects/deals/123"),
            ("GET", "/crm/v3/objects/"),
            ("GET", "/crm/v3/objects/../../oauth"),
            ("GET", "/crm/v3/objects/%2e%2e"),
            ("GET", "crm/v3/objects/deals"),
            ("POST", "/crm/v3/objects/deals/search/../batch/archive"),
        ] {
            assert!(
                matches!(h.permit(m, p), Err(ConnectorError::WriteRefused { .. })),
                "{m} {p} passed"
            );
        }
    }

    #[tokio::test]
    async fn a_refused_request_never_leaves_the_process() {
        // Port 9 (discard) is closed here: a request that left would be a transport
        // error, not a refusal.
        let h = http();
        let r = h
            .post_read("/crm/v3/objects/deals", &serde_json::json!({}))
            .await;
        assert!(matches!(r, Err(ConnectorError::WriteRefused { .. })));
        assert_eq!(h.meter().requests(), 0);
    }

    #[test]
    fn base_urls_must_be_http() {
        let r = Http::new(
            "file:///etc",
            ROUTES,
            Auth::Bearer("t".into()),
            &[],
            HttpOptions::default(),
            Box::new(Plain),
        );
        assert!(matches!(r, Err(ConnectorError::Config(_))));
    }

    #[test]
    fn dates_and_retry_after() {
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2025-05-01T10:12:13.456Z"),
            Some(1_746_094_333_456)
        );
        assert_eq!(
            parse_rfc3339_ms("2025-05-01T11:12:13.456+01:00"),
            Some(1_746_094_333_456)
        );
        assert_eq!(
            format_rfc3339_ms(1_746_094_333_456),
            "2025-05-01T10:12:13.456Z"
        );
        let mut h = HeaderMap::new();
        h.insert(reqwest::header::RETRY_AFTER, "3".parse().expect("header"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().expect("header"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(
            reqwest::header::RETRY_AFTER,
            "soon".parse().expect("header"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn error_excerpts_are_short_single_lines() {
        let body = format!("line one\nline two {}", "x".repeat(500));
        let e = excerpt(body.as_bytes());
        assert!(!e.contains('\n'));
        assert_eq!(e.chars().count(), 200);
    }
}
