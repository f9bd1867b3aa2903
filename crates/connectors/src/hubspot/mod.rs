//! HubSpot, read-only: owners, deal pipelines, companies, contacts, deals and the
//! engagement objects (calls, emails, meetings, notes, tasks) as activities.
//!
//! Everything goes through [`Http`] with the allow-list [`ROUTES`]: GETs of the owners,
//! pipelines and object lists (deals' with their stage history), and the POSTs that
//! only read — CRM search, v4 association batch reads and the deals batch read that
//! brings the stage history of changed deals ([`history`]). Owners and pipelines are
//! read in full on every pass; the CRM objects in full the first time and
//! incrementally after (see [`objects`]): searches by modification time for changes,
//! the archived listings for deletions.
//!
//! Limits: HubSpot counts requests per account in a rolling 10-second window — 110 for
//! an OAuth app, 100 for a private app on Free/Starter (up to 190 on higher tiers, which
//! the `X-HubSpot-RateLimit-Max` header then tells us) — and search separately, five a
//! second. Bucket 0 paces the first, bucket 1 searches ([`default_limits`]).

mod dialect;
mod history;
mod map;
mod objects;
mod small;
mod types;
mod values;
mod window;
mod wire;

#[cfg(test)]
mod tests;

use std::time::Duration;

use domain::crm::ObjectKind;

use crate::{Auth, Batch, Checkpoint, ConnectorError, Credentials, Http, HttpOptions, Route};

/// Every request the HubSpot connector may send: reads only.
pub static ROUTES: &[Route] = &[
    Route::get("/crm/v3/owners"),
    Route::get("/crm/v3/pipelines/deals"),
    Route::get("/crm/v3/objects/companies"),
    Route::get("/crm/v3/objects/contacts"),
    Route::get("/crm/v3/objects/deals"),
    Route::get("/crm/v3/objects/calls"),
    Route::get("/crm/v3/objects/emails"),
    Route::get("/crm/v3/objects/meetings"),
    Route::get("/crm/v3/objects/notes"),
    Route::get("/crm/v3/objects/tasks"),
    Route::read_post("/crm/v3/objects/companies/search", SEARCH_BUCKET),
    Route::read_post("/crm/v3/objects/contacts/search", SEARCH_BUCKET),
    Route::read_post("/crm/v3/objects/deals/search", SEARCH_BUCKET),
    Route::read_post("/crm/v3/objects/calls/search", SEARCH_BUCKET),
    Route::read_post("/crm/v3/objects/emails/search", SEARCH_BUCKET),
    Route::read_post("/crm/v3/objects/meetings/search", SEARCH_BUCKET),
    Route::read_post("/crm/v3/objects/notes/search", SEARCH_BUCKET),
    Route::read_post("/crm/v3/objects/tasks/search", SEARCH_BUCKET),
    Route::read_post("/crm/v4/associations/*/*/batch/read", BURST_BUCKET),
    Route::read_post("/crm/v3/objects/deals/batch/read", BURST_BUCKET),
];

/// The limiter of everything but search.
pub const BURST_BUCKET: usize = 0;
/// The search API's own limiter.
pub const SEARCH_BUCKET: usize = 1;

/// HubSpot's published burst limit for OAuth apps: 110 requests per 10 s per account.
pub const OAUTH_LIMIT: (u32, Duration) = (110, Duration::from_secs(10));
/// HubSpot's published burst limit for private apps on Free and Starter (the lowest
/// tier; Professional and Enterprise allow 190, which the headers report).
pub const PRIVATE_APP_LIMIT: (u32, Duration) = (100, Duration::from_secs(10));
/// The CRM search API: five requests per second per account.
pub const SEARCH_LIMIT: (u32, Duration) = (5, Duration::from_secs(1));

/// The limits per bucket for this kind of credential.
pub fn default_limits(static_token: bool) -> [Option<(u32, Duration)>; 2] {
    let burst = if static_token {
        PRIVATE_APP_LIMIT
    } else {
        OAUTH_LIMIT
    };
    [Some(burst), Some(SEARCH_LIMIT)]
}

/// A read-only HubSpot client for one connection.
pub struct Client {
    http: Http,
}

impl Client {
    /// A client for `api_base` (`https://api.hubapi.com`) with an OAuth access token
    /// or a private-app token (`credentials.static_token`), both sent as Bearer.
    pub fn new(
        api_base: &str,
        credentials: &Credentials,
        options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        if credentials.access_token.trim().is_empty() {
            return Err(ConnectorError::Config(
                "the HubSpot connection has no access token".into(),
            ));
        }
        let pace = options.rate_limit;
        let http = Http::new(
            api_base,
            ROUTES,
            Auth::Bearer(credentials.access_token.clone()),
            &default_limits(credentials.static_token),
            options,
            Box::new(dialect::HubspotDialect { pace }),
        )?;
        Ok(Self { http })
    }

    /// The HTTP layer (meter, allow-list).
    pub fn http(&self) -> &Http {
        &self.http
    }

    /// The next page of `kind` after `checkpoint`.
    pub async fn fetch(
        &self,
        kind: ObjectKind,
        checkpoint: &Checkpoint,
    ) -> Result<Batch, ConnectorError> {
        match kind {
            ObjectKind::Owner => small::owners(&self.http, checkpoint).await,
            ObjectKind::Pipeline => small::pipelines(&self.http).await,
            ObjectKind::Company | ObjectKind::Contact | ObjectKind::Deal | ObjectKind::Activity => {
                objects::fetch(&self.http, kind, checkpoint).await
            }
        }
    }
}
