//! The Salesforce mock: the REST API's SOQL `query`/`queryAll` resources with
//! `nextRecordsUrl` cursors over the world, Salesforce's error bodies (JSON arrays of
//! `{message, errorCode}`), the `Sforce-Limit-Info` header, and the OAuth 2.0 web-server
//! flow (`/services/oauth2/authorize`, `/token` answering without `expires_in` but with
//! `instance_url`, `/revoke`).
//!
//! The world maps onto Salesforce objects as: owners → User (`005…`), the stages → one
//! set of OpportunityStage rows (`01J…`, one implicit pipeline), companies → Account
//! (`001…`), contacts → Contact (`003…`), deals → Opportunity (`006…`, contacts through
//! the `OpportunityContactRoles` subquery), activities → Event (`00U…`) for every fifth
//! index, Task (`00T…`) for the others. Ids are 18 characters with the real
//! case-folding checksum, and sort like the world's indices.

mod oauth;
mod query;
mod render;
mod schema;
mod soql;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::crm::ObjectKind;

use crate::server::{Mock, MockOptions, MockState, Style};
use crate::world::WorldSpec;

/// The REST API version the mock's URLs show (any `vNN.0` is accepted).
pub const API_VERSION: &str = "v62.0";

/// The daily API allocation reported when the options set none (an Enterprise org's
/// base of 100,000).
const DEFAULT_DAILY_LIMIT: u64 = 100_000;

/// How the mocked org is set up.
#[derive(Clone, Copy, Debug)]
pub struct Org {
    /// Multi-currency orgs have `CurrencyIsoCode` on records; single-currency orgs
    /// answer `INVALID_FIELD` when it is asked for.
    pub multi_currency: bool,
}

impl Default for Org {
    fn default() -> Self {
        Self {
            multi_currency: true,
        }
    }
}

/// Start a Salesforce mock (a multi-currency org) over a new world.
pub async fn start(spec: WorldSpec, options: MockOptions) -> std::io::Result<Mock> {
    start_org(spec, options, Org::default()).await
}

/// Start a Salesforce mock of an org set up as `org`.
pub async fn start_org(spec: WorldSpec, options: MockOptions, org: Org) -> std::io::Result<Mock> {
    let state = Arc::new(MockState::new(spec, options));
    Mock::start(state, router_for(org), Arc::new(SalesforceStyle)).await
}

/// The mock's routes over the shared state (a multi-currency org).
pub fn router() -> Router<Arc<MockState>> {
    router_for(Org::default())
}

/// The mock's routes for an org set up as `org`.
pub fn router_for(org: Org) -> Router<Arc<MockState>> {
    let cursors = Arc::new(query::Cursors::default());
    let (c1, c2, c3, c4) = (
        cursors.clone(),
        cursors.clone(),
        cursors.clone(),
        cursors.clone(),
    );
    Router::new()
        .route(
            "/services/data/{version}/query",
            get(
                move |State(s): State<Arc<MockState>>,
                      Path(v): Path<String>,
                      RawQuery(q): RawQuery,
                      h: HeaderMap| {
                    query::start(s, c1.clone(), v, q, h, false, org)
                },
            ),
        )
        .route(
            "/services/data/{version}/queryAll",
            get(
                move |State(s): State<Arc<MockState>>,
                      Path(v): Path<String>,
                      RawQuery(q): RawQuery,
                      h: HeaderMap| query::start(s, c2.clone(), v, q, h, true, org),
            ),
        )
        .route(
            "/services/data/{version}/query/{locator}",
            get(
                move |State(s): State<Arc<MockState>>, Path((v, l)): Path<(String, String)>| {
                    query::more(s, c3.clone(), v, l)
                },
            ),
        )
        .route(
            "/services/data/{version}/queryAll/{locator}",
            get(
                move |State(s): State<Arc<MockState>>, Path((v, l)): Path<(String, String)>| {
                    query::more(s, c4.clone(), v, l)
                },
            ),
        )
        .route("/services/oauth2/authorize", get(oauth::authorize))
        .route("/services/oauth2/token", post(oauth::token))
        .route("/services/oauth2/revoke", post(oauth::revoke))
}

/// The id the mock gives world record `idx` of `kind` (the pipeline is the implicit
/// `default`; activities are Events or Tasks by index, see the module docs).
pub fn external_id(kind: ObjectKind, idx: u64) -> String {
    match kind {
        ObjectKind::Owner => sf_id("005", idx),
        ObjectKind::Pipeline => "default".to_owned(),
        ObjectKind::Company => sf_id("001", idx),
        ObjectKind::Contact => sf_id("003", idx),
        ObjectKind::Deal => sf_id("006", idx),
        ObjectKind::Activity if render::is_event(idx) => sf_id("00U", idx),
        ObjectKind::Activity => sf_id("00T", idx),
    }
}

