//! A stateful Pipedrive mock serving a [`World`] in Pipedrive's wire
//! format: the API v2 cursor listings of organizations, persons, deals (with
//! `status=deleted`, and `/deals/archived`), activities, pipelines and stages; the v1
//! offset listings of notes and of a deal's flow (its stage and status changes, see
//! [`flow`]) and the unpaged v1 users list; Pipedrive's error bodies, `x-ratelimit-*`
//! burst headers and 429s, the daily token budget's 429 with `x-daily-ratelimit-token-*`;
//! and the OAuth server (`/oauth/authorize`, `/oauth/token` with HTTP Basic client
//! authentication and `api_domain` in the answer, RFC 7009 `/oauth/revoke`).
//!
//! How the world maps onto Pipedrive:
//! - world record `idx` has Pipedrive id `idx + 1` (owners are users `idx + 1`);
//! - world activities of kind Note are v1 notes, all others v2 activities;
//! - pipelines carry the four open stages of [`STAGES`]; Pipedrive has no won or lost
//!   stages, so a deal in a world "Closed won"/"Closed lost" stage sits in a late open
//!   stage with `status` `won`/`lost` ([`deal_placement`]);
//! - a deal's first world contact is its `person_id` (further contacts would be deal
//!   participants, an endpoint the connector does not read).
//!
//! Deviations from the real service: no deal is ever archived (the archived listing is
//! empty), only ascending sorts by id or `update_time`,
//! `updated_since` only with `sort_by=update_time`, deleted deals keep only their id,
//! status and deletion time, v1 notes omit their related objects (`deal`, `person`,
//! `organization`, `user`), and the daily budget counts requests, not tokens.

pub mod flow;
mod lists;
mod notes;
mod render;

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use domain::crm::{ActivityType, ObjectKind};

use crate::server::{Mock, MockOptions, MockState, Style, basic, bearer, parse_form};
use crate::world::{STAGES, World, WorldSpec, hash};

/// Open stages per pipeline (the first four of [`STAGES`]).
pub const OPEN_STAGES: usize = 4;

/// The scopes the mock's OAuth app is configured with (Pipedrive sets scopes on the app,
/// not in the authorize URL, and reports them comma-separated).
pub const APP_SCOPES: &str = "base,deals:read,contacts:read,activities:read,users:read";

/// The length of Pipedrive's burst window.
pub const BURST_WINDOW: Duration = Duration::from_secs(2);

/// Start a Pipedrive mock on 127.0.0.1 serving a world of `spec`.
pub async fn start(spec: WorldSpec, options: MockOptions) -> std::io::Result<Mock> {
    let style = Arc::new(PipedriveStyle {
        rate_limit: options.rate_limit,
        daily_limit: options.daily_limit,
    });
    let state = Arc::new(MockState::new(spec, options));
    Mock::start(state, router(), style).await
}

/// The mock's routes: data endpoints under `/api/v2` and `/api/v1` (also `/v1`), OAuth
/// under `/oauth`.
pub fn router() -> Router<Arc<MockState>> {
    let notes_index = Arc::new(Mutex::new(notes::NotesIndex::default()));
    let notes_index_v1 = notes_index.clone();
    Router::new()
        .route("/api/v1/users", get(users))
        .route("/v1/users", get(users))
        .route(
            "/api/v1/notes",
            get(
                move |State(s): State<Arc<MockState>>, RawQuery(q): RawQuery| {
                    let index = notes_index.clone();
                    async move { notes::notes(&s, q.as_deref().unwrap_or_default(), &index) }
                },
            ),
        )
        .route(
            "/v1/notes",
            get(
                move |State(s): State<Arc<MockState>>, RawQuery(q): RawQuery| {
                    let index = notes_index_v1.clone();
                    async move { notes::notes(&s, q.as_deref().unwrap_or_default(), &index) }
                },
            ),
        )
        .route("/api/v2/pipelines", get(pipelines))
        .route("/api/v2/stages", get(stages))
        .route("/api/v2/organizations", get(organizations))
        .route("/api/v2/persons", get(persons))
        .route("/api/v2/deals", get(deals))
        .route("/api/v2/deals/archived", get(archived_deals))
        .route("/api/v1/deals/{id}/flow", get(deal_flow))
        .route("/v1/deals/{id}/flow", get(deal_flow))
        .route("/api/v2/activities", get(activities))
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
}

