//! Signed tokens (SECURITY.md SESS-01, SESS-02): HS256 only (the algorithm is pinned on
//! verification, so `alg: none` and algorithm confusion are refused), `iss` and `aud`
//! checked, `exp` enforced with 30 s of leeway, and a `purpose` claim so an access token,
//! a refresh token and an invitation token can never stand in for one another.
//! Also the keyed MAC used for CSRF tokens, derived from the same secret.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sha2::Sha256;
use subtle::ConstantTimeEq;

const ISSUER: &str = "pitchside";
const AUDIENCE: &str = "pitchside";
/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECS: u64 = 30;

/// What a token is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    Access,
    Refresh,
    Invitation,
}

/// The claims every Pitchside token carries.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Claims {
    /// Subject: a user id (access, refresh) or an invitation id.
    pub sub: String,
    /// Organization id.
    pub org: String,
    /// Session id (access, refresh); empty for invitations.
    #[serde(default)]
    pub sid: String,
    /// Token id: for refresh tokens, the rotation generation.
    pub jti: String,
    pub purpose: Purpose,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
}

/// A token failed verification. Deliberately one opaque error: callers answer 401.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid token")]
    Invalid,
    #[error("token signing failed")]
    Sign,
}

/// The HS256 secret. Its `Debug` never prints the key.
#[derive(Clone)]
pub struct SigningKey {
    secret: Vec<u8>,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// The key was too short or not base64.
#[derive(Debug, thiserror::Error)]
#[error("the signing key must be base64 (standard or url-safe) of at least 32 bytes")]
pub struct BadKey;

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl SigningKey {
    /// From raw bytes (at least 32).
    pub fn from_bytes(secret: &[u8]) -> Result<Self, BadKey> {
        if secret.len() < 32 {
            return Err(BadKey);
        }
        Ok(Self {
            secret: secret.to_vec(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// From base64 text as it appears in configuration.
    pub fn from_base64(text: &str) -> Result<Self, BadKey> {
        let text = text.trim();
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(text))
            .map_err(|_| BadKey)?;
        Self::from_bytes(&bytes)
    }

    /// A fresh random key, base64url, for `demo` and `keys generate`.
    pub fn generate_base64() -> String {
        crate::random_token(32)
    }

    /// Sign a token for `purpose` that lives `ttl_secs`.
    pub fn issue(
        &self,
        purpose: Purpose,
        sub: &str,
        org: &str,
        sid: &str,
        jti: &str,
        ttl_secs: u64,
    ) -> Result<(String, Claims), TokenError> {
        let now = now_secs();
        let claims = Claims {
            sub: sub.to_owned(),
            org: org.to_owned(),
            sid: sid.to_owned(),
            jti: jti.to_owned(),
            purpose,
            iss: ISSUER.to_owned(),
            aud: AUDIENCE.to_owned(),
            iat: now,
            nbf: now,
            exp: now + ttl_secs,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|_| TokenError::Sign)?;
        Ok((token, claims))
    }

    /// Verify signature, algorithm, issuer, audience, expiry and purpose.
    pub fn verify(&self, token: &str, purpose: Purpose) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.claims.purpose != purpose {
            return Err(TokenError::Invalid);
        }
        Ok(data.claims)
    }

    /// HMAC-SHA256 of `message` under a key derived for `context`, base64url.
    pub fn mac(&self, context: &str, message: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac_bytes(context, message))
    }

    /// Constant-time check of a MAC made by [`SigningKey::mac`].
    pub fn verify_mac(&self, context: &str, message: &str, presented: &str) -> bool {
        let Ok(presented) = URL_SAFE_NO_PAD.decode(presented.trim()) else {
            return false;
        };
        let expected = self.mac_bytes(context, message);
        presented.len() == expected.len() && bool::from(expected.ct_eq(&presented))
    }

    fn mac_bytes(&self, context: &str, message: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length");
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_base64(&SigningKey::generate_base64()).expect("key")
    }

    #[test]
    fn purposes_are_not_interchangeable() {
        let k = key();
        let (access, _) = k
            .issue(Purpose::Access, "u", "o", "s", "j", 900)
            .expect("sign");
        assert!(k.verify(&access, Purpose::Access).is_ok());
        assert!(k.verify(&access, Purpose::Refresh).is_err());
        assert!(k.verify(&access, Purpose::Invitation).is_err());
    }

    #[test]
    fn forged_and_foreign_tokens_fail() {
        let (a, b) = (key(), key());
        let (token, _) = a
            .issue(Purpose::Access, "u", "o", "s", "j", 900)
            .expect("sign");
        assert!(b.verify(&token, Purpose::Access).is_err());
        // alg: none with the same claims.
        let payload = token.split('.').nth(1).expect("payload");
        let none = format!(
            "{}.{payload}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#)
        );
        assert!(a.verify(&none, Purpose::Access).is_err());
        // HS512 signed with the right secret is still refused: the algorithm is pinned.
        let claims = a.verify(&token, Purpose::Access).expect("valid");
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(&a.secret),
        )
        .expect("sign");
        assert!(a.verify(&hs512, Purpose::Access).is_err());
    }

    #[test]
    fn expiry_leeway_is_thirty_seconds() {
        let k = key();
        let now = now_secs();
        let mut claims = Claims {
            sub: "u".into(),
            org: "o".into(),
            sid: "s".into(),
            jti: "j".into(),
            purpose: Purpose::Access,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now - 1000,
            nbf: now - 1000,
            exp: now - 20,
        };
        let sign = |c: &Claims| {
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), c, &k.encoding).expect("sign")
        };
        assert!(
            k.verify(&sign(&claims), Purpose::Access).is_ok(),
            "20 s past exp is within leeway"
        );
        claims.exp = now - 31;
        assert!(
            k.verify(&sign(&claims), Purpose::Access).is_err(),
            "31 s past exp is refused"
        );
        claims.exp = now + 100;
        claims.aud = "someone-else".into();
        assert!(
            k.verify(&sign(&claims), Purpose::Access).is_err(),
            "wrong audience"
        );
    }

    #[test]
    fn macs_verify_only_in_their_context() {
        let k = key();
        let m = k.mac("csrf", "session-1");
        assert!(k.verify_mac("csrf", "session-1", &m));
        assert!(!k.verify_mac("csrf", "session-2", &m));
        assert!(!k.verify_mac("other", "session-1", &m));
        assert!(!k.verify_mac("csrf", "session-1", "garbage!"));
    }
}
