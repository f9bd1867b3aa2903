//! What connectors hand the sync engine: pages of changes with the checkpoint to store
//! beside them, and the errors they can meet.

use std::fmt;
use std::time::Duration;

use domain::crm::Record;
use serde::{Deserialize, Serialize};

/// Credentials for one connection, opened from the sealed store only in memory.
/// `Debug` hides the tokens.
#[derive(Clone, Default)]
pub struct Credentials {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token expires (epoch seconds), if the provider said.
    pub expires_at: Option<i64>,
    /// HubSpot private-app and Pipedrive API tokens rather than OAuth.
    pub static_token: bool,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("static_token", &self.static_token)
            .finish()
    }
}

/// Which pass a checkpoint belongs to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// Every record of the kind, from the start. Records not seen by the end of a full
    /// pass are gone upstream; the engine deletes them.
    #[default]
    Full,
    /// What changed since `Checkpoint::since_ms`.
    Incremental,
}

/// Where a sync of one kind stands. Owned by the connector (which decides what its
/// fields mean for its provider), stored by the engine in the same transaction as the
/// page it follows, so a crash resumes exactly after the last stored page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub pass: Pass,
    /// Incremental passes: the lower bound (epoch ms, inclusive) of modification times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_ms: Option<i64>,
    /// The provider's clock (its `Date` header, epoch ms) when this pass began: the
    /// next incremental pass starts a little before it (see [`Checkpoint::next_pass`]),
    /// so whatever changed while this pass ran is read again. Provider time, never
    /// ours, so clock skew between us and the CRM cannot open a gap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    /// The newest modification time (epoch ms) seen in this pass so far (used when the
    /// provider sent no `Date`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seen_ms: Option<i64>,
    /// The provider's cursor inside the pass (HubSpot `after`, Salesforce
    /// `nextRecordsUrl`, Pipedrive `cursor`); `None` at the start of a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
    /// A phase inside the pass, for providers that read changes and deletions from
    /// different listings (0 = changes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub phase: u8,
    /// Provider-specific state (e.g. a search window's lower bound).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<String>,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// How far back each incremental pass re-reads, so a record modified while a sync ran
/// (and stamped before the newest record seen) is never skipped. Replays are harmless:
/// upserts keep the newest version.
pub const OVERLAP_MS: i64 = 5 * 60 * 1000;

impl Checkpoint {
    /// A full pass from the start.
    pub fn full() -> Self {
        Self::default()
    }

    /// The first checkpoint of the pass that follows this one when it is complete: an
    /// incremental pass from a little before this pass began by the provider's clock
    /// (else a little before the newest modification seen; else where this pass
    /// started).
    pub fn next_pass(&self) -> Self {
        let since = match (self.started_ms, self.max_seen_ms) {
            (Some(start), _) => Some(start - OVERLAP_MS),
            (None, Some(seen)) => Some(seen - OVERLAP_MS),
            (None, None) => self.since_ms,
        };
        Self {
            pass: Pass::Incremental,
            since_ms: since,
            ..Self::default()
        }
    }

    /// Note the provider's clock at the first response of a pass (no-op later on).
    pub fn begin(&mut self, server_ms: Option<i64>) {
        if self.started_ms.is_none() {
            self.started_ms = server_ms;
        }
    }

    /// Record that a record modified at `ms` was seen.
    pub fn saw(&mut self, ms: i64) {
        self.max_seen_ms = Some(self.max_seen_ms.map_or(ms, |m| m.max(ms)));
    }

    /// Is this the first page of its pass?
    pub fn at_start(&self) -> bool {
        self.page.is_none() && self.phase == 0 && self.extra.is_none() && self.started_ms.is_none()
    }
}

/// One change to the mirror.
// Upserts are the common case by far; boxing them would cost an allocation per record
// to save space on the rare deletion.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Change {
    /// Insert or update (kept only if not older than what the mirror holds).
    Upsert(Record),
    /// The record was deleted or archived upstream.
    Delete { external_id: String },
}

/// A record a connector could not map; the run counts and logs it and goes on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub external_id: Option<String>,
    /// A short, stable reason (no record contents).
    pub reason: String,
}

