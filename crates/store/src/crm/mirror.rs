//! The mirror a sync writes: pages of changes, each stored in one transaction together
//! with the checkpoint that follows it, the run's counters and the day's quota use —
//! so a crash at any point resumes after the last stored page, and replaying a page
//! changes nothing (upserts keep the newest provider version).
//!
//! A page is written in two steps that a sync overlaps across consecutive pages:
//! [`Store::prepare_page`] reads which records exist and seals the payloads (CPU work,
//! outside any write transaction), and [`Store::commit_page`] writes the result in one
//! short transaction (`commit.rs`: staged, then finished). Preparing ahead is safe because the job lease makes this worker
//! the connection's only writer (checked again inside every commit), and
//! [`RecentIds`] carries the row ids given to records of pages not committed yet.

use std::collections::{HashMap, VecDeque};

use domain::crm::{ObjectKind, Record, RecordData, Stage};
use sqlx::Row;
use vault::sealed::{Domain, SealContext, Sealed};

use super::mirror_sql::{CHUNK, fence, in_list};
use super::rows::{Val, table, values};
use super::runs::{QuotaUse, RunStats};
use crate::jobs::JobLease;
use crate::{Store, StoreError};

/// One page (or several consecutive pages of one pass) to store.
#[derive(Debug)]
pub struct PageWrite<'a> {
    pub kind: ObjectKind,
    pub upserts: Vec<&'a Record>,
    pub deletes: Vec<&'a str>,
    /// Records the connector could not map (counted).
    pub skipped: u64,
    /// The page belongs to a full pass: equal versions are rewritten (a full re-sync
    /// repairs everything) and every record seen is marked with `pass_id`.
    pub full_pass: bool,
    pub pass_id: &'a str,
    /// The page ends its pass; after a full pass, what it did not see is deleted.
    pub done: bool,
    /// The checkpoint after this page (JSON) and the pass it belongs to.
    pub checkpoint: &'a str,
    pub checkpoint_pass_id: &'a str,
    pub run_id: &'a str,
    pub quota: QuotaUse,
    /// The CRM pages this write holds (several when written together).
    pub pages: u64,
}

/// What storing a page changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageOutcome {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Removed at the end of a full pass because the CRM no longer has them.
    pub swept: u64,
}

/// A record ready to write: its row id, sealed payload and column values.
pub(crate) struct PreparedRow {
    pub(crate) id: String,
    pub(crate) external_id: String,
    pub(crate) updated_ms: i64,
    pub(crate) raw: Sealed,
    pub(crate) body: Option<Sealed>,
    pub(crate) values: Vec<Val>,
    pub(crate) existed: bool,
}

/// A page ready to commit (owns everything it writes).
pub struct PreparedPage {
    pub(super) kind: ObjectKind,
    pub(super) rows: Vec<PreparedRow>,
    pub(super) deletes: Vec<String>,
    pub(super) seen_only: Vec<String>,
    pub(super) deal_contacts: Vec<(String, String)>,
    pub(super) stages: Vec<(String, Vec<Stage>)>,
    pub(super) read: u64,
    pub(super) unchanged: u64,
    pub(super) skipped: u64,
    pub(super) full_pass: bool,
    pub(super) pass_id: String,
    pub(super) done: bool,
    pub(super) checkpoint: String,
    pub(super) checkpoint_pass_id: String,
    pub(super) run_id: String,
    pub(super) quota: QuotaUse,
    /// The CRM pages this write holds (several when written together).
    pub(super) pages: u64,
}

