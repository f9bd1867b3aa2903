//! Salesforce, read through SOQL over the REST API (`GET …/query` and `…/queryAll`,
//! then each `nextRecordsUrl` until `done`). Nothing else is on the allow-list.
//!
//! | kind     | object(s)                   | passes                                       |
//! |----------|-----------------------------|----------------------------------------------|
//! | owner    | User                        | always full                                  |
//! | pipeline | OpportunityStage            | always full; one implicit pipeline `default` |
//! | company  | Account                     | full, then incremental                       |
//! | contact  | Contact                     | full, then incremental                       |
//! | deal     | Opportunity (+ contact roles subquery) | full, then incremental            |
//! | activity | Task (phase 0), Event (phase 1) | full, then incremental                   |
//!
//! A full pass reads `ORDER BY Id` (Tasks and Events through `queryAll … WHERE
//! IsDeleted = false`, because `query` leaves archived activities out). An incremental
//! pass reads `queryAll … WHERE SystemModstamp >= since ORDER BY SystemModstamp, Id`:
//! updates and deletions (`IsDeleted = true` rows, while they sit in the recycle bin)
//! arrive in one stream, proportional to what changed. Records purged from the recycle
//! bin before a pass saw them are caught by the next full pass's sweep.
//!
//! The checkpoint holds the `nextRecordsUrl` (`page`) and where the last page ended
//! (`extra`: the last Id of a full pass, the last SystemModstamp of an incremental
//! one). Query locators expire (after inactivity, and at most after two days), so a
//! resumed pass whose locator is refused (`INVALID_QUERY_LOCATOR`) re-queries from
//! `extra` instead of starting over; a replayed page is harmless.
//!
//! Salesforce has no per-second limit for REST; what binds is the org's rolling
//! 24-hour allocation, reported in `Sforce-Limit-Info` and refused with
//! `REQUEST_LIMIT_EXCEEDED` (see [`wire::SalesforceDialect`]).

mod rows;
mod source;
mod wire;

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use domain::crm::{ObjectKind, Pipeline, Record, RecordData};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::http::Reply;
use crate::{
    Auth, Batch, Change, Checkpoint, ConnectorError, Credentials, Http, HttpOptions, Pass, Route,
    Skip,
};

pub use source::Source;
pub use wire::SalesforceDialect;

/// The REST API version every request uses.
pub const API_VERSION: &str = "v62.0";

/// The external id of Salesforce's one implicit pipeline.
pub const PIPELINE_ID: &str = "default";

const QUERY: &str = "/services/data/v62.0/query";
const QUERY_ALL: &str = "/services/data/v62.0/queryAll";

/// Everything this client may send: SOQL reads and their continuation pages.
pub static ROUTES: &[Route] = &[
    Route::get("/services/data/v62.0/query"),
    Route::get("/services/data/v62.0/query/*"),
    Route::get("/services/data/v62.0/queryAll"),
    Route::get("/services/data/v62.0/queryAll/*"),
];

/// Salesforce's published request-rate limits per bucket: none for REST (the daily
/// allocation and the 25 concurrent long-running requests are what bind; one
/// sequential cursor per connection stays clear of the latter), whatever the
/// credentials.
pub const DEFAULT_LIMITS: [Option<(u32, Duration)>; 1] = [None];

/// The most OpportunityStage pages read for one pipeline (2,000 stages each).
const MAX_STAGE_PAGES: usize = 10;

/// An incremental window older than this is read as a full pass instead: deleted
/// records stay in the recycle bin (and so in `queryAll`) for 15 days, and a full
/// pass's sweep catches what was purged before an incremental pass could see it.
pub const STALE_WINDOW_MS: i64 = 14 * 86_400_000;

