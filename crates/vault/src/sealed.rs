//! Field encryption (SECURITY.md KEY-01..05): one Fernet key ring per data domain, with
//! MultiFernet semantics — the first key encrypts, every key decrypts — so keys rotate
//! without downtime.
//!
//! Fernet has no associated data, so the sealed plaintext is an envelope carrying its
//! context: `{"v":1,"d":domain,"o":org,"t":table,"c":column,"r":row,"p":base64(value)}`.
//! Opening checks every field, so a token copied into another row, column,
//! organization or domain does not open. Every failure is the one opaque
//! [`SealError::Invalid`]: no padding, MAC or context oracle.
//!
//! Tokens are standard Fernet: Python's `cryptography.fernet.MultiFernet` opens them
//! with the same keys (and its envelope is plain JSON), and its tokens open here.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use fernet::Fernet;
use sha2::{Digest, Sha256};

/// The data domains, each with its own key ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Domain {
    /// CRM and calendar OAuth access and refresh tokens.
    CrmTokens,
    /// Mirrored CRM records: provider payloads, activity bodies and notes.
    CrmRecords,
    /// Meeting and coaching notes, action items, skill-assessment comments.
    CoachingNotes,
    /// Every AI output: briefs, prep, insights, coach messages.
    AiInsights,
    /// Uploaded meeting transcripts.
    Transcripts,
}

impl Domain {
    pub const ALL: [Domain; 5] = [
        Domain::CrmTokens,
        Domain::CrmRecords,
        Domain::CoachingNotes,
        Domain::AiInsights,
        Domain::Transcripts,
    ];

    /// The stable name, as written into envelopes and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Domain::CrmTokens => "crm_tokens",
            Domain::CrmRecords => "crm_records",
            Domain::CoachingNotes => "coaching_notes",
            Domain::AiInsights => "ai_insights",
            Domain::Transcripts => "transcripts",
        }
    }

    /// The environment variable holding this domain's keys, primary first.
    pub fn env_var(self) -> String {
        format!("PITCHSIDE_KEYS_{}", self.as_str().to_ascii_uppercase())
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a sealed value lives. Part of the envelope, checked on open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealContext<'a> {
    pub org: &'a str,
    pub table: &'a str,
    pub column: &'a str,
    pub row: &'a str,
}

/// A sealed value: the Fernet token and the id of the key that made it (stored beside
/// the token so `keys status` can count what each key still protects).
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub token: String,
    pub key_id: String,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Opening or sealing failed. Deliberately without detail.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealed value could not be opened")]
    Invalid,
    #[error("no keys are configured for the {0} domain")]
    NoKeys(Domain),
}

/// A key that is not a Fernet key (32 bytes, url-safe base64).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "key {position} of {domain} is not a Fernet key (32 bytes, url-safe base64, as `pitchside keys generate` prints)"
)]
pub struct BadFernetKey {
    pub domain: Domain,
    pub position: usize,
}

struct RingKey {
    id: String,
    fernet: Fernet,
}