/// One page of changes and where the sync stands after it.
#[derive(Debug)]
pub struct Batch {
    pub changes: Vec<Change>,
    pub skipped: Vec<Skip>,
    /// The pass this page belongs to.
    pub pass: Pass,
    /// Where to continue. When `done`, the first checkpoint of the next pass.
    pub checkpoint: Checkpoint,
    /// This page ends the pass.
    pub done: bool,
}

/// What went wrong talking to a provider.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The access token was refused: refresh once and retry, else reconnect.
    #[error("the provider refused the credentials")]
    Unauthorized,
    /// The refresh token was refused (`invalid_grant`): the connection needs a new
    /// authorization.
    #[error("the provider refused the refresh token; reconnect the integration")]
    InvalidGrant,
    /// Too many requests and the retries ran out, or the daily budget is gone.
    #[error("rate limited by the provider (retry after {retry_after:?})")]
    RateLimited { retry_after: Option<Duration> },
    /// The provider's daily API allocation is used up (or our share of it is).
    #[error("the provider's daily API budget is used up")]
    QuotaExhausted,
    /// The request would not be a read: refused before it left the process.
    #[error("refused to send {method} {path}: not an allow-listed read")]
    WriteRefused { method: String, path: String },
    /// The provider answered with an error we do not retry.
    #[error("the provider answered {status}: {message}")]
    Status { status: u16, message: String },
    /// The response was not what the provider's format promises (truncated, not JSON,
    /// missing fields). The page is not applied.
    #[error("malformed response: {0}")]
    Malformed(String),
    /// Network failure or timeout after the retries.
    #[error("could not reach the provider: {0}")]
    Transport(String),
    /// A setting is wrong (bad base URL, missing client id).
    #[error("configuration: {0}")]
    Config(String),
}

impl ConnectorError {
    /// Worth another try later in the same run (as opposed to needing a person).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ConnectorError::RateLimited { .. }
                | ConnectorError::Malformed(_)
                | ConnectorError::Transport(_)
        ) || matches!(self, ConnectorError::Status { status, .. } if *status >= 500)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_pass_starts_before_this_one_began_by_the_providers_clock() {
        let mut c = Checkpoint::full();
        c.begin(Some(20 * OVERLAP_MS));
        c.begin(Some(30 * OVERLAP_MS));
        c.saw(10 * OVERLAP_MS);
        let next = c.next_pass();
        assert_eq!(next.pass, Pass::Incremental);
        assert_eq!(next.since_ms, Some(19 * OVERLAP_MS));
        assert!(next.at_start());
    }

    #[test]
    fn without_a_provider_clock_the_newest_record_seen_bounds_the_next_pass() {
        let mut c = Checkpoint::full();
        c.saw(10 * OVERLAP_MS);
        c.saw(3);
        assert_eq!(c.next_pass().since_ms, Some(9 * OVERLAP_MS));
    }

    #[test]
    fn a_pass_that_saw_nothing_keeps_its_lower_bound() {
        let c = Checkpoint {
            pass: Pass::Incremental,
            since_ms: Some(1_000),
            ..Checkpoint::default()
        };
        assert_eq!(c.next_pass().since_ms, Some(1_000));
        assert_eq!(Checkpoint::full().next_pass().since_ms, None);
    }

    #[test]
    fn checkpoints_round_trip_through_json_compactly() {
        let c = Checkpoint::full();
        assert_eq!(
            serde_json::to_string(&c).ok().as_deref(),
            Some(r#"{"pass":"full"}"#)
        );
        let mut c = Checkpoint::full().next_pass();
        c.page = Some("after-200".into());
        c.phase = 1;
        let text = serde_json::to_string(&c).unwrap_or_default();
        assert_eq!(serde_json::from_str::<Checkpoint>(&text).ok(), Some(c));
    }

    #[test]
    fn credentials_never_show_their_tokens() {
        let c = Credentials {
            access_token: "secret-access".into(),
            refresh_token: Some("secret-refresh".into()),
            ..Credentials::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}
