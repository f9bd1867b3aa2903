//! OAuth 2.0 authorization-code flow for each CRM (SECURITY.md OA-01..05): the
//! authorize URL with PKCE `S256` where the provider takes it, the code exchange, the
//! refresh, and revocation on disconnect. Only read scopes are ever requested, each
//! provider's list is a constant, and what the provider granted is checked against it.
//!
//! These calls go to the providers' OAuth endpoints (token and revoke), never to their
//! data APIs, so they sit outside the read-only allow-list of [`crate::http`] — and they
//! are all that sits outside it.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::crm::Provider;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{ConnectorError, Endpoints};

/// A registered OAuth app: client id and secret, and our callback URL for it.
/// `Debug` hides the secret.
#[derive(Clone)]
pub struct OAuthApp {
    pub client_id: String,
    pub client_secret: String,
    /// `{public_url}/integrations/{provider}/callback`, exactly as registered.
    pub redirect_uri: String,
}

impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

/// How a provider's OAuth differs from the next one's.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub provider: Provider,
    /// The scopes we ask for: reads only. Sent in the authorize URL unless the provider
    /// configures scopes on the app (`scopes_in_url` false).
    pub scopes: &'static [&'static str],
    pub scopes_in_url: bool,
    /// Send a PKCE `S256` challenge (the provider documents `code_verifier`).
    pub pkce: bool,
    /// Client credentials as HTTP Basic rather than form fields.
    pub basic_auth: bool,
}

impl Profile {
    pub fn for_provider(provider: Provider) -> Self {
        match provider {
            // HubSpot's token endpoint takes `code_verifier`; engagements (calls,
            // emails, meetings, notes, tasks) are read under the contacts scope, and
            // email bodies need `sales-email-read`.
            Provider::Hubspot => Profile {
                provider,
                scopes: &[
                    "oauth",
                    "crm.objects.contacts.read",
                    "crm.objects.companies.read",
                    "crm.objects.deals.read",
                    "crm.objects.owners.read",
                    "sales-email-read",
                ],
                scopes_in_url: true,
                pkce: true,
                basic_auth: false,
            },
            // Salesforce has no read-only scope: `api` acts with the integration user's
            // permissions (docs/integrations.md says how to make that user read-only).
            // Never `full`.
            Provider::Salesforce => Profile {
                provider,
                scopes: &["api", "refresh_token"],
                scopes_in_url: true,
                pkce: true,
                basic_auth: false,
            },
            // Pipedrive sets scopes on the app, not in the URL, and documents no PKCE.
            Provider::Pipedrive => Profile {
                provider,
                scopes: &[
                    "base",
                    "deals:read",
                    "contacts:read",
                    "activities:read",
                    "users:read",
                ],
                scopes_in_url: false,
                pkce: false,
                basic_auth: true,
            },
        }
    }
}

/// A fresh PKCE verifier (43 characters of url-safe base64 over 32 random bytes) and
/// its `S256` challenge.
pub fn pkce_pair() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = pkce_challenge(&verifier);
    (verifier, challenge)
}

/// `BASE64URL(SHA-256(verifier))`.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where to send the person to approve the connection. `verifier` is the PKCE
/// verifier kept (sealed) with the state; ignored for providers without PKCE.
pub fn authorize_url(
    profile: &Profile,
    app: &OAuthApp,
    endpoints: &Endpoints,
    state: &str,
    verifier: Option<&str>,
) -> Result<String, ConnectorError> {
    let mut url = reqwest::Url::parse(&endpoints.auth)
        .map_err(|_| ConnectorError::Config("the OAuth authorize URL is not a URL".into()))?;
    {
        let mut q = url.query_pairs_mut();
        if profile.provider == Provider::Salesforce {
            q.append_pair("response_type", "code");
        }
        q.append_pair("client_id", &app.client_id);
        q.append_pair("redirect_uri", &app.redirect_uri);
        if profile.scopes_in_url {
            q.append_pair("scope", &profile.scopes.join(" "));
        }
        q.append_pair("state", state);
        if let (true, Some(v)) = (profile.pkce, verifier) {
            q.append_pair("code_challenge", &pkce_challenge(v));
            q.append_pair("code_challenge_method", "S256");
        }
    }
    Ok(url.into())
}

/// Tokens from a token endpoint. `Debug` hides them.
#[derive(Clone, Default, Deserialize)]
#[serde(from = "WireTokenSet")]
pub struct TokenSet {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Seconds; Salesforce sends none (its session timeout applies).
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
    /// Salesforce: the org's API host.
    #[serde(default)]
    pub instance_url: Option<String>,
    /// Pipedrive: the company's API host.
    #[serde(default)]
    pub api_domain: Option<String>,
}

