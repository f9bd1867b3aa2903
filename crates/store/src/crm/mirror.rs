//! The mirror a sync writes: one page of changes, applied in one transaction together
//! with the checkpoint that follows it, the run's counters and the day's quota use —
//! so a crash at any point resumes after the last stored page, and replaying a page
//! changes nothing (upserts keep the newest provider version).
//!
//! Work is split to keep the write lock short: reading which records exist and sealing
//! payloads happen before the write transaction opens (safe because the job lease makes
//! this worker the connection's only writer, and the lease is checked again inside the
//! transaction).

use std::collections::HashMap;

use domain::crm::{ObjectKind, Record, RecordData};
use sqlx::Row;
use vault::sealed::{Domain, SealContext};

use super::rows::{Val, bind_all, columns, table, values};
use super::runs::{QuotaUse, RunStats, add_quota, write_run};
use crate::jobs::{JobLease, renew};
use crate::{Store, StoreError};

/// Rows per INSERT statement (binds stay far below SQLite's and PostgreSQL's limits).
const CHUNK: usize = 200;

/// One page to apply.
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
}

/// What applying a page changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageOutcome {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    /// Removed at the end of a full pass because the CRM no longer has them.
    pub swept: u64,
}

/// A record ready to write: its row id and sealed payload.
struct Prepared<'a> {
    record: &'a Record,
    id: String,
    raw: vault::sealed::Sealed,
    body: Option<vault::sealed::Sealed>,
    existed: bool,
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

    /// Apply one page (see the module docs). `stats` gains this page's counts and is
    /// stored with it.
    pub async fn apply_page(
        &self,
        lease: &JobLease,
        page: PageWrite<'_>,
        stats: &mut RunStats,
    ) -> Result<PageOutcome, StoreError> {
        let (org, connection) = super::lease_target(lease)?;
        let kind = page.kind;
        let table = table(kind);
        let now = self.clock.now();

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
        let existing = self
            .existing(&org, &connection, table, latest.keys().copied())
            .await?;

        // Classify and seal outside the write transaction.
        let keys = self.keys();
        let ring = keys.ring(Domain::CrmRecords);
        let mut outcome = PageOutcome::default();
        let mut prepared = Vec::with_capacity(latest.len());
        let mut seen_only = Vec::new();
        for record in page.upserts.iter().filter(|r| {
            latest
                .get(r.external_id.as_str())
                .is_some_and(|l| std::ptr::eq(*l, **r))
        }) {
            let (id, existed) = match existing.get(record.external_id.as_str()) {
                Some((id, stored_ms)) => {
                    let newer = record.updated_at_ms > *stored_ms
                        || (page.full_pass && record.updated_at_ms == *stored_ms);
                    if !newer {
                        outcome.unchanged += 1;
                        seen_only.push(record.external_id.as_str());
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
            prepared.push(Prepared {
                record,
                id,
                raw,
                body,
                existed,
            });
        }

        let mut tx = self.org_tx(&org).await?;
        fence(&mut tx, lease, now).await?;
        for chunk in prepared.chunks(CHUNK) {
            upsert(&mut tx, &org, &connection, kind, chunk, page.pass_id, now).await?;
        }
        for p in &prepared {
            if p.existed {
                outcome.updated += 1;
            } else {
                outcome.created += 1;
            }
        }
        match kind {
            ObjectKind::Deal => {
                replace_deal_contacts(&mut tx, &org, &connection, &prepared).await?
            }
            ObjectKind::Pipeline => replace_stages(&mut tx, &org, &connection, &prepared).await?,
            _ => {}
        }
        if !page.deletes.is_empty() {
            outcome.deleted +=
                delete_records(&mut tx, &org, &connection, kind, &page.deletes).await?;
        }
        if page.full_pass && !seen_only.is_empty() {
            for chunk in seen_only.chunks(CHUNK) {
                let marks = placeholders(3, chunk.len());
                let sql = format!(
                    "UPDATE {table} SET seen_pass = $3 WHERE org_id = $1 AND connection_id = $2 AND external_id IN ({marks})"
                );
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(org.clone())
                    .bind(connection.clone())
                    .bind(page.pass_id.to_owned());
                for id in chunk {
                    q = q.bind((*id).to_owned());
                }
                q.execute(&mut *tx).await?;
            }
        }
        if page.done && page.full_pass {
            outcome.swept = sweep(&mut tx, &org, &connection, kind, page.pass_id).await?;
        }
        if kind == ObjectKind::Owner && page.done {
            remap_owners(&mut tx, &org, &connection).await?;
        }
        sqlx::query(
            "INSERT INTO crm_checkpoints (org_id, connection_id, kind, state, pass_id, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connection_id, kind) DO UPDATE SET \
             state = excluded.state, pass_id = excluded.pass_id, updated_at = excluded.updated_at",
        )
        .bind(org.clone())
        .bind(connection.clone())
        .bind(kind.as_str())
        .bind(page.checkpoint.to_owned())
        .bind(page.checkpoint_pass_id.to_owned())
        .bind(now)
        .execute(&mut *tx)
        .await?;

        let k = stats.kind(kind.as_str());
        k.read += page.upserts.len() as u64;
        k.created += outcome.created;
        k.updated += outcome.updated;
        k.unchanged += outcome.unchanged;
        k.deleted += outcome.deleted + outcome.swept;
        k.skipped += page.skipped;
        k.pages += 1;
        write_run(&mut tx, &org, page.run_id, stats).await?;
        add_quota(&mut tx, &org, &connection, &page.quota).await?;
        tx.commit().await?;
        Ok(outcome)
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
        for chunk in ids.chunks(500) {
            let marks = placeholders(2, chunk.len());
            let sql = format!(
                "SELECT external_id, id, updated_ms FROM {table} WHERE org_id = $1 AND connection_id = $2 AND external_id IN ({marks})"
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(org.to_owned())
                .bind(connection.to_owned());
            for id in chunk {
                q = q.bind((*id).to_owned());
            }
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

/// The fencing check: renew the lease inside this transaction or give up.
pub(crate) async fn fence(
    conn: &mut sqlx::AnyConnection,
    lease: &JobLease,
    now: i64,
) -> Result<(), StoreError> {
    if renew(conn, lease, now).await? {
        Ok(())
    } else {
        Err(StoreError::Conflict("lease_lost"))
    }
}

/// `$start+1, …, $start+n`.
fn placeholders(start: usize, n: usize) -> String {
    (1..=n)
        .map(|i| format!("${}", start + i))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn upsert(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    kind: ObjectKind,
    rows: &[Prepared<'_>],
    pass_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let table = table(kind);
    let own = columns(kind);
    let common = [
        "id",
        "org_id",
        "connection_id",
        "external_id",
        "updated_ms",
        "raw_sealed",
        "raw_key_id",
        "synced_at",
        "seen_pass",
    ];
    let width = common.len() + own.len();
    let mut sql = format!(
        "INSERT INTO {table} ({}, {}) VALUES ",
        common.join(", "),
        own.join(", ")
    );
    for r in 0..rows.len() {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        sql.push_str(&placeholders(r * width, width));
        sql.push(')');
    }
    let updates: Vec<String> = common[4..]
        .iter()
        .chain(own.iter())
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    sql.push_str(&format!(
        " ON CONFLICT (connection_id, external_id) DO UPDATE SET {} WHERE {table}.updated_ms <= excluded.updated_ms",
        updates.join(", ")
    ));
    let mut vals = Vec::with_capacity(rows.len() * width);
    for p in rows {
        vals.extend([
            Val::Text(Some(p.id.clone())),
            Val::Text(Some(org.to_owned())),
            Val::Text(Some(connection.to_owned())),
            Val::Text(Some(p.record.external_id.clone())),
            Val::Int(Some(p.record.updated_at_ms)),
            Val::Text(Some(p.raw.token.clone())),
            Val::Text(Some(p.raw.key_id.clone())),
            Val::Int(Some(now)),
            Val::Text(Some(pass_id.to_owned())),
        ]);
        vals.extend(values(p.record));
        if kind == ObjectKind::Activity {
            vals.push(Val::Text(p.body.as_ref().map(|b| b.token.clone())));
            vals.push(Val::Text(p.body.as_ref().map(|b| b.key_id.clone())));
        }
    }
    bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), vals)
        .execute(conn)
        .await?;
    Ok(())
}

async fn replace_deal_contacts(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    deals: &[Prepared<'_>],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = deals
        .iter()
        .map(|p| p.record.external_id.as_str())
        .collect();
    delete_in(conn, org, connection, "crm_deal_contacts", "deal_ext", &ids).await?;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for p in deals {
        if let RecordData::Deal(d) = &p.record.data {
            let mut contacts: Vec<&str> = d.contacts.iter().map(String::as_str).collect();
            contacts.sort_unstable();
            contacts.dedup();
            pairs.extend(
                contacts
                    .into_iter()
                    .map(|c| (p.record.external_id.as_str(), c)),
            );
        }
    }
    for chunk in pairs.chunks(CHUNK * 4) {
        let mut sql = String::from(
            "INSERT INTO crm_deal_contacts (org_id, connection_id, deal_ext, contact_ext) VALUES ",
        );
        let mut vals = Vec::with_capacity(chunk.len() * 4);
        for (i, (deal, contact)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("({})", placeholders(i * 4, 4)));
            vals.extend([
                Val::Text(Some(org.to_owned())),
                Val::Text(Some(connection.to_owned())),
                Val::Text(Some((*deal).to_owned())),
                Val::Text(Some((*contact).to_owned())),
            ]);
        }
        bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), vals)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn replace_stages(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    pipelines: &[Prepared<'_>],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = pipelines
        .iter()
        .map(|p| p.record.external_id.as_str())
        .collect();
    delete_in(conn, org, connection, "crm_stages", "pipeline_ext", &ids).await?;
    for p in pipelines {
        let RecordData::Pipeline(pipeline) = &p.record.data else {
            continue;
        };
        let mut seen = std::collections::HashSet::new();
        for s in pipeline
            .stages
            .iter()
            .filter(|s| seen.insert(s.external_id.as_str()))
        {
            sqlx::query(
                "INSERT INTO crm_stages (org_id, connection_id, pipeline_ext, external_id, label, display_order, probability, is_closed, is_won) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(org.to_owned())
            .bind(connection.to_owned())
            .bind(p.record.external_id.clone())
            .bind(s.external_id.clone())
            .bind(s.label.clone())
            .bind(s.display_order)
            .bind(s.probability.filter(|v| v.is_finite()))
            .bind(i64::from(s.is_closed))
            .bind(i64::from(s.is_won))
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// `DELETE FROM table WHERE … AND column IN (ids)`, chunked; rows removed.
async fn delete_in(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    table: &str,
    column: &str,
    ids: &[&str],
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for chunk in ids.chunks(CHUNK * 2) {
        let marks = placeholders(2, chunk.len());
        let sql = format!(
            "DELETE FROM {table} WHERE org_id = $1 AND connection_id = $2 AND {column} IN ({marks})"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.to_owned())
            .bind(connection.to_owned());
        for id in chunk {
            q = q.bind((*id).to_owned());
        }
        removed += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(removed)
}

async fn delete_records(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    kind: ObjectKind,
    ids: &[&str],
) -> Result<u64, StoreError> {
    let removed = delete_in(conn, org, connection, table(kind), "external_id", ids).await?;
    match kind {
        ObjectKind::Deal => {
            delete_in(conn, org, connection, "crm_deal_contacts", "deal_ext", ids).await?;
        }
        ObjectKind::Pipeline => {
            delete_in(conn, org, connection, "crm_stages", "pipeline_ext", ids).await?;
        }
        _ => {}
    }
    Ok(removed)
}

/// After a complete full pass: delete what it did not see (gone from the CRM).
async fn sweep(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    kind: ObjectKind,
    pass_id: &str,
) -> Result<u64, StoreError> {
    let table = table(kind);
    let sql =
        format!("DELETE FROM {table} WHERE org_id = $1 AND connection_id = $2 AND seen_pass <> $3");
    let removed = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org.to_owned())
        .bind(connection.to_owned())
        .bind(pass_id.to_owned())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    let orphans = match kind {
        ObjectKind::Deal => Some(("crm_deal_contacts", "deal_ext", "crm_deals")),
        ObjectKind::Pipeline => Some(("crm_stages", "pipeline_ext", "crm_pipelines")),
        _ => None,
    };
    if let Some((child, column, parent)) = orphans {
        let sql = format!(
            "DELETE FROM {child} WHERE org_id = $1 AND connection_id = $2 AND {column} NOT IN \
             (SELECT external_id FROM {parent} WHERE org_id = $1 AND connection_id = $2)"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.to_owned())
            .bind(connection.to_owned())
            .execute(&mut *conn)
            .await?;
    }
    Ok(removed)
}

/// Recompute which Pitchside user each owner of a connection is: the manual mapping
/// when set, else the active user with the owner's email.
pub(crate) async fn remap_owners(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE crm_owners SET user_id = CASE \
           WHEN user_override = 'none' THEN NULL \
           WHEN user_override IS NOT NULL THEN user_override \
           ELSE (SELECT u.id FROM users u WHERE u.org_id = crm_owners.org_id \
                 AND LOWER(u.email) = crm_owners.email AND u.disabled_at IS NULL ORDER BY u.id LIMIT 1) END \
         WHERE org_id = $1 AND connection_id = $2",
    )
    .bind(org.to_owned())
    .bind(connection.to_owned())
    .execute(conn)
    .await?;
    Ok(())
}

/// Remove everything synced through a connection.
pub(crate) async fn delete_connection_data(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
) -> Result<(), StoreError> {
    for table in [
        "crm_deal_contacts",
        "crm_stages",
        "crm_activities",
        "crm_deals",
        "crm_contacts",
        "crm_companies",
        "crm_pipelines",
        "crm_owners",
        "crm_checkpoints",
        "crm_quota",
        "crm_sync_runs",
    ] {
        let sql = format!("DELETE FROM {table} WHERE org_id = $1 AND connection_id = $2");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org.to_owned())
            .bind(connection.to_owned())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