async fn users(State(s): State<Arc<MockState>>) -> Response {
    lists::users(&s)
}

async fn pipelines(State(s): State<Arc<MockState>>, RawQuery(q): RawQuery) -> Response {
    lists::pipelines(&s, q.as_deref().unwrap_or_default())
}

async fn stages(State(s): State<Arc<MockState>>, RawQuery(q): RawQuery) -> Response {
    lists::stages(&s, q.as_deref().unwrap_or_default())
}

async fn organizations(State(s): State<Arc<MockState>>, RawQuery(q): RawQuery) -> Response {
    lists::v2_list(
        &s,
        q.as_deref().unwrap_or_default(),
        lists::V2List::Organizations,
    )
}

async fn persons(State(s): State<Arc<MockState>>, RawQuery(q): RawQuery) -> Response {
    lists::v2_list(&s, q.as_deref().unwrap_or_default(), lists::V2List::Persons)
}

async fn deals(State(s): State<Arc<MockState>>, RawQuery(q): RawQuery) -> Response {
    lists::v2_list(&s, q.as_deref().unwrap_or_default(), lists::V2List::Deals)
}

async fn archived_deals(RawQuery(q): RawQuery) -> Response {
    lists::archived_deals(q.as_deref().unwrap_or_default())
}

async fn deal_flow(
    State(s): State<Arc<MockState>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    flow::deal_flow(&s, &id, q.as_deref().unwrap_or_default())
}

async fn activities(State(s): State<Arc<MockState>>, RawQuery(q): RawQuery) -> Response {
    lists::v2_list(
        &s,
        q.as_deref().unwrap_or_default(),
        lists::V2List::Activities,
    )
}

/// Pipedrive's error body: `{"success":false,"error":…,"error_info":…,"errorCode":…}`.
pub(crate) fn error_response(status: u16, message: &str) -> Response {
    let mut body = String::from("{\"success\":false,\"error\":");
    render::push_str(&mut body, message);
    body.push_str(&format!(
        ",\"error_info\":\"Please check developers.pipedrive.com for more information about Pipedrive API.\",\"data\":null,\"additional_data\":null,\"errorCode\":{status}}}"
    ));
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn header_value(v: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&v.to_string()).unwrap_or(HeaderValue::from_static("0"))
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

/// Pipedrive's authentication, error answers and rate-limit headers.
#[derive(Debug)]
struct PipedriveStyle {
    rate_limit: Option<(u32, Duration)>,
    daily_limit: Option<u64>,
}

impl Style for PipedriveStyle {
    /// OAuth `Authorization: Bearer`, API tokens in `x-api-token` (or, v1 only,
    /// `?api_token=`).
    fn token(&self, headers: &HeaderMap, query: &str) -> Option<String> {
        bearer(headers)
            .or_else(|| {
                headers
                    .get("x-api-token")
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.trim().to_owned())
            })
            .or_else(|| parse_form(query.as_bytes()).remove("api_token"))
    }

    fn is_public(&self, path: &str) -> bool {
        path.starts_with("/oauth/")
    }

    fn unauthorized(&self) -> Response {
        error_response(401, "unauthorized access")
    }

    fn too_many(&self, retry_after: Duration) -> Response {
        let mut r = error_response(429, "Request over limit");
        let h = r.headers_mut();
        if let Some((max, _)) = self.rate_limit {
            h.insert("x-ratelimit-limit", header_value(max));
        }
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", header_value(ceil_secs(retry_after)));
        h.insert(header::RETRY_AFTER, header_value(ceil_secs(retry_after)));
        r
    }

    fn daily_limit(&self) -> Response {
        let mut r = error_response(429, "Daily API token budget exceeded for the company");
        let h = r.headers_mut();
        h.insert(
            "x-daily-ratelimit-token-limit",
            header_value(self.daily_limit.unwrap_or(30_000)),
        );
        h.insert(
            "x-daily-ratelimit-token-remaining",
            HeaderValue::from_static("0"),
        );
        r
    }

    fn error(&self, status: u16) -> Response {
        let message = match status {
            500..=599 => "Internal server error",
            403 => "You do not have permissions to perform this action",
            404 => "Not found",
            _ => "Bad request",
        };
        error_response(status, message)
    }

    fn limit_headers(&self, headers: &mut HeaderMap, state: &MockState, remaining: (u32, u32)) {
        if let Some((_, window)) = self.rate_limit {
            headers.insert("x-ratelimit-limit", header_value(remaining.0));
            headers.insert("x-ratelimit-remaining", header_value(remaining.1));
            headers.insert("x-ratelimit-reset", header_value(ceil_secs(window)));
        }
        if let Some(limit) = self.daily_limit {
            let used = state.served.load(std::sync::atomic::Ordering::Relaxed);
            headers.insert("x-daily-ratelimit-token-limit", header_value(limit));
            headers.insert(
                "x-daily-ratelimit-token-remaining",
                header_value(limit.saturating_sub(used)),
            );
        }
    }
}

