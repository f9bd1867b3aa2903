//! What the HTTP layer needs to know about its deployment.

use std::net::IpAddr;

/// How the session cookie is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieMode {
    /// `__Host-` prefix and `Secure`: production (`serve`).
    Secure,
    /// No prefix, no `Secure`: only `demo` on plain-http localhost.
    InsecureLocalDemo,
}

/// HTTP-layer settings. `Debug` hides the metrics token.
#[derive(Clone)]
pub struct WebConfig {
    /// The externally visible base URL, e.g. `https://pitchside.example.com`.
    pub public_url: String,
    pub cookie_mode: CookieMode,
    /// Per-IP limit on authentication endpoints, per minute (0 = off).
    pub auth_rate_per_minute: u32,
    /// Per-IP limit on the whole API, per second (0 = off).
    pub api_rate_per_second: u32,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Lifetime of access tokens, seconds (at most 900).
    pub access_ttl_secs: u64,
    /// If set, `/metrics` requires `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
}

impl std::fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebConfig")
            .field("public_url", &self.public_url)
            .field("cookie_mode", &self.cookie_mode)
            .field("auth_rate_per_minute", &self.auth_rate_per_minute)
            .field("api_rate_per_second", &self.api_rate_per_second)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("access_ttl_secs", &self.access_ttl_secs)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl WebConfig {
    /// Settings for a local, plain-http instance at `public_url`.
    pub fn local(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            cookie_mode: CookieMode::InsecureLocalDemo,
            auth_rate_per_minute: 20,
            api_rate_per_second: 100,
            trusted_proxies: Vec::new(),
            access_ttl_secs: 900,
            metrics_token: None,
        }
    }

    pub fn session_cookie(&self) -> &'static str {
        match self.cookie_mode {
            CookieMode::Secure => "__Host-pitchside_session",
            CookieMode::InsecureLocalDemo => "pitchside_session",
        }
    }

    pub fn csrf_cookie(&self) -> &'static str {
        match self.cookie_mode {
            CookieMode::Secure => "__Host-pitchside_csrf",
            CookieMode::InsecureLocalDemo => "pitchside_csrf",
        }
    }

    /// `Set-Cookie` value for `name=value` living `max_age` seconds (0 deletes).
    pub fn cookie(&self, name: &str, value: &str, max_age: i64) -> String {
        let secure = match self.cookie_mode {
            CookieMode::Secure => "; Secure",
            CookieMode::InsecureLocalDemo => "",
        };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// The scheme://host[:port] of the public URL.
    pub fn public_origin(&self) -> &str {
        let url = self.public_url.as_str();
        let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
        match url[after_scheme..].find('/') {
            Some(i) => &url[..after_scheme + i],
            None => url,
        }
    }

    pub fn public_scheme(&self) -> &str {
        self.public_url.split("://").next().unwrap_or("http")
    }
}