impl std::fmt::Debug for PreparedPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedPage")
            .field("kind", &self.kind)
            .field("rows", &self.rows.len())
            .field("deletes", &self.deletes.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl PreparedPage {
    /// Whether this page belongs to a full pass.
    pub fn full_pass(&self) -> bool {
        self.full_pass
    }
    /// Whether this page ends its pass.
    pub fn done(&self) -> bool {
        self.done
    }
    /// The records this page writes, deletes or marks (external ids): two pages may be
    /// staged side by side only if these do not meet (see `commit.rs`).
    pub fn touches(&self) -> std::collections::HashSet<String> {
        self.rows
            .iter()
            .map(|r| &r.external_id)
            .chain(&self.deletes)
            .chain(&self.seen_only)
            .cloned()
            .collect()
    }
    /// The checkpoint (JSON) and pass id stored with it.
    pub fn checkpoint(&self) -> (&str, &str) {
        (&self.checkpoint, &self.checkpoint_pass_id)
    }
    /// The CRM pages this write holds.
    pub fn pages(&self) -> u64 {
        self.pages
    }
}

/// Row ids (and modification times) given to records of prepared pages that may not
/// be committed yet, so a record on two consecutive pages keeps one row id. Bounded:
/// the last few pages only.
#[derive(Debug, Default)]
pub struct RecentIds {
    pages: VecDeque<HashMap<String, (String, i64)>>,
}

/// Pages remembered by [`RecentIds`]: more than a sync ever has prepared ahead.
const RECENT_PAGES: usize = 4;

impl RecentIds {
    fn get(&self, external_id: &str) -> Option<&(String, i64)> {
        self.pages.iter().rev().find_map(|p| p.get(external_id))
    }

    fn push(&mut self, page: HashMap<String, (String, i64)>) {
        if self.pages.len() == RECENT_PAGES {
            self.pages.pop_front();
        }
        self.pages.push_back(page);
    }
}

fn record_context<'a>(
    org: &'a str,
    table: &'a str,
    column: &'a str,
    id: &'a str,
) -> SealContext<'a> {
    SealContext {
        org,
        table,
        column,
        row: id,
    }
}

impl Store {
    /// The stored checkpoint of `kind` for the leased connection: (state JSON, pass id).
    pub async fn read_checkpoint(
        &self,
        lease: &JobLease,
        kind: ObjectKind,
    ) -> Result<Option<(String, String)>, StoreError> {
        let (org, connection) = super::lease_target(lease)?;
        let mut conn = self.org_read(&org).await?;
        let row = sqlx::query(
            "SELECT state, pass_id FROM crm_checkpoints WHERE org_id = $1 AND connection_id = $2 AND kind = $3",
        )
        .bind(org)
        .bind(connection)
        .bind(kind.as_str())
        .fetch_optional(&mut *conn)
        .await?;
        conn.commit().await?;
        row.map(|r| Ok((r.try_get("state")?, r.try_get("pass_id")?)))
            .transpose()
    }