/// The Pipedrive id of pipeline `p` (0-based).
pub fn pipeline_id(p: usize) -> u64 {
    p as u64 + 1
}

/// The Pipedrive id of open stage `s` (0-based, `< OPEN_STAGES`) of pipeline `p`.
pub fn stage_id(p: usize, s: usize) -> u64 {
    (p * OPEN_STAGES + s) as u64 + 1
}

/// The external id the connector gives that stage.
pub fn stage_external_id(p: usize, s: usize) -> String {
    stage_id(p, s).to_string()
}

/// Where a deal in world stage `world_stage` (index into [`STAGES`]) sits in Pipedrive:
/// its open stage position and its `status` (`open`, `won` or `lost`).
pub fn deal_placement(world_stage: usize) -> (usize, &'static str) {
    match STAGES.get(world_stage) {
        Some((_, _, false, _)) => (world_stage.min(OPEN_STAGES - 1), "open"),
        Some((_, _, true, true)) => (OPEN_STAGES - 1, "won"),
        _ => (OPEN_STAGES - 2, "lost"),
    }
}

/// The kind of world activity `idx` in a world of `seed`, computed as [`World`] does
/// (the mock needs it without generating the whole activity; a test keeps the two in
/// step).
pub fn activity_kind(seed: u64, idx: u64) -> ActivityType {
    let h = hash(
        seed ^ 4u64.wrapping_mul(0x9E37_79B9),
        ObjectKind::Activity as u64,
        idx,
    );
    ActivityType::ALL[(h % 5) as usize]
}

/// Is world activity `idx` a Pipedrive note (rather than an activity)?
pub fn is_note(seed: u64, idx: u64) -> bool {
    activity_kind(seed, idx) == ActivityType::Note
}

fn default_seed() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    *SEED.get_or_init(|| WorldSpec::sized(0, 0, 0, 0).seed)
}

/// The external id the connector produces for world record `idx` of `kind`, in a world
/// with the default seed (`WorldSpec::small`/`sized`); activities are `activity:<id>`
/// or `note:<id>`. For other seeds use [`external_id_in`].
pub fn external_id(kind: ObjectKind, idx: u64) -> String {
    external_id_for(default_seed(), kind, idx)
}

/// [`external_id`] for any world.
pub fn external_id_in(world: &World, kind: ObjectKind, idx: u64) -> String {
    external_id_for(world.spec().seed, kind, idx)
}

fn external_id_for(seed: u64, kind: ObjectKind, idx: u64) -> String {
    match kind {
        ObjectKind::Activity if is_note(seed, idx) => format!("note:{}", idx + 1),
        ObjectKind::Activity => format!("activity:{}", idx + 1),
        _ => (idx + 1).to_string(),
    }
}

