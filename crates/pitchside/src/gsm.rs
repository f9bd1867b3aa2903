//! A Google Secret Manager client, for sealing keys kept there: reads one secret
//! version (`GET {base}/v1/{name}:access`) with an OAuth access token obtained from a
//! service account's key (a JWT signed with RS256, exchanged at the token endpoint with
//! the `urn:ietf:params:oauth:grant-type:jwt-bearer` grant). Read-only: it has no call
//! that creates, changes or deletes anything.
//!
//! The base URL and the token URL are configurable, so tests point them at a local mock.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use serde::Deserialize;
use tokio::sync::Mutex;

/// Where the API lives unless configured otherwise.
pub const DEFAULT_BASE_URL: &str = "https://secretmanager.googleapis.com";
/// The OAuth scope Secret Manager requires.
pub const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// The fields of a service-account key file (JSON, as the Cloud console downloads it)
/// this client uses.
#[derive(Deserialize)]
struct ServiceAccountFile {
    #[serde(rename = "type")]
    kind: String,
    client_email: String,
    private_key: String,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

/// A Secret Manager client for one service account.
pub struct GsmClient {
    http: reqwest::Client,
    base_url: String,
    token_url: String,
    client_email: String,
    key_id: Option<String>,
    signing_key: jsonwebtoken::EncodingKey,
    token: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for GsmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GsmClient")
            .field("base_url", &self.base_url)
            .field("token_url", &self.token_url)
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct AccessResponse {
    payload: Payload,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    data: String,
    /// CRC32C of the data, as a decimal int64 in a string (JSON mapping of int64).
    data_crc32c: Option<String>,
}

#[derive(serde::Serialize)]
struct Assertion<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

impl GsmClient {
    /// A client from a service-account key file. `token_url` overrides the file's
    /// `token_uri`.
    pub fn from_key_file(
        path: &Path,
        base_url: &str,
        token_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the service-account key {}", path.display()))?;
        let file: ServiceAccountFile = serde_json::from_str(&text)
            .map_err(|e| anyhow!("{} is not a service-account key file: {e}", path.display()))?;
        if file.kind != "service_account" {
            bail!(
                "{} is a {:?} credential, not a service-account key",
                path.display(),
                file.kind
            );
        }
        let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(file.private_key.as_bytes())
            .map_err(|_| {
                anyhow!(
                    "the private_key in {} is not an RSA key in PEM",
                    path.display()
                )
            })?;
        let token_url = token_url
            .map(str::to_owned)
            .or(file.token_uri)
            .unwrap_or_else(|| "https://oauth2.googleapis.com/token".to_owned());
        web::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token_url,
            client_email: file.client_email,
            key_id: file.private_key_id,
            signing_key,
            token: Mutex::new(None),
        })
    }

    /// An access token, from the cache while it has more than a minute left.
    async fn access_token(&self) -> anyhow::Result<String> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.key_id.clone();
        let assertion = jsonwebtoken::encode(
            &header,
            &Assertion {
                iss: &self.client_email,
                scope: SCOPE,
                aud: &self.token_url,
                iat: now,
                exp: now + 3600,
            },
            &self.signing_key,
        )
        .context("cannot sign the token request")?;
        let response = self
            .http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .with_context(|| format!("the token endpoint {} did not answer", self.token_url))?;
        let status = response.status();
        if !status.is_success() {
            // The body is an OAuth error object ({"error", "error_description"}); it
            // holds no secret, and it says what is wrong with the key.
            let body: String = response
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            bail!("the token endpoint refused the service account ({status}): {body}");
        }
        let token: TokenResponse = response
            .json()
            .await
            .context("the token endpoint answered with something that is not a token")?;
        let lifetime = token.expires_in.unwrap_or(3600).saturating_sub(60).max(1);
        *cached = Some((
            token.access_token.clone(),
            Instant::now() + Duration::from_secs(lifetime),
        ));
        Ok(token.access_token)
    }

    /// The payload of secret version `name` (`projects/*/secrets/*/versions/*`), as
    /// text, after checking its CRC32C when the API sends one.
    pub async fn access(&self, name: &str) -> anyhow::Result<String> {
        check_version_name(name)?;
        let token = self.access_token().await?;
        let url = format!("{}/v1/{name}:access", self.base_url);
        let response = self
            .http
            .get(&url)
            .bearer_auth(&token)
            .send()
            .await
            .with_context(|| format!("Secret Manager did not answer for {name}"))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            // The token may have been revoked early: forget it for the next attempt.
            *self.token.lock().await = None;
        }
        if !status.is_success() {
            bail!("Secret Manager refused to give {name} ({status})");
        }
        let body: AccessResponse = response.json().await.with_context(|| {
            format!("Secret Manager's answer for {name} is not a secret version")
        })?;
        let data = base64::engine::general_purpose::STANDARD
            .decode(body.payload.data.trim())
            .with_context(|| format!("the payload of {name} is not base64"))?;
        if let Some(expected) = body.payload.data_crc32c {
            let expected: u32 = expected
                .parse::<i64>()
                .ok()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| anyhow!("the dataCrc32c of {name} is not a CRC32C"))?;
            if crc32c(&data) != expected {
                bail!("the payload of {name} is corrupt (CRC32C mismatch)");
            }
        }
        String::from_utf8(data).map_err(|_| anyhow!("the payload of {name} is not text"))
    }
}

/// `projects/{project}/secrets/{secret}/versions/{version}`, each part a plain name.
fn check_version_name(name: &str) -> anyhow::Result<()> {
    let parts: Vec<&str> = name.split('/').collect();
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 255
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    // Project ids may be domain-scoped (`example.com:project`).
    let project =
        |s: &str| !s.starts_with('.') && !s.contains("..") && plain(&s.replace(['.', ':'], "-"));
    let ok = parts.len() == 6
        && parts[0] == "projects"
        && parts[2] == "secrets"
        && parts[4] == "versions"
        && project(parts[1])
        && plain(parts[3])
        && plain(parts[5]);
    if ok {
        Ok(())
    } else {
        bail!("{name:?} is not a secret version name (projects/P/secrets/S/versions/V)")
    }
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as Secret Manager computes it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_rfc_3720_check_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn only_secret_version_names_are_accepted() {
        assert!(check_version_name("projects/p-1/secrets/notes_keys/versions/latest").is_ok());
        assert!(check_version_name("projects/p/secrets/s/versions/3").is_ok());
        for bad in [
            "projects/p/secrets/s",
            "projects/p/secrets/s/versions/1/extra",
            "projects/../secrets/s/versions/1",
            "projects/p/secrets/s?x=1/versions/1",
            "buckets/p/secrets/s/versions/1",
        ] {
            assert!(check_version_name(bad).is_err(), "{bad}");
        }
    }
}
