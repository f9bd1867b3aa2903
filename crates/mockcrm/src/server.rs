//! What every mock shares: the listener, the request log, scripted faults, a
//! rolling-window rate limit, and the OAuth token store (codes, access tokens with
//! expiry, refresh tokens, revocations). Provider modules add their routes and their
//! wire formats through [`Style`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::world::{World, WorldSpec};

/// One request as the mock saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    pub method: String,
    pub path: String,
    pub query: String,
    /// The response status.
    pub status: u16,
}

/// A misbehaviour for the next matching request(s) to a data endpoint (OAuth
/// endpoints are never faulted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and the provider's error body.
    Status(u16),
    /// A 429 with `Retry-After` (seconds).
    TooManyRequests { retry_after_secs: u64 },
    /// Wait this long before answering normally.
    Delay(Duration),
    /// Send only the first half of the normal body.
    Truncate,
    /// Send a body that is not JSON.
    Malformed,
    /// Expire every access token before answering (the request gets a 401).
    ExpireTokens,
    /// The provider's "daily budget used up" answer.
    DailyLimit,
}

/// How a mock is configured.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// Enforce at most `max` requests per rolling `window` on data endpoints (429 beyond).
    pub rate_limit: Option<(u32, Duration)>,
    /// Extra latency on every data response.
    pub latency: Duration,
    /// Lifetime of access tokens the token endpoint issues.
    pub token_ttl: Duration,
    /// Tokens accepted without OAuth (HubSpot private-app, Pipedrive API tokens).
    pub static_tokens: Vec<String>,
    /// The OAuth client the mock knows.
    pub client_id: String,
    pub client_secret: String,
    /// Scopes the token endpoint reports as granted (`None`: what was asked).
    pub granted_scope: Option<String>,
    /// A daily request budget reported in headers (and enforced) where the provider
    /// reports one.
    pub daily_limit: Option<u64>,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            rate_limit: None,
            latency: Duration::ZERO,
            token_ttl: Duration::from_secs(1800),
            static_tokens: vec!["static-test-token".into()],
            client_id: "mock-client-id".into(),
            client_secret: "mock-client-secret".into(),
            granted_scope: None,
            daily_limit: None,
        }
    }
}

#[derive(Debug, Default)]
struct Tokens {
    access: HashMap<String, Instant>,
    refresh: HashSet<String>,
    /// code → (client_id, redirect_uri, PKCE challenge, scope)
    codes: HashMap<String, (String, String, Option<String>, String)>,
    revoked: Vec<String>,
    refreshes: u64,
}

/// The state of a running mock, shared with tests.
#[derive(Debug)]
pub struct MockState {
    pub world: World,
    pub options: MockOptions,
    log: Mutex<Vec<Logged>>,
    faults: Mutex<VecDeque<Fault>>,
    window: Mutex<VecDeque<Instant>>,
    tokens: Mutex<Tokens>,
    counter: AtomicU64,
    /// Data requests served today (for daily-limit headers).
    pub served: AtomicU64,
    base_url: Mutex<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl MockState {
    pub fn new(spec: WorldSpec, options: MockOptions) -> Self {
        Self {
            world: World::new(spec),
            options,
            log: Mutex::default(),
            faults: Mutex::default(),
            window: Mutex::default(),
            tokens: Mutex::default(),
            counter: AtomicU64::new(1),
            served: AtomicU64::new(0),
            base_url: Mutex::default(),
        }
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.log).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// Queue faults for the next data requests, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        lock(&self.faults).extend(faults);
    }