/// A token response as sent: HubSpot reports the granted scopes as a `scopes` array
/// (since August 2025) where RFC 6749 has a space-separated `scope`.
#[derive(Deserialize)]
struct WireTokenSet {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scopes: Option<Vec<String>>,
    #[serde(default)]
    instance_url: Option<String>,
    #[serde(default)]
    api_domain: Option<String>,
}

impl From<WireTokenSet> for TokenSet {
    fn from(w: WireTokenSet) -> Self {
        Self {
            access_token: w.access_token,
            refresh_token: w.refresh_token,
            expires_in: w.expires_in,
            scope: w.scope.or_else(|| w.scopes.map(|s| s.join(" "))),
            instance_url: w.instance_url,
            api_domain: w.api_domain,
        }
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("instance_url", &self.instance_url)
            .field("api_domain", &self.api_domain)
            .finish_non_exhaustive()
    }
}

/// Scopes granted beyond the read-only list we asked for (OA-03): a connection with
/// any is flagged for the admin.
pub fn extra_scopes(profile: &Profile, granted: Option<&str>) -> Vec<String> {
    let Some(granted) = granted else {
        return Vec::new();
    };
    granted
        .split([' ', ','])
        .filter(|s| !s.is_empty() && !profile.scopes.contains(s))
        // Salesforce echoes identity scopes it adds on its own.
        .filter(|s| !(profile.provider == Provider::Salesforce && matches!(*s, "id" | "openid")))
        .map(str::to_owned)
        .collect()
}

/// Exchange an authorization code for tokens.
pub async fn exchange_code(
    http: &reqwest::Client,
    profile: &Profile,
    app: &OAuthApp,
    endpoints: &Endpoints,
    code: &str,
    verifier: Option<&str>,
) -> Result<TokenSet, ConnectorError> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", app.redirect_uri.as_str()),
    ];
    if let (true, Some(v)) = (profile.pkce, verifier) {
        form.push(("code_verifier", v));
    }
    token_request(http, profile, app, endpoints, form).await
}

/// Trade a refresh token for a new access token. A refusal is
/// [`ConnectorError::InvalidGrant`]: the connection needs a person to reconnect it.
pub async fn refresh(
    http: &reqwest::Client,
    profile: &Profile,
    app: &OAuthApp,
    endpoints: &Endpoints,
    refresh_token: &str,
) -> Result<TokenSet, ConnectorError> {
    let form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    token_request(http, profile, app, endpoints, form).await
}

async fn token_request(
    http: &reqwest::Client,
    profile: &Profile,
    app: &OAuthApp,
    endpoints: &Endpoints,
    mut form: Vec<(&str, &str)>,
) -> Result<TokenSet, ConnectorError> {
    let mut request = http.post(&endpoints.token);
    if profile.basic_auth {
        request = request.basic_auth(&app.client_id, Some(&app.client_secret));
    } else {
        form.push(("client_id", &app.client_id));
        form.push(("client_secret", &app.client_secret));
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| ConnectorError::Transport(transport_reason(&e)))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| ConnectorError::Transport(transport_reason(&e)))?;
    match status {
        200..=299 => {
            let tokens: TokenSet = serde_json::from_slice(&body)
                .map_err(|_| ConnectorError::Malformed("token response is not JSON".into()))?;
            if tokens.access_token.is_empty() {
                return Err(ConnectorError::Malformed(
                    "token response has no access_token".into(),
                ));
            }
            Ok(tokens)
        }
        // RFC 6749 §5.2: a refused grant (or client) is a 400 or 401.
        400 | 401 => Err(ConnectorError::InvalidGrant),
        429 => Err(ConnectorError::RateLimited { retry_after: None }),
        _ => Err(ConnectorError::Status {
            status,
            message: "the token endpoint failed".into(),
        }),
    }
}