    /// Forget every checkpoint of the leased connection (a full re-sync), and clear
    /// the request for one.
    pub async fn reset_checkpoints(&self, lease: &JobLease) -> Result<(), StoreError> {
        let (org, connection) = super::lease_target(lease)?;
        let mut tx = self.org_tx(&org).await?;
        fence(&mut tx, lease, self.clock.now()).await?;
        sqlx::query("DELETE FROM crm_checkpoints WHERE org_id = $1 AND connection_id = $2")
            .bind(org.clone())
            .bind(connection.clone())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE crm_connections SET full_resync = 0 WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(connection)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Give the database's planner fresh statistics on `kind`'s mirror table, as a
    /// first sync loads it (PostgreSQL only: until autovacuum analyzes a new table, its
    /// planner scans a whole connection's rows for each lookup by external id; SQLite's
    /// planner needs no statistics here).
    pub async fn refresh_statistics(
        &self,
        lease: &JobLease,
        kind: ObjectKind,
    ) -> Result<(), StoreError> {
        if self.dialect != crate::Dialect::Postgres {
            return Ok(());
        }
        let (org, _) = super::lease_target(lease)?;
        let mut conn = self.org_read(&org).await?;
        let mut tables = vec![table(kind)];
        if kind == ObjectKind::Deal {
            tables.push("crm_deal_contacts");
        }
        for t in tables {
            sqlx::query("SELECT CAST(crm_analyze($1) AS TEXT)")
                .bind(t)
                .execute(&mut *conn)
                .await?;
        }
        conn.commit().await?;
        Ok(())
    }

    /// Store one page at once (prepare and commit; see the module docs).
    pub async fn apply_page(
        &self,
        lease: &JobLease,
        page: PageWrite<'_>,
        stats: &mut RunStats,
    ) -> Result<PageOutcome, StoreError> {
        let prepared = self
            .prepare_page(lease, page, &mut RecentIds::default())
            .await?;
        self.commit_page(lease, prepared, stats).await
    }

    /// Decide what a page changes and seal its payloads, outside any transaction.
    pub async fn prepare_page(
        &self,
        lease: &JobLease,
        page: PageWrite<'_>,
        recent: &mut RecentIds,
    ) -> Result<PreparedPage, StoreError> {
        let (org, connection) = super::lease_target(lease)?;
        let kind = page.kind;
        let table = table(kind);

        // Newest version of each record in the page (a page may repeat an id).
        let mut latest: HashMap<&str, &Record> = HashMap::with_capacity(page.upserts.len());
        for r in &page.upserts {
            let keep = latest
                .get(r.external_id.as_str())
                .is_none_or(|old| old.updated_at_ms <= r.updated_at_ms);
            if keep {
                latest.insert(r.external_id.as_str(), r);
            }
        }
        let unknown = latest.keys().copied().filter(|id| recent.get(id).is_none());
        let existing = self.existing(&org, &connection, table, unknown).await?;

        let keys = self.keys();
        let ring = keys.ring(Domain::CrmRecords);
        let mut rows = Vec::with_capacity(latest.len());
        let mut seen_only = Vec::new();
        let mut deal_contacts = Vec::new();
        let mut unchanged = 0;
        let mut given = HashMap::with_capacity(latest.len());
        for record in page.upserts.iter().filter(|r| {
            latest
                .get(r.external_id.as_str())
                .is_some_and(|l| std::ptr::eq(*l, **r))
        }) {
            let stored = recent
                .get(&record.external_id)
                .or_else(|| existing.get(record.external_id.as_str()));
            let (id, existed) = match stored {
                Some((id, stored_ms)) => {
                    let newer = record.updated_at_ms > *stored_ms
                        || (page.full_pass && record.updated_at_ms == *stored_ms);
                    if !newer {
                        unchanged += 1;
                        seen_only.push(record.external_id.clone());
                        continue;
                    }
                    (id.clone(), true)
                }
                None => (uuid::Uuid::now_v7().to_string(), false),
            };
            let seal = |column: &str, bytes: &[u8]| {
                ring.seal(record_context(&org, table, column, &id), bytes)
                    .map_err(|e| StoreError::Config(e.to_string()))
            };
            let raw = seal("raw", record.raw.get().as_bytes())?;
            let body = match &record.data {
                RecordData::Activity(a) => a
                    .body
                    .as_deref()
                    .map(|b| seal("body", b.as_bytes()))
                    .transpose()?,
                _ => None,
            };
            if let RecordData::Deal(d) = &record.data {
                let mut contacts: Vec<&String> = d.contacts.iter().collect();
                contacts.sort_unstable();
                contacts.dedup();
                deal_contacts.extend(
                    contacts
                        .into_iter()
                        .map(|c| (record.external_id.clone(), c.clone())),
                );
            }
            given.insert(
                record.external_id.clone(),
                (id.clone(), record.updated_at_ms),
            );
            rows.push(PreparedRow {
                id,
                external_id: record.external_id.clone(),
                updated_ms: record.updated_at_ms,
                raw,
                body,
                values: values(record, existed),
                existed,
            });
        }
        recent.push(given);

        let stages: Vec<(String, Vec<Stage>)> = latest
            .values()
            .filter_map(|record| match &record.data {
                RecordData::Pipeline(p) => Some((record.external_id.clone(), p.stages.clone())),
                _ => None,
            })
            .collect();
        Ok(PreparedPage {
            kind,
            rows,
            deletes: page.deletes.iter().map(|d| (*d).to_owned()).collect(),
            seen_only,
            deal_contacts,
            stages,
            read: page.upserts.len() as u64,
            unchanged,
            skipped: page.skipped,
            full_pass: page.full_pass,
            pass_id: page.pass_id.to_owned(),
            done: page.done,
            checkpoint: page.checkpoint.to_owned(),
            checkpoint_pass_id: page.checkpoint_pass_id.to_owned(),
            run_id: page.run_id.to_owned(),
            quota: page.quota,
            pages: page.pages.max(1),
        })
    }

    /// (row id, stored modification time) of the records of `ids` that exist.
    async fn existing<'a>(
        &self,
        org: &str,
        connection: &str,
        table: &str,
        ids: impl Iterator<Item = &'a str>,
    ) -> Result<HashMap<String, (String, i64)>, StoreError> {
        let ids: Vec<&str> = ids.collect();
        let mut out = HashMap::with_capacity(ids.len());
        if ids.is_empty() {
            return Ok(out);
        }
        let mut conn = self.org_read(org).await?;
        let head = format!(
            "SELECT external_id, id, updated_ms FROM {table} WHERE org_id = $1 AND connection_id = $2 AND external_id"
        );
        for chunk in ids.chunks(CHUNK) {
            let q = in_list(&conn, &head, &[org, connection], chunk);
            for row in q.fetch_all(&mut *conn).await? {
                out.insert(
                    row.try_get("external_id")?,
                    (row.try_get("id")?, row.try_get("updated_ms")?),
                );
            }
        }
        conn.commit().await?;
        Ok(out)
    }
}