    /// The base URL the mock listens on (`http://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        lock(&self.base_url).clone()
    }

    /// A fresh opaque value (codes, tokens).
    pub fn fresh(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let h = crate::world::hash(n, 77, Instant::now().elapsed().as_nanos() as u64);
        format!("{prefix}-{n}-{h:016x}")
    }

    /// Expire every access token (the next data request with one gets a 401).
    pub fn expire_tokens(&self) {
        lock(&self.tokens).access.clear();
    }

    /// Tokens revoked through the revoke endpoint.
    pub fn revoked(&self) -> Vec<String> {
        lock(&self.tokens).revoked.clone()
    }

    /// How many refresh-token grants were served.
    pub fn refreshes(&self) -> u64 {
        lock(&self.tokens).refreshes
    }

    /// Is `token` valid for data requests now?
    pub fn token_valid(&self, token: &str) -> bool {
        if self.options.static_tokens.iter().any(|t| t == token) {
            return true;
        }
        lock(&self.tokens)
            .access
            .get(token)
            .is_some_and(|until| *until > Instant::now())
    }

    /// The authorize step: remember a code for this client, redirect URI, PKCE
    /// challenge and scope; the caller redirects to `redirect_uri?code=…&state=…`.
    pub fn issue_code(
        &self,
        client_id: &str,
        redirect_uri: &str,
        challenge: Option<&str>,
        scope: &str,
    ) -> Option<String> {
        if client_id != self.options.client_id {
            return None;
        }
        let code = self.fresh("code");
        lock(&self.tokens).codes.insert(
            code.clone(),
            (
                client_id.to_owned(),
                redirect_uri.to_owned(),
                challenge.map(str::to_owned),
                scope.to_owned(),
            ),
        );
        Some(code)
    }

    /// The token endpoint's grant logic, provider-neutral. Returns (access, refresh,
    /// scope) or the OAuth error code.
    pub fn grant(
        &self,
        form: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<(String, String, String), &'static str> {
        let (id, secret) = basic.unwrap_or_else(|| {
            (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned().unwrap_or_default(),
            )
        });
        if id != self.options.client_id || secret != self.options.client_secret {
            return Err("invalid_client");
        }
        let mut tokens = lock(&self.tokens);
        let scope = match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                let code = form.get("code").ok_or("invalid_request")?;
                let (cid, redirect, challenge, scope) =
                    tokens.codes.remove(code).ok_or("invalid_grant")?;
                if cid != id || form.get("redirect_uri") != Some(&redirect) {
                    return Err("invalid_grant");
                }
                if let Some(challenge) = challenge {
                    let verifier = form.get("code_verifier").ok_or("invalid_grant")?;
                    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                    if computed != challenge {
                        return Err("invalid_grant");
                    }
                }
                scope
            }
            Some("refresh_token") => {
                let refresh = form.get("refresh_token").ok_or("invalid_request")?;
                if !tokens.refresh.contains(refresh) {
                    return Err("invalid_grant");
                }
                tokens.refreshes += 1;
                String::new()
            }
            _ => return Err("unsupported_grant_type"),
        };
        drop(tokens);
        let access = self.fresh("access");
        let refresh = match form.get("refresh_token") {
            Some(r) => r.clone(),
            None => self.fresh("refresh"),
        };
        let mut tokens = lock(&self.tokens);
        tokens
            .access
            .insert(access.clone(), Instant::now() + self.options.token_ttl);
        tokens.refresh.insert(refresh.clone());
        let scope = self.options.granted_scope.clone().unwrap_or(scope);
        Ok((access, refresh, scope))
    }

    /// Revoke a refresh (or access) token.
    pub fn revoke(&self, token: &str) {
        let mut tokens = lock(&self.tokens);
        tokens.refresh.remove(token);
        tokens.access.remove(token);
        tokens.revoked.push(token.to_owned());
    }

    fn next_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    /// Take a slot of the rolling window; `Err(retry_after)` when full.
    fn admit(&self) -> Result<(u32, u32), Duration> {
        let Some((max, window)) = self.options.rate_limit else {
            return Ok((u32::MAX, u32::MAX));
        };
        let mut w = lock(&self.window);
        let now = Instant::now();
        while w.front().is_some_and(|t| now.duration_since(*t) >= window) {
            w.pop_front();
        }
        if w.len() as u32 >= max {
            let oldest = w.front().copied().unwrap_or(now);
            return Err((oldest + window).saturating_duration_since(now));
        }
        w.push_back(now);
        Ok((max, max - w.len() as u32))
    }
}

/// The provider-specific parts of the shared middleware.
pub trait Style: Send + Sync + 'static {
    /// The credential a data request carries (Bearer token, `x-api-token`, …).
    fn token(&self, headers: &HeaderMap, query: &str) -> Option<String> {
        let _ = query;
        bearer(headers)
    }
    /// Paths served without credentials, faults or rate limits (OAuth endpoints).
    fn is_public(&self, path: &str) -> bool;
    /// The provider's 401 answer.
    fn unauthorized(&self) -> Response;
    /// The provider's 429 (burst) answer.
    fn too_many(&self, retry_after: Duration) -> Response;
    /// The provider's "daily budget used up" answer.
    fn daily_limit(&self) -> Response {
        self.too_many(Duration::from_secs(3600))
    }
    /// Any other error answer with `status`.
    fn error(&self, status: u16) -> Response {
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(serde_json::json!({ "error": "mock fault" })),
        )
            .into_response()
    }
    /// Add rate-limit/quota headers to a successful answer.
    fn limit_headers(&self, headers: &mut HeaderMap, state: &MockState, remaining: (u32, u32)) {
        let _ = (headers, state, remaining);
    }
}

/// `Authorization: Bearer …`, if present.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(|t| t.trim().to_owned())
}