/// The stage external ids (`ApiName`s) in sort order, as the connector emits them.
pub fn stage_ids() -> Vec<&'static str> {
    crate::world::STAGES.iter().map(|s| s.0).collect()
}

/// Is world activity `idx` an Event (a meeting) rather than a Task?
pub fn is_event(idx: u64) -> bool {
    render::is_event(idx)
}

/// An 18-character Salesforce id: key prefix, `000`, the index in base 62 (9 digits),
/// and the three-character case-folding suffix.
pub fn sf_id(prefix: &str, idx: u64) -> String {
    let mut id = String::with_capacity(18);
    id.push_str(prefix);
    id.push_str("000");
    id.push_str(&base62::encode(idx, 9));
    let suffix: String = id
        .as_bytes()
        .chunks(5)
        .take(3)
        .map(|chunk| {
            let bits = chunk
                .iter()
                .enumerate()
                .filter(|(_, b)| b.is_ascii_uppercase())
                .fold(0usize, |acc, (i, _)| acc | (1 << i));
            char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits])
        })
        .collect();
    id.push_str(&suffix);
    id
}

/// Base 62 in ASCII order (`0-9A-Za-z`), so encoded numbers sort like the numbers.
pub mod base62 {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// `n` in base 62, left-padded with `0` to `width`.
    pub fn encode(mut n: u64, width: usize) -> String {
        let mut out = vec![b'0'; width];
        let mut i = width;
        while n > 0 && i > 0 {
            i -= 1;
            out[i] = DIGITS[(n % 62) as usize];
            n /= 62;
        }
        String::from_utf8(out).unwrap_or_default()
    }

    pub fn decode(s: &str) -> Option<u64> {
        s.bytes().try_fold(0u64, |acc, b| {
            let d = DIGITS.iter().position(|x| *x == b)? as u64;
            acc.checked_mul(62)?.checked_add(d)
        })
    }
}

/// Salesforce's error body: `[{"message": …, "errorCode": …}]`.
pub fn sf_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json;charset=UTF-8")],
        serde_json::json!([{ "message": message, "errorCode": code }]).to_string(),
    )
        .into_response()
}

/// How Salesforce authenticates and refuses.
pub struct SalesforceStyle;

impl Style for SalesforceStyle {
    fn is_public(&self, path: &str) -> bool {
        path.starts_with("/services/oauth2/")
    }

    fn unauthorized(&self) -> Response {
        sf_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        )
    }

    /// Salesforce documents no per-second limit for REST; when a test switches the
    /// mock's window on, excess requests get a 429 with `Retry-After` (the way a
    /// gateway in front of the org would answer).
    fn too_many(&self, retry_after: Duration) -> Response {
        let mut r = sf_error(
            StatusCode::TOO_MANY_REQUESTS,
            "REQUEST_LIMIT_EXCEEDED",
            "Too many requests in the current window.",
        );
        let secs = retry_after.as_secs_f64().ceil().max(1.0) as u64;
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    }

    /// The org's rolling 24-hour allocation is used up: 403, no `Retry-After`.
    fn daily_limit(&self) -> Response {
        sf_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        )
    }

    fn error(&self, status: u16) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let (code, message) = match status.as_u16() {
            503 => ("SERVER_UNAVAILABLE", "Server temporarily unavailable"),
            500..=599 => ("UNKNOWN_EXCEPTION", "An unexpected error occurred."),
            404 => ("NOT_FOUND", "The requested resource does not exist"),
            403 => (
                "INSUFFICIENT_ACCESS",
                "insufficient access rights on object id",
            ),
            _ => ("BAD_REQUEST", "Bad request"),
        };
        sf_error(status, code, message)
    }

    /// `Sforce-Limit-Info: api-usage=used/allocation` on every answer.
    fn limit_headers(&self, headers: &mut HeaderMap, state: &MockState, _remaining: (u32, u32)) {
        let used = state.served.load(std::sync::atomic::Ordering::Relaxed);
        let limit = state.options.daily_limit.unwrap_or(DEFAULT_DAILY_LIMIT);
        if let Ok(v) = HeaderValue::from_str(&format!("api-usage={used}/{limit}")) {
            headers.insert("sforce-limit-info", v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_18_characters_sorted_like_indices() {
        let a = sf_id("001", 9);
        let b = sf_id("001", 10);
        let c = sf_id("001", 61 * 62 + 5);
        assert_eq!(a.len(), 18);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(base62::decode(&c[6..15]), Some(61 * 62 + 5));
        // The suffix folds the case of the first 15 characters: `00T` has one capital
        // in the third position of the first chunk.
        assert_eq!(&sf_id("00T", 0)[15..], "EAA");
        assert_eq!(external_id(ObjectKind::Activity, 4).get(..3), Some("00U"));
        assert_eq!(external_id(ObjectKind::Activity, 3).get(..3), Some("00T"));
    }
}
