//! Committing a prepared page (see [`mirror`](super::mirror)) in two steps.
//!
//! [`Store::stage_page`] opens the page's transaction and writes its records (upserts,
//! deals' contacts, deletions, seen marks, the end-of-pass sweep); [`Store::finish_page`]
//! then checks the lease (the fence), stores the checkpoint, the run's counters and the
//! quota use, and commits. [`Store::commit_page`] does both in turn.
//!
//! On PostgreSQL a sync may stage two pages side by side, on two connections
//! ([`Store::overlaps_page_writes`]), and finishes them in order. That is safe when:
//! - the two pages touch no record in common ([`PreparedPage::touches`]) and neither
//!   ends its pass (the sweep reads what every page before it marked): staging then
//!   locks disjoint mirror rows, so neither waits for the other;
//! - finishing writes only the job, checkpoint, run and quota rows, which staging never
//!   touches, and a page is finished only after the page before it committed: the
//!   checkpoints commit in order, and a crash leaves nothing but uncommitted work after
//!   the last stored checkpoint, replayed on restart.
//!
//! On SQLite there is one write transaction at a time: pages are committed one by one.

use domain::crm::ObjectKind;

use super::mirror::{PageOutcome, PreparedPage};
use super::mirror_sql::{
    CHUNK, delete_records, fence, in_list, remap_owners, replace_deal_contacts, replace_stages,
    sweep, upsert,
};
use super::rows::table;
use super::runs::{QuotaUse, RunStats, add_quota, write_run};
use crate::jobs::JobLease;
use crate::{Dialect, Store, StoreError};

/// A page whose records are written in a transaction not yet committed.
pub struct StagedPage {
    tx: sqlx::Transaction<'static, sqlx::Any>,
    org: String,
    connection: String,
    kind: ObjectKind,
    outcome: PageOutcome,
    read: u64,
    skipped: u64,
    pages: u64,
    checkpoint: String,
    checkpoint_pass_id: String,
    run_id: String,
    quota: QuotaUse,
}

impl std::fmt::Debug for StagedPage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedPage")
            .field("kind", &self.kind)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Whether a sync may stage two pages side by side (PostgreSQL).
    pub fn overlaps_page_writes(&self) -> bool {
        self.dialect == Dialect::Postgres
    }

    /// Write a prepared page, its checkpoint, the run's counters (`stats` gains the
    /// page's) and the quota use in one transaction.
    pub async fn commit_page(
        &self,
        lease: &JobLease,
        page: PreparedPage,
        stats: &mut RunStats,
    ) -> Result<PageOutcome, StoreError> {
        let staged = self.stage_page(lease, page).await?;
        self.finish_page(lease, staged, stats).await
    }

    /// Open the page's transaction and write its records; nothing is visible to anyone
    /// else until [`Store::finish_page`] commits it.
    pub async fn stage_page(
        &self,
        lease: &JobLease,
        page: PreparedPage,
    ) -> Result<StagedPage, StoreError> {
        let (org, connection) = super::lease_target(lease)?;
        let kind = page.kind;
        let table = table(kind);
        let now = self.clock.now();
        let mut outcome = PageOutcome {
            unchanged: page.unchanged,
            ..PageOutcome::default()
        };
        let mut tx = self.org_tx(&org).await?;
        for row in &page.rows {
            if row.existed {
                outcome.updated += 1;
            } else {
                outcome.created += 1;
            }
        }
        let written: Vec<String> = match kind {
            ObjectKind::Deal => page.rows.iter().map(|r| r.external_id.clone()).collect(),
            _ => Vec::new(),
        };
        let mut rows = page.rows;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(CHUNK));
            upsert(&mut tx, &org, &connection, kind, rows, &page.pass_id, now).await?;
            rows = rest;
        }
        match kind {
            ObjectKind::Deal => {
                let deals: Vec<&str> = written.iter().map(String::as_str).collect();
                replace_deal_contacts(&mut tx, &org, &connection, &deals, &page.deal_contacts)
                    .await?
            }
            ObjectKind::Pipeline => {
                replace_stages(&mut tx, &org, &connection, &page.stages).await?
            }
            _ => {}
        }
        if !page.deletes.is_empty() {
            let deletes: Vec<&str> = page.deletes.iter().map(String::as_str).collect();
            outcome.deleted += delete_records(&mut tx, &org, &connection, kind, &deletes).await?;
        }
        if page.full_pass && !page.seen_only.is_empty() {
            let head = format!(
                "UPDATE {table} SET seen_pass = $1 WHERE org_id = $2 AND connection_id = $3 AND external_id"
            );
            let seen: Vec<&str> = page.seen_only.iter().map(String::as_str).collect();
            for chunk in seen.chunks(CHUNK) {
                let q = in_list(&tx, &head, &[&page.pass_id, &org, &connection], chunk);
                q.execute(&mut *tx).await?;
            }
        }
        if page.done && page.full_pass {
            outcome.swept = sweep(&mut tx, &org, &connection, kind, &page.pass_id).await?;
        }
        if kind == ObjectKind::Owner && page.done {
            remap_owners(&mut tx, &org, &connection).await?;
        }
        Ok(StagedPage {
            tx,
            org,
            connection,
            kind,
            outcome,
            read: page.read,
            skipped: page.skipped,
            pages: page.pages,
            checkpoint: page.checkpoint,
            checkpoint_pass_id: page.checkpoint_pass_id,
            run_id: page.run_id,
            quota: page.quota,
        })
    }

    /// Check the lease, store the staged page's checkpoint, the run's counters
    /// (`stats` gains the page's) and the quota use, and commit. If the lease is lost,
    /// nothing of the page is stored.
    pub async fn finish_page(
        &self,
        lease: &JobLease,
        staged: StagedPage,
        stats: &mut RunStats,
    ) -> Result<PageOutcome, StoreError> {
        let StagedPage {
            mut tx,
            org,
            connection,
            kind,
            outcome,
            read,
            skipped,
            pages,
            checkpoint,
            checkpoint_pass_id,
            run_id,
            quota,
        } = staged;
        let now = self.clock.now();
        fence(&mut tx, lease, now).await?;
        sqlx::query(
            "INSERT INTO crm_checkpoints (org_id, connection_id, kind, state, pass_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, connection_id, kind) DO UPDATE SET \
             state = excluded.state, pass_id = excluded.pass_id, updated_at = excluded.updated_at",
        )
        .bind(org.clone())
        .bind(connection.clone())
        .bind(kind.as_str())
        .bind(checkpoint)
        .bind(checkpoint_pass_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let k = stats.kind(kind.as_str());
        k.read += read;
        k.created += outcome.created;
        k.updated += outcome.updated;
        k.unchanged += outcome.unchanged;
        k.deleted += outcome.deleted + outcome.swept;
        k.skipped += skipped;
        k.pages += pages;
        write_run(&mut tx, &org, &run_id, stats).await?;
        add_quota(&mut tx, &org, &connection, &quota).await?;
        tx.commit().await?;
        Ok(outcome)
    }
}