/// One page of a SOQL result, records kept verbatim.
#[derive(Deserialize)]
struct Page {
    done: bool,
    #[serde(default, rename = "nextRecordsUrl")]
    next: Option<String>,
    records: Vec<Box<RawValue>>,
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// Whether the org has `CurrencyIsoCode` (multi-currency); learnt on first use.
const CURRENCY_UNKNOWN: u8 = 0;
const CURRENCY_YES: u8 = 1;
const CURRENCY_NO: u8 = 2;

/// A read-only Salesforce client for one connection.
pub struct Client {
    http: Http,
    currency: AtomicU8,
}

impl Client {
    /// A client for the org at `api_base` (the token response's `instance_url`).
    pub fn new(
        api_base: &str,
        credentials: &Credentials,
        options: HttpOptions,
    ) -> Result<Self, ConnectorError> {
        let http = Http::new(
            api_base,
            ROUTES,
            Auth::Bearer(credentials.access_token.clone()),
            &DEFAULT_LIMITS,
            options,
            Box::new(SalesforceDialect),
        )?;
        Ok(Self {
            http,
            currency: AtomicU8::new(CURRENCY_UNKNOWN),
        })
    }

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
            ObjectKind::Pipeline => self.pipeline().await,
            _ => self.records(kind, checkpoint).await,
        }
    }

    /// The SOQL that starts (or, from `restart`, resumes) a pass over `source`.
    fn soql(
        &self,
        source: Source,
        checkpoint: &Checkpoint,
        restart: Option<&str>,
        currency: bool,
    ) -> (&'static str, String) {
        let fields = source.fields(currency);
        let object = source.object();
        let incremental =
            checkpoint.pass == Pass::Incremental && !matches!(source, Source::User | Source::Stage);
        if incremental {
            let since = restart
                .and_then(|r| r.parse::<i64>().ok())
                .or(checkpoint.since_ms)
                .unwrap_or(0);
            let q = format!(
                "SELECT {fields}, IsDeleted FROM {object} WHERE SystemModstamp >= {} ORDER BY SystemModstamp, Id",
                wire::soql_datetime(since)
            );
            return (QUERY_ALL, q);
        }
        let mut conds = Vec::new();
        let activities = matches!(source, Source::Task | Source::Event);
        if activities {
            conds.push("IsDeleted = false".to_owned());
        }
        if let Some(id) = restart.filter(|id| wire::is_id(id)) {
            conds.push(format!("Id > '{id}'"));
        }
        let filter = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        let path = if activities { QUERY_ALL } else { QUERY };
        (
            path,
            format!("SELECT {fields} FROM {object}{filter} ORDER BY Id"),
        )
    }

    /// Run a fresh query; for opportunities, learn whether `CurrencyIsoCode` exists.
    async fn query(
        &self,
        source: Source,
        checkpoint: &Checkpoint,
        restart: Option<&str>,
    ) -> Result<Reply, ConnectorError> {
        let currency =
            source == Source::Opportunity && self.currency.load(Ordering::Relaxed) != CURRENCY_NO;
        let (path, q) = self.soql(source, checkpoint, restart, currency);
        let result = self
            .http
            .get(&format!("{path}?q={}", wire::encode_q(&q)))
            .await;
        if !currency {
            return result;
        }
        match result {
            Err(ConnectorError::Status {
                status: 400,
                message,
            }) if message.starts_with("INVALID_FIELD") && message.contains("'CurrencyIsoCode'") => {
                tracing::debug!(
                    "single-currency org: reading opportunities without CurrencyIsoCode"
                );
                self.currency.store(CURRENCY_NO, Ordering::Relaxed);
                let (path, q) = self.soql(source, checkpoint, restart, false);
                self.http
                    .get(&format!("{path}?q={}", wire::encode_q(&q)))
                    .await
            }
            Ok(reply) => {
                self.currency.store(CURRENCY_YES, Ordering::Relaxed);
                Ok(reply)
            }
            other => other,
        }
    }

    /// The page after `checkpoint`: its `nextRecordsUrl`, or a fresh query when there
    /// is none, or when the locator is no longer valid (re-querying from `extra`).
    async fn next_page(
        &self,
        source: Source,
        checkpoint: &Checkpoint,
    ) -> Result<Page, ConnectorError> {
        if let Some(next) = checkpoint.page.as_deref() {
            if self.http.permit("GET", next).is_ok() {
                match self.http.get(next).await {
                    Err(ConnectorError::Status {
                        status: 400 | 404,
                        message,
                    }) if message.starts_with("INVALID_QUERY_LOCATOR") => {
                        tracing::debug!(
                            "query locator expired: re-querying from the last record stored"
                        );
                    }
                    other => return other?.json(),
                }
            } else {
                tracing::debug!("stored cursor is not an allow-listed path: re-querying");
            }
        }
        self.query(source, checkpoint, checkpoint.extra.as_deref())
            .await?
            .json()
    }

    async fn records(
        &self,
        kind: ObjectKind,
        checkpoint: &Checkpoint,
    ) -> Result<Batch, ConnectorError> {
        let full = Checkpoint::full();
        let stale = checkpoint.pass == Pass::Incremental
            && checkpoint.at_start()
            && checkpoint
                .since_ms
                .is_none_or(|since| since < now_ms() - STALE_WINDOW_MS);
        let checkpoint = if stale {
            tracing::debug!(%kind, "incremental window too old: reading a full pass");
            &full
        } else {
            checkpoint
        };
        let source = Source::of(kind, checkpoint.phase);
        let page = self.next_page(source, checkpoint).await?;
        let mut next = checkpoint.clone();
        next.begin(self.http.meter().server_ms());
        let incremental = checkpoint.pass == Pass::Incremental && source != Source::User;
        let mut changes = Vec::with_capacity(page.records.len());
        let mut skipped: Vec<Skip> = Vec::new();
        let mut resume_at = None;
        for raw in page.records {
            match rows::map(source, raw) {
                Ok((change, ms)) => {
                    next.saw(ms);
                    resume_at = Some(match &change {
                        _ if incremental => ms.to_string(),
                        Change::Upsert(r) => r.external_id.clone(),
                        Change::Delete { external_id } => external_id.clone(),
                    });
                    changes.push(change);
                }
                Err(skip) => skipped.push(skip),
            }
        }
        let done = if !page.done {
            let url = page.next.ok_or_else(|| {
                ConnectorError::Malformed("a page that is not done has no nextRecordsUrl".into())
            })?;
            next.page = Some(url);
            if resume_at.is_some() {
                next.extra = resume_at;
            }
            false
        } else if source == Source::Task {
            // Tasks are done; Events next, in the same pass.
            next.phase = 1;
            next.page = None;
            next.extra = None;
            false
        } else if source == Source::User {
            next = Checkpoint::full();
            true
        } else {
            next = next.next_pass();
            true
        };
        Ok(Batch {
            changes,
            skipped,
            pass: checkpoint.pass,
            checkpoint: next,
            done,
        })
    }

    /// All OpportunityStage rows as the one pipeline, in one go (a full pass each time).
    async fn pipeline(&self) -> Result<Batch, ConnectorError> {
        let start = Checkpoint::full();
        let mut stages = Vec::new();
        let mut raws: Vec<Box<RawValue>> = Vec::new();
        let mut skipped = Vec::new();
        let mut updated = self.http.meter().server_ms().unwrap_or(0);
        let mut cursor = start.clone();
        for _ in 0..MAX_STAGE_PAGES {
            let page = self.next_page(Source::Stage, &cursor).await?;
            for raw in page.records {
                match rows::stage(&raw) {
                    Ok((order, stage, ms)) => {
                        updated = updated.max(ms);
                        stages.push((order, stage));
                        raws.push(raw);
                    }
                    Err(skip) => skipped.push(skip),
                }
            }
            match page.next {
                Some(url) if !page.done => cursor.page = Some(url),
                _ => break,
            }
        }
        updated = updated.max(self.http.meter().server_ms().unwrap_or(0));
        stages.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| a.1.external_id.cmp(&b.1.external_id))
        });
        stages.dedup_by(|a, b| a.1.external_id == b.1.external_id);
        let mut changes = Vec::new();
        if !stages.is_empty() {
            let joined = format!(
                "[{}]",
                raws.iter().map(|r| r.get()).collect::<Vec<_>>().join(",")
            );
            let raw = RawValue::from_string(joined)
                .map_err(|_| ConnectorError::Malformed("stage rows".into()))?;
            changes.push(Change::Upsert(Record {
                external_id: PIPELINE_ID.to_owned(),
                updated_at_ms: updated,
                data: RecordData::Pipeline(Pipeline {
                    label: "Opportunity stages".to_owned(),
                    display_order: 0,
                    stages: stages.into_iter().map(|(_, s)| s).collect(),
                }),
                raw,
            }));
        }
        Ok(Batch {
            changes,
            skipped,
            pass: Pass::Full,
            checkpoint: Checkpoint::full(),
            done: true,
        })
    }
}