/// Percent-encode a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET /oauth/authorize?client_id=&redirect_uri=&state=`: the person approves at once;
/// 302 to `redirect_uri?code=…&state=…`. Pipedrive documents no PKCE, so none is kept.
async fn authorize(State(s): State<Arc<MockState>>, RawQuery(q): RawQuery) -> Response {
    let p = parse_form(q.as_deref().unwrap_or_default().as_bytes());
    let (Some(client_id), Some(redirect)) = (p.get("client_id"), p.get("redirect_uri")) else {
        return (
            StatusCode::BAD_REQUEST,
            "client_id and redirect_uri are required",
        )
            .into_response();
    };
    let Some(code) = s.issue_code(client_id, redirect, None, APP_SCOPES) else {
        return (StatusCode::BAD_REQUEST, "unknown client_id").into_response();
    };
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect}{sep}code={}", encode(&code));
    if let Some(state) = p.get("state") {
        location.push_str("&state=");
        location.push_str(&encode(state));
    }
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn oauth_error(status: StatusCode, code: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{{\"error\":\"{code}\",\"error_description\":\"{code}\"}}"),
    )
        .into_response()
}

/// `POST /oauth/token` with HTTP Basic client credentials and a form body
/// (`authorization_code` or `refresh_token` grant).
async fn token(State(s): State<Arc<MockState>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(client) = basic(&headers) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    };
    let form = parse_form(&body);
    match s.grant(&form, Some(client)) {
        Ok((access, refresh, scope)) => {
            let scope = if scope.is_empty() {
                APP_SCOPES.to_owned()
            } else {
                scope
            };
            let body = serde_json::json!({
                "access_token": access,
                "token_type": "Bearer",
                "refresh_token": refresh,
                "scope": scope,
                "expires_in": s.options.token_ttl.as_secs(),
                "api_domain": s.base_url(),
            });
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err("invalid_client") => oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"),
        Err(code) => oauth_error(StatusCode::BAD_REQUEST, code),
    }
}

/// `POST /oauth/revoke` (RFC 7009): HTTP Basic client credentials, form `token` and
/// optional `token_type_hint`.
async fn revoke(State(s): State<Arc<MockState>>, headers: HeaderMap, body: Bytes) -> Response {
    match basic(&headers) {
        Some((id, secret)) if id == s.options.client_id && secret == s.options.client_secret => {}
        _ => return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"),
    }
    let form = parse_form(&body);
    match form.get("token") {
        Some(token) => {
            s.revoke(token);
            StatusCode::OK.into_response()
        }
        None => oauth_error(StatusCode::BAD_REQUEST, "invalid_request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_kinds_match_the_world() {
        for seed in [42, 7, u64::MAX] {
            let world = World::new(WorldSpec {
                seed,
                ..WorldSpec::sized(0, 0, 0, 3000)
            });
            for idx in 0..3000 {
                let kind = world.activity(idx).map(|a| a.kind);
                assert_eq!(
                    kind,
                    Some(activity_kind(seed, idx)),
                    "seed {seed} idx {idx}"
                );
            }
        }
    }

    #[test]
    fn ids_and_placements() {
        assert_eq!(external_id(ObjectKind::Deal, 0), "1");
        let world = World::new(WorldSpec::small());
        for idx in 0..60 {
            let id = external_id(ObjectKind::Activity, idx);
            assert_eq!(id, external_id_in(&world, ObjectKind::Activity, idx));
            let note = world.activity(idx).map(|a| a.kind) == Some(ActivityType::Note);
            assert_eq!(id.starts_with("note:"), note, "{id}");
        }
        assert_eq!(deal_placement(0), (0, "open"));
        assert_eq!(deal_placement(3), (3, "open"));
        assert_eq!(deal_placement(4), (3, "won"));
        assert_eq!(deal_placement(5), (2, "lost"));
        assert_eq!(stage_id(1, 0), 5);
    }
}