/// One domain's keys, primary first.
pub struct KeyRing {
    domain: Domain,
    keys: Vec<RingKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("domain", &self.domain)
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

/// A fresh Fernet key (url-safe base64 with padding, as Python's `Fernet.generate_key`).
pub fn generate_fernet_key() -> String {
    Fernet::generate_key()
}

/// The public id of a key: the first 8 hex digits of the SHA-256 of its bytes.
fn key_id(raw: &[u8]) -> String {
    Sha256::digest(raw)
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl KeyRing {
    /// A ring from keys in order, primary first. Keys are trimmed; empty entries are
    /// skipped, so `"k2, k1,"` is two keys.
    pub fn new<'a>(
        domain: Domain,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, BadFernetKey> {
        let mut ring = Vec::new();
        for (i, text) in keys
            .into_iter()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
        {
            let bad = BadFernetKey {
                domain,
                position: i + 1,
            };
            let raw = URL_SAFE.decode(text).map_err(|_| bad.clone())?;
            let fernet = Fernet::new(text).ok_or(bad)?;
            ring.push(RingKey {
                id: key_id(&raw),
                fernet,
            });
        }
        Ok(Self { domain, keys: ring })
    }

    /// Comma-separated keys, primary first (the `PITCHSIDE_KEYS_<DOMAIN>` format).
    pub fn parse(domain: Domain, text: &str) -> Result<Self, BadFernetKey> {
        Self::new(domain, text.split(','))
    }

    pub fn domain(&self) -> Domain {
        self.domain
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Key ids, primary first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    pub fn primary_id(&self) -> Option<&str> {
        self.keys.first().map(|k| k.id.as_str())
    }

    /// Seal `value` for `context` under the primary key.
    pub fn seal(&self, context: SealContext<'_>, value: &[u8]) -> Result<Sealed, SealError> {
        let primary = self.keys.first().ok_or(SealError::NoKeys(self.domain))?;
        let envelope = self.envelope(context, value);
        Ok(Sealed {
            token: primary.fernet.encrypt(envelope.as_bytes()),
            key_id: primary.id.clone(),
        })
    }

    /// Open a token sealed for `context`. Any failure — wrong key, tampering, another
    /// row, column, org or domain, a malformed envelope — is [`SealError::Invalid`].
    pub fn open(&self, context: SealContext<'_>, token: &str) -> Result<Vec<u8>, SealError> {
        self.open_with_key(context, token).map(|(value, _)| value)
    }

    /// Re-seal under the primary key, keeping the token's original timestamp (as
    /// Python's `MultiFernet.rotate` does). Returns the new sealed value.
    pub fn reseal(&self, context: SealContext<'_>, token: &str) -> Result<Sealed, SealError> {
        let (value, _) = self.open_with_key(context, token)?;
        let primary = self.keys.first().ok_or(SealError::NoKeys(self.domain))?;
        let timestamp = token_timestamp(token).ok_or(SealError::Invalid)?;
        Ok(Sealed {
            token: primary
                .fernet
                .encrypt_at_time(self.envelope(context, &value).as_bytes(), timestamp),
            key_id: primary.id.clone(),
        })
    }

    /// Which key of the ring opens `token` (for rotation bookkeeping).
    pub fn key_id_for(&self, token: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|k| k.fernet.decrypt(token).is_ok())
            .map(|k| k.id.as_str())
    }

    fn open_with_key(
        &self,
        context: SealContext<'_>,
        token: &str,
    ) -> Result<(Vec<u8>, &str), SealError> {
        for key in &self.keys {
            if let Ok(plain) = key.fernet.decrypt(token) {
                let value = self
                    .check_envelope(context, &plain)
                    .ok_or(SealError::Invalid)?;
                return Ok((value, key.id.as_str()));
            }
        }
        Err(SealError::Invalid)
    }

    fn envelope(&self, context: SealContext<'_>, value: &[u8]) -> String {
        let mut map = BTreeMap::new();
        map.insert("v", serde_json::Value::from(1));
        map.insert("d", self.domain.as_str().into());
        map.insert("o", context.org.into());
        map.insert("t", context.table.into());
        map.insert("c", context.column.into());
        map.insert("r", context.row.into());
        map.insert("p", STANDARD.encode(value).into());
        serde_json::to_string(&map).unwrap_or_default()
    }

    fn check_envelope(&self, context: SealContext<'_>, plain: &[u8]) -> Option<Vec<u8>> {
        let env: serde_json::Value = serde_json::from_slice(plain).ok()?;
        let field = |k: &str| env.get(k).and_then(serde_json::Value::as_str);
        let matches = env.get("v").and_then(serde_json::Value::as_u64) == Some(1)
            && field("d") == Some(self.domain.as_str())
            && field("o") == Some(context.org)
            && field("t") == Some(context.table)
            && field("c") == Some(context.column)
            && field("r") == Some(context.row);
        if !matches {
            return None;
        }
        STANDARD.decode(field("p")?).ok()
    }
}

/// Every domain's key ring.
#[derive(Debug, Default)]
pub struct Keys {
    rings: BTreeMap<Domain, KeyRing>,
}

impl Keys {
    /// Read `PITCHSIDE_KEYS_<DOMAIN>` for every domain through `lookup` (the process
    /// environment, or a map in tests). Absent variables leave that ring empty.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, BadFernetKey> {
        let mut keys = Keys::default();
        for domain in Domain::ALL {
            if let Some(text) = lookup(&domain.env_var()) {
                keys.insert(KeyRing::parse(domain, &text)?);
            }
        }
        Ok(keys)
    }

    /// One fresh key for every domain (tests, and `demo` for what is missing).
    pub fn generate() -> Self {
        let mut keys = Keys::default();
        for domain in Domain::ALL {
            keys.fill_missing(domain);
        }
        keys
    }

    /// Give `domain` a freshly generated key if it has none; returns the new key.
    pub fn fill_missing(&mut self, domain: Domain) -> Option<String> {
        if !self.ring(domain).is_empty() {
            return None;
        }
        let key = generate_fernet_key();
        let ring = KeyRing::new(domain, [key.as_str()]).ok()?;
        self.insert(ring);
        Some(key)
    }

    pub fn insert(&mut self, ring: KeyRing) {
        self.rings.insert(ring.domain, ring);
    }

    /// The ring of `domain` (empty if none is configured).
    pub fn ring(&self, domain: Domain) -> &KeyRing {
        static EMPTY: [KeyRing; 5] = [
            KeyRing {
                domain: Domain::CrmTokens,
                keys: Vec::new(),
            },
            KeyRing {
                domain: Domain::CrmRecords,
                keys: Vec::new(),
            },
            KeyRing {
                domain: Domain::CoachingNotes,
                keys: Vec::new(),
            },
            KeyRing {
                domain: Domain::AiInsights,
                keys: Vec::new(),
            },
            KeyRing {
                domain: Domain::Transcripts,
                keys: Vec::new(),
            },
        ];
        self.rings
            .get(&domain)
            .or_else(|| EMPTY.iter().find(|r| r.domain == domain))
            .unwrap_or(&EMPTY[0])
    }

    /// Domains without any key.
    pub fn missing(&self) -> Vec<Domain> {
        Domain::ALL
            .into_iter()
            .filter(|d| self.ring(*d).is_empty())
            .collect()
    }
}

/// The creation time (epoch seconds) a Fernet token carries in bytes 1..9.
pub fn token_timestamp(token: &str) -> Option<u64> {
    let bytes = URL_SAFE.decode(token.trim()).ok()?;
    let stamp: [u8; 8] = bytes.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(stamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: SealContext<'static> = SealContext {
        org: "org-a",
        table: "notes",
        column: "body",
        row: "row-1",
    };

    fn ring(domain: Domain, keys: &[&str]) -> KeyRing {
        KeyRing::new(domain, keys.iter().copied()).expect("ring")
    }

    #[test]
    fn seal_and_open_round_trip_with_context() {
        let k = generate_fernet_key();
        let r = ring(Domain::CoachingNotes, &[&k]);
        let sealed = r.seal(CTX, b"private coaching note").expect("seal");
        assert!(!sealed.token.contains("private"));
        assert_eq!(
            r.open(CTX, &sealed.token).expect("open"),
            b"private coaching note"
        );
        assert_eq!(Some(sealed.key_id.as_str()), r.primary_id());
    }

    #[test]
    fn a_token_moved_to_another_row_column_org_or_domain_does_not_open() {
        let k = generate_fernet_key();
        let notes = ring(Domain::CoachingNotes, &[&k]);
        let sealed = notes.seal(CTX, b"x").expect("seal");
        for other in [
            SealContext {
                row: "row-2",
                ..CTX
            },
            SealContext {
                column: "title",
                ..CTX
            },
            SealContext {
                table: "meetings",
                ..CTX
            },
            SealContext {
                org: "org-b",
                ..CTX
            },
        ] {
            assert_eq!(notes.open(other, &sealed.token), Err(SealError::Invalid));
        }
        // Even with the very same key material, another domain refuses it.
        let transcripts = ring(Domain::Transcripts, &[&k]);
        assert_eq!(
            transcripts.open(CTX, &sealed.token),
            Err(SealError::Invalid)
        );
        // And another domain's own keys cannot decrypt it at all.
        let foreign = ring(Domain::CoachingNotes, &[&generate_fernet_key()]);
        assert_eq!(foreign.open(CTX, &sealed.token), Err(SealError::Invalid));
    }

    #[test]
    fn tampering_always_gives_the_same_error() {
        let r = ring(Domain::AiInsights, &[&generate_fernet_key()]);
        let token = r.seal(CTX, b"insight").expect("seal").token;
        let mut bytes = URL_SAFE.decode(&token).expect("b64");
        for i in [0, 5, 20, bytes.len() - 40, bytes.len() - 1] {
            bytes[i] ^= 0x01;
            let tampered = URL_SAFE.encode(&bytes);
            assert_eq!(r.open(CTX, &tampered), Err(SealError::Invalid), "byte {i}");
            bytes[i] ^= 0x01;
        }
        assert_eq!(r.open(CTX, "not a token"), Err(SealError::Invalid));
        assert_eq!(r.open(CTX, ""), Err(SealError::Invalid));
    }

    #[test]
    fn rotation_follows_multifernet_and_keeps_the_timestamp() {
        let (k1, k2) = (generate_fernet_key(), generate_fernet_key());
        let old = ring(Domain::CoachingNotes, &[&k1]);
        let sealed = old.seal(CTX, b"note").expect("seal");
        let rotated_ring = ring(Domain::CoachingNotes, &[&k2, &k1]);
        // The new ring reads old tokens, and writes with the new primary.
        assert_eq!(
            rotated_ring.open(CTX, &sealed.token).expect("open"),
            b"note"
        );
        assert_eq!(rotated_ring.key_id_for(&sealed.token), old.primary_id());
        let resealed = rotated_ring.reseal(CTX, &sealed.token).expect("reseal");
        assert_eq!(Some(resealed.key_id.as_str()), rotated_ring.primary_id());
        assert_eq!(
            token_timestamp(&resealed.token),
            token_timestamp(&sealed.token)
        );
        // After re-encryption the old key can be retired.
        let new_only = ring(Domain::CoachingNotes, &[&k2]);
        assert_eq!(new_only.open(CTX, &resealed.token).expect("open"), b"note");
        assert_eq!(new_only.open(CTX, &sealed.token), Err(SealError::Invalid));
    }

    #[test]
    fn bad_keys_and_empty_rings_are_refused() {
        assert_eq!(
            KeyRing::parse(Domain::CrmTokens, "not-a-key").err(),
            Some(BadFernetKey {
                domain: Domain::CrmTokens,
                position: 1
            })
        );
        let k = generate_fernet_key();
        let two = KeyRing::parse(
            Domain::CrmTokens,
            &format!(" {k} , {} ,", generate_fernet_key()),
        )
        .expect("two");
        assert_eq!(two.key_ids().len(), 2);
        let empty = KeyRing::parse(Domain::CrmTokens, "").expect("empty");
        assert_eq!(
            empty.seal(CTX, b"x"),
            Err(SealError::NoKeys(Domain::CrmTokens))
        );
        assert_eq!(
            Domain::CoachingNotes.env_var(),
            "PITCHSIDE_KEYS_COACHING_NOTES"
        );
        assert_eq!(Domain::parse("transcripts"), Some(Domain::Transcripts));
    }

    #[test]
    fn keys_come_from_the_environment_per_domain() {
        let k = generate_fernet_key();
        let keys =
            Keys::from_lookup(|var| (var == "PITCHSIDE_KEYS_COACHING_NOTES").then(|| k.clone()))
                .expect("keys");
        assert_eq!(
            keys.missing(),
            vec![
                Domain::CrmTokens,
                Domain::CrmRecords,
                Domain::AiInsights,
                Domain::Transcripts
            ]
        );
        assert!(keys.ring(Domain::CoachingNotes).seal(CTX, b"x").is_ok());
        assert!(keys.ring(Domain::Transcripts).seal(CTX, b"x").is_err());
        assert!(Keys::from_lookup(|_| Some("junk".into())).is_err());
        assert!(Keys::generate().missing().is_empty());
    }
}