/// HTTP Basic credentials, if present.
pub fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// A running mock server. Dropping it stops the server.
pub struct Mock {
    pub state: Arc<MockState>,
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Mock {
    /// Serve `routes` (a provider's router over the shared state) on 127.0.0.1 with the
    /// shared middleware in front.
    pub async fn start(
        state: Arc<MockState>,
        routes: Router<Arc<MockState>>,
        style: Arc<dyn Style>,
    ) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        *lock(&state.base_url) = format!("http://{addr}");
        let app = routes
            .layer(middleware::from_fn_with_state(
                (state.clone(), style),
                shared_middleware,
            ))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { state, addr, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn shared_middleware(
    State((state, style)): State<(Arc<MockState>, Arc<dyn Style>)>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let response = if style.is_public(&path) {
        next.run(request).await
    } else {
        data_request(&state, style.as_ref(), request, next, &query).await
    };
    lock(&state.log).push(Logged {
        method,
        path,
        query,
        status: response.status().as_u16(),
    });
    response
}

async fn data_request(
    state: &MockState,
    style: &dyn Style,
    request: Request,
    next: Next,
    query: &str,
) -> Response {
    let fault = state.next_fault();
    match &fault {
        Some(Fault::Status(status)) => return style.error(*status),
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            return style.too_many(Duration::from_secs(*retry_after_secs));
        }
        Some(Fault::DailyLimit) => return style.daily_limit(),
        Some(Fault::ExpireTokens) => state.expire_tokens(),
        Some(Fault::Delay(d)) => tokio::time::sleep(*d).await,
        _ => {}
    }
    match style.token(request.headers(), query) {
        Some(token) if state.token_valid(&token) => {}
        _ => return style.unauthorized(),
    }
    if let Some(limit) = state.options.daily_limit
        && state.served.load(Ordering::Relaxed) >= limit
    {
        return style.daily_limit();
    }
    let remaining = match state.admit() {
        Ok(r) => r,
        Err(retry_after) => return style.too_many(retry_after),
    };
    state.served.fetch_add(1, Ordering::Relaxed);
    if !state.options.latency.is_zero() {
        tokio::time::sleep(state.options.latency).await;
    }
    let response = next.run(request).await;
    let (mut parts, body) = response.into_parts();
    style.limit_headers(&mut parts.headers, state, remaining);
    parts.headers.insert(
        header::DATE,
        HeaderValue::from_str(&http_date()).unwrap_or(HeaderValue::from_static("")),
    );
    match fault {
        Some(Fault::Truncate) => {
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(half))
        }
        Some(Fault::Malformed) => {
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from("<html>Bad gateway</html>"))
        }
        _ => Response::from_parts(parts, body),
    }
}

/// Now as an IMF-fixdate, as servers send in `Date`.
pub fn http_date() -> String {
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_default()
}

/// Epoch ms as RFC 3339 UTC with milliseconds (`2025-05-01T10:12:13.456Z`).
pub fn rfc3339_ms(ms: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    dt.format(format).unwrap_or_default()
}

/// Parse a form body (`a=1&b=2`) into a map.
pub fn parse_form(body: &[u8]) -> HashMap<String, String> {
    fn decode(s: &str) -> String {
        let s = s.replace('+', " ");
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let (Some(hi), Some(lo)) = (
                    (bytes[i + 1] as char).to_digit(16),
                    (bytes[i + 2] as char).to_digit(16),
                )
            {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let f = parse_form(b"grant_type=authorization_code&redirect_uri=http%3A%2F%2Fx%2Fcb&s=a+b");
        assert_eq!(
            f.get("grant_type").map(String::as_str),
            Some("authorization_code")
        );
        assert_eq!(
            f.get("redirect_uri").map(String::as_str),
            Some("http://x/cb")
        );
        assert_eq!(f.get("s").map(String::as_str), Some("a b"));
    }

    #[test]
    fn the_window_admits_max_then_refuses() {
        let state = MockState::new(
            WorldSpec::small(),
            MockOptions {
                rate_limit: Some((3, Duration::from_secs(10))),
                ..MockOptions::default()
            },
        );
        assert!(state.admit().is_ok());
        assert!(state.admit().is_ok());
        assert_eq!(state.admit().ok(), Some((3, 0)));
        assert!(state.admit().is_err());
    }

    #[test]
    fn codes_need_the_right_client_redirect_and_verifier() {
        let state = MockState::new(WorldSpec::small(), MockOptions::default());
        let verifier = "v".repeat(43);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let code = state
            .issue_code("mock-client-id", "http://app/cb", Some(&challenge), "read")
            .expect("code");
        let mut form: HashMap<String, String> = [
            ("grant_type", "authorization_code"),
            ("client_id", "mock-client-id"),
            ("client_secret", "mock-client-secret"),
            ("redirect_uri", "http://app/cb"),
            ("code", code.as_str()),
            (
                "code_verifier",
                "wrong-verifier-wrong-verifier-wrong-verifier",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(state.grant(&form, None), Err("invalid_grant"));
        // The code was used up by the failed attempt.
        form.insert("code_verifier".into(), verifier);
        assert_eq!(state.grant(&form, None), Err("invalid_grant"));
        let code = state
            .issue_code("mock-client-id", "http://app/cb", Some(&challenge), "read")
            .expect("code");
        form.insert("code".into(), code);
        let (access, refresh, scope) = state.grant(&form, None).expect("granted");
        assert!(state.token_valid(&access));
        assert_eq!(scope, "read");
        let refreshed: HashMap<String, String> = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let basic = Some(("mock-client-id".to_owned(), "mock-client-secret".to_owned()));
        assert!(state.grant(&refreshed, basic.clone()).is_ok());
        state.revoke(&refresh);
        assert_eq!(state.grant(&refreshed, basic), Err("invalid_grant"));
    }
}
