//! The HubSpot mock: CRM v3 object lists (with `after` cursors, `properties`,
//! `associations` and `archived=true`), CRM search (filters on the modification date
//! and `hs_object_id`, one sort rule, at most 200 per page, the 10,000-result cap and
//! its 400, a per-second search limit), v4 association batch reads, CRM object batch
//! reads, deals' `dealstage` history in lists and batch reads (50 records a request),
//! owners, deal pipelines, and OAuth v1 (authorize redirect, token grant, refresh-token
//! deletion), all served from the shared [`World`](crate::World).
//!
//! Ids: every kind has its own numeric range ([`external_id`]); the first pipeline is
//! HubSpot's `default` with its built-in stage ids. Error bodies, `X-HubSpot-RateLimit-*`
//! headers and 429 `policyName`s follow HubSpot's formats ([`HubspotStyle`]).

mod batch;
mod handlers;
mod history;
mod json;
mod oauth;
mod objects;
mod records;
mod search;
mod small;
mod style;

pub use style::HubspotStyle;
pub(crate) use style::{correlation_id, error_response, throttled};

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{delete, get, post};
use domain::crm::{ActivityType, ObjectKind};

use crate::server::{Mock, MockOptions, MockState};
use crate::world::{WorldSpec, hash};

/// Knobs of the HubSpot mock beyond the shared [`MockOptions`].
#[derive(Clone, Debug)]
pub struct Config {
    /// Modification and creation times are reported (and searched) at this resolution,
    /// in milliseconds. HubSpot reports milliseconds (1); tests use a coarser clock to
    /// make many records share one timestamp.
    pub clock_resolution_ms: i64,
    /// Search requests allowed per second when the mock's rate limit is on
    /// (`MockOptions::rate_limit`); HubSpot documents five per account.
    pub search_per_second: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            clock_resolution_ms: 1,
            search_per_second: 5,
        }
    }
}

/// What the HubSpot routes share besides [`MockState`].
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: Config,
    /// Search requests in the last second (only counted with a rate limit on).
    pub search_window: Mutex<VecDeque<Instant>>,
}

impl Shared {
    /// A time as HubSpot reports it (at the configured resolution).
    pub fn clock(&self, ms: i64) -> i64 {
        let r = self.config.clock_resolution_ms.max(1);
        ms - ms.rem_euclid(r)
    }

    /// Take a search slot; `Err(wait)` when the per-second search limit is used up.
    pub fn admit_search(&self, state: &MockState) -> Result<(), Duration> {
        if state.options.rate_limit.is_none() {
            return Ok(());
        }
        let window = Duration::from_secs(1);
        let mut w = match self.search_window.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = Instant::now();
        while w.front().is_some_and(|t| now.duration_since(*t) >= window) {
            w.pop_front();
        }
        if w.len() as u32 >= self.config.search_per_second.max(1) {
            let oldest = w.front().copied().unwrap_or(now);
            return Err((oldest + window).saturating_duration_since(now));
        }
        w.push_back(now);
        Ok(())
    }
}

/// Start a HubSpot mock over a world of `spec` on 127.0.0.1.
pub async fn start(spec: WorldSpec, options: MockOptions) -> std::io::Result<Mock> {
    start_with(spec, options, Config::default()).await
}

/// [`start`] with HubSpot-specific knobs.
pub async fn start_with(
    spec: WorldSpec,
    options: MockOptions,
    config: Config,
) -> std::io::Result<Mock> {
    let state = Arc::new(MockState::new(spec, options));
    Mock::start(state, router_with(config), Arc::new(HubspotStyle)).await
}

/// The HubSpot routes over the shared state (default [`Config`]).
pub fn router() -> Router<Arc<MockState>> {
    router_with(Config::default())
}

/// The HubSpot routes with `config`.
pub fn router_with(config: Config) -> Router<Arc<MockState>> {
    let shared = Arc::new(Shared {
        config,
        search_window: Mutex::default(),
    });
    Router::new()
        .route("/crm/v3/owners", get(small::owners))
        .route("/crm/v3/pipelines/{object}", get(small::pipelines))
        .route("/crm/v3/objects/{object}", get(handlers::list))
        .route("/crm/v3/objects/{object}/search", post(search::search))
        .route(
            "/crm/v3/objects/{object}/batch/read",
            post(batch::batch_read),
        )
        .route(
            "/crm/v4/associations/{from}/{to}/batch/read",
            post(handlers::associations),
        )
        .route("/oauth/authorize", get(oauth::authorize))
        .route("/oauth/v1/token", post(oauth::token))
        .route("/oauth/v1/refresh-tokens/{token}", delete(oauth::revoke))
        .layer(axum::Extension(shared))
}

/// The seed of every [`WorldSpec`] constructor ([`external_id`] assumes it).
fn default_seed() -> u64 {
    WorldSpec::sized(0, 0, 0, 0).seed
}