/// Revoke a token at the provider (on disconnect). HubSpot deletes the refresh token
/// at `DELETE {api}/oauth/v1/refresh-tokens/{token}`; Salesforce and Pipedrive take an
/// RFC 7009 POST at the `revoke` endpoint beside their token endpoint.
pub async fn revoke(
    http: &reqwest::Client,
    profile: &Profile,
    app: &OAuthApp,
    endpoints: &Endpoints,
    token: &str,
) -> Result<(), ConnectorError> {
    let request = match profile.provider {
        Provider::Hubspot => {
            let mut url = reqwest::Url::parse(&endpoints.api)
                .map_err(|_| ConnectorError::Config("the API URL is not a URL".into()))?;
            url.path_segments_mut()
                .map_err(|_| ConnectorError::Config("the API URL cannot take a path".into()))?
                .pop_if_empty()
                .extend(["oauth", "v1", "refresh-tokens", token]);
            http.delete(url)
        }
        Provider::Salesforce | Provider::Pipedrive => {
            let url = match endpoints.token.strip_suffix("/token") {
                Some(prefix) => format!("{prefix}/revoke"),
                None => {
                    return Err(ConnectorError::Config(
                        "cannot derive the revoke URL from the token URL".into(),
                    ));
                }
            };
            let mut r = http.post(url);
            if profile.basic_auth {
                r = r.basic_auth(&app.client_id, Some(&app.client_secret));
            }
            r.form(&[("token", token), ("token_type_hint", "refresh_token")])
        }
    };
    let response = request
        .send()
        .await
        .map_err(|e| ConnectorError::Transport(transport_reason(&e)))?;
    let status = response.status().as_u16();
    // A token the provider no longer knows is as revoked as it gets.
    if (200..300).contains(&status) || status == 400 || status == 404 {
        Ok(())
    } else {
        Err(ConnectorError::Status {
            status,
            message: "revocation failed".into(),
        })
    }
}

fn transport_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        "request failed".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> OAuthApp {
        OAuthApp {
            client_id: "client-1".into(),
            client_secret: "shh-secret".into(),
            redirect_uri: "https://pitchside.example/integrations/hubspot/callback".into(),
        }
    }

    #[test]
    fn pkce_is_s256_with_a_43_character_verifier() {
        let (verifier, challenge) = pkce_pair();
        assert_eq!(verifier.len(), 43);
        assert_ne!(verifier, challenge);
        // RFC 7636 appendix B.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn authorize_urls_ask_for_read_scopes_only() {
        for provider in Provider::ALL {
            let profile = Profile::for_provider(provider);
            let url = authorize_url(
                &profile,
                &app(),
                &Endpoints::default_for(provider),
                "state-1",
                Some("v".repeat(43).as_str()),
            )
            .expect("url");
            let parsed = reqwest::Url::parse(&url).expect("parses");
            let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
            assert_eq!(q.get("state").map(String::as_str), Some("state-1"));
            assert_eq!(q.get("client_id").map(String::as_str), Some("client-1"));
            assert!(!url.contains("shh-secret"));
            if profile.pkce {
                assert_eq!(
                    q.get("code_challenge_method").map(String::as_str),
                    Some("S256")
                );
                assert_eq!(q.get("code_challenge").map(String::len), Some(43));
            } else {
                assert!(!q.contains_key("code_challenge"));
            }
            if let Some(scope) = q.get("scope") {
                assert_eq!(scope, &profile.scopes.join(" "));
                for s in scope.split(' ') {
                    assert!(
                        !s.contains("write") && s != "full",
                        "{provider}: {s} is not a read scope"
                    );
                }
            }
        }
    }

    #[test]
    fn broader_grants_are_reported() {
        let hubspot = Profile::for_provider(Provider::Hubspot);
        assert!(extra_scopes(&hubspot, Some("oauth crm.objects.deals.read")).is_empty());
        assert_eq!(
            extra_scopes(&hubspot, Some("oauth crm.objects.deals.write")),
            vec!["crm.objects.deals.write".to_owned()]
        );
        let sf = Profile::for_provider(Provider::Salesforce);
        assert!(extra_scopes(&sf, Some("api refresh_token id")).is_empty());
        assert_eq!(extra_scopes(&sf, Some("full")), vec!["full".to_owned()]);
        assert!(extra_scopes(&sf, None).is_empty());
    }

    #[test]
    fn granted_scopes_come_as_a_string_or_as_hubspots_array() {
        let t: TokenSet =
            serde_json::from_str(r#"{"access_token":"a","scope":"api refresh_token"}"#)
                .expect("parses");
        assert_eq!(t.scope.as_deref(), Some("api refresh_token"));
        let t: TokenSet = serde_json::from_str(
            r#"{"token_type":"bearer","access_token":"a","refresh_token":"r","expires_in":1800,"hub_id":1,"scopes":["oauth","crm.objects.deals.write"]}"#,
        )
        .expect("parses");
        assert_eq!(t.scope.as_deref(), Some("oauth crm.objects.deals.write"));
        assert_eq!(t.expires_in, Some(1800));
        let hubspot = Profile::for_provider(Provider::Hubspot);
        assert_eq!(
            extra_scopes(&hubspot, t.scope.as_deref()),
            vec!["crm.objects.deals.write".to_owned()]
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        assert!(!format!("{:?}", app()).contains("shh"));
        let t = TokenSet {
            access_token: "at-secret".into(),
            refresh_token: Some("rt-secret".into()),
            ..TokenSet::default()
        };
        assert!(!format!("{t:?}").contains("secret"));
    }
}