const OWNER_BASE: u64 = 70_000_000;
const PIPELINE_BASE: u64 = 80_000_000;
const STAGE_BASE: u64 = 90_000_000;
const COMPANY_BASE: u64 = 10_000_000_000;
const CONTACT_BASE: u64 = 20_000_000_000;
const DEAL_BASE: u64 = 30_000_000_000;
const ACTIVITY_BASE: u64 = 40_000_000_000;
/// Ids of one kind stay below its base plus this.
const RANGE: u64 = 1_000_000_000;

/// HubSpot's built-in stage ids of the `default` pipeline, in [`crate::world::STAGES`]
/// order.
const DEFAULT_STAGES: [&str; 6] = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "closedwon",
    "closedlost",
];

fn base(kind: ObjectKind) -> u64 {
    match kind {
        ObjectKind::Owner => OWNER_BASE,
        ObjectKind::Pipeline => PIPELINE_BASE,
        ObjectKind::Company => COMPANY_BASE,
        ObjectKind::Contact => CONTACT_BASE,
        ObjectKind::Deal => DEAL_BASE,
        ObjectKind::Activity => ACTIVITY_BASE,
    }
}

/// The numeric HubSpot id of world record `idx` (activities: without the type prefix).
pub fn numeric_id(kind: ObjectKind, idx: u64) -> u64 {
    base(kind) + idx
}

/// The world index of a numeric HubSpot id of `kind`, if it is one.
pub(crate) fn index_of(kind: ObjectKind, id: &str) -> Option<u64> {
    let n: u64 = id.trim().parse().ok()?;
    let b = base(kind);
    (n >= b && n < b + RANGE).then(|| n - b)
}

/// The id of pipeline `idx` (`default` for the first, as in every HubSpot account).
pub fn pipeline_id(idx: usize) -> String {
    if idx == 0 {
        "default".to_owned()
    } else {
        (PIPELINE_BASE + idx as u64).to_string()
    }
}

/// The id of stage `stage` (an index into [`crate::world::STAGES`]) of pipeline
/// `pipeline`: HubSpot's built-in ids in `default`, numeric ids elsewhere.
pub fn stage_id(pipeline: usize, stage: usize) -> String {
    if pipeline == 0 {
        DEFAULT_STAGES
            .get(stage)
            .copied()
            .unwrap_or("closedlost")
            .to_owned()
    } else {
        (STAGE_BASE + pipeline as u64 * 100 + stage as u64).to_string()
    }
}

/// Which engagement type activity `idx` is in a world seeded with `seed` (the world's
/// own rule, so deleted activities keep their type).
pub fn activity_type(seed: u64, idx: u64) -> ActivityType {
    let h = hash(
        seed ^ 4u64.wrapping_mul(0x9E37_79B9),
        ObjectKind::Activity as u64,
        idx,
    );
    ActivityType::ALL[(h % 5) as usize]
}

/// The HubSpot object type name of an engagement type (`calls`, …).
pub fn engagement_object(t: ActivityType) -> &'static str {
    match t {
        ActivityType::Call => "calls",
        ActivityType::Email => "emails",
        ActivityType::Meeting => "meetings",
        ActivityType::Note => "notes",
        ActivityType::Task => "tasks",
    }
}

/// The external id the HubSpot connector gives world record `idx` of `kind` in a world
/// with the default seed (every [`WorldSpec`] constructor's): numeric ids, pipeline
/// `default`, and for activities the type-prefixed id (`call:40000000007`). For other
/// seeds use [`external_id_for`].
pub fn external_id(kind: ObjectKind, idx: u64) -> String {
    external_id_for(default_seed(), kind, idx)
}

/// [`external_id`] for a world seeded with `seed`.
pub fn external_id_for(seed: u64, kind: ObjectKind, idx: u64) -> String {
    match kind {
        ObjectKind::Pipeline => pipeline_id(idx as usize),
        ObjectKind::Activity => format!(
            "{}:{}",
            activity_type(seed, idx).as_str(),
            numeric_id(kind, idx)
        ),
        _ => numeric_id(kind, idx).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::World;

    #[test]
    fn activity_types_follow_the_world() {
        let world = World::new(WorldSpec::small());
        for idx in 0..60 {
            let seed = world.activity(idx).map(|a| a.kind);
            assert_eq!(seed, Some(activity_type(world.spec().seed, idx)), "{idx}");
        }
    }

    #[test]
    fn ids_round_trip() {
        for kind in [ObjectKind::Company, ObjectKind::Contact, ObjectKind::Deal] {
            let id = external_id(kind, 42);
            assert_eq!(index_of(kind, &id), Some(42));
            assert_eq!(index_of(ObjectKind::Owner, &id), None);
        }
        assert_eq!(external_id(ObjectKind::Pipeline, 0), "default");
        assert_eq!(stage_id(0, 4), "closedwon");
        assert!(external_id(ObjectKind::Activity, 3).contains(':'));
        assert_eq!(index_of(ObjectKind::Deal, "abc"), None);
    }

    #[test]
    fn a_coarse_clock_rounds_down() {
        let shared = Shared {
            config: Config {
                clock_resolution_ms: 1000,
                ..Config::default()
            },
            search_window: Mutex::default(),
        };
        assert_eq!(shared.clock(12_345), 12_000);
        assert_eq!(shared.clock(12_000), 12_000);
    }
}
