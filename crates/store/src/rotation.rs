//! Key rotation bookkeeping for sealed columns: how many values each key still
//! protects (`pitchside keys status`), and re-encryption under the primary key in
//! batches (`pitchside keys reencrypt DOMAIN`).
//!
//! Re-encryption is safe to run while the application serves traffic and on several
//! instances at once: each row is rewritten only if it still holds the token that was
//! read (an optimistic check), so a concurrent edit or another re-encrypting instance
//! wins and the row is simply looked at again on the next pass. It is resumable: the
//! work left is exactly the rows whose key id is not the primary's.

use std::collections::BTreeMap;

use sqlx::Row;
use vault::sealed::{Domain, SealContext};

use crate::{SEALED_COLUMNS, Store, StoreError};

/// What one re-encryption run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReencryptReport {
    /// Values now sealed under the primary key by this run.
    pub reencrypted: u64,
    /// Rows skipped because they changed under us (picked up by a later pass).
    pub raced: u64,
    /// Values that did not open with the configured keys (left untouched).
    pub unreadable: u64,
}

impl Store {
    /// For each sealed column of `domain`: how many values each key id protects.
    pub async fn sealed_key_counts(
        &self,
        domain: Domain,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut counts = BTreeMap::new();
        for org in self.all_org_ids().await? {
            let mut conn = self.org_read(&org).await?;
            for (table, column, d) in SEALED_COLUMNS {
                if *d != domain {
                    continue;
                }
                let key_column = key_column(column);
                let sql = format!(
                    "SELECT {key_column} AS key_id, COUNT(*) AS n FROM {table} WHERE org_id = $1 GROUP BY {key_column}"
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(org.clone())
                    .fetch_all(&mut *conn)
                    .await?;
                for row in rows {
                    let key: String = row.try_get("key_id")?;
                    let n: i64 = row.try_get("n")?;
                    *counts.entry(key).or_insert(0) += n as u64;
                }
            }
            conn.commit().await?;
        }
        Ok(counts)
    }

    /// Re-seal every value of `domain` not yet under the primary key, `batch` rows per
    /// transaction, until none is left.
    pub async fn reencrypt(
        &self,
        domain: Domain,
        batch: u32,
    ) -> Result<ReencryptReport, StoreError> {
        let keys = self.keys();
        let ring = keys.ring(domain);
        let primary = ring
            .primary_id()
            .ok_or(StoreError::Config(format!("no keys for {domain}")))?
            .to_owned();
        let mut report = ReencryptReport::default();
        for org in self.all_org_ids().await? {
            for (table, column, d) in SEALED_COLUMNS {
                if *d != domain {
                    continue;
                }
                let key_column = key_column(column);
                // Keyset pagination: each batch starts after the last id seen, so a pass
                // reads every row once and rows that fail to open are simply passed by.
                let mut after = String::new();
                loop {
                    let mut tx = self.org_tx(&org).await?;
                    let sql = format!(
                        "SELECT id, {column} AS token FROM {table} \
                         WHERE org_id = $1 AND {key_column} <> $2 AND id > $3 ORDER BY id LIMIT $4"
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(org.clone())
                        .bind(primary.clone())
                        .bind(after.clone())
                        .bind(i64::from(batch))
                        .fetch_all(&mut *tx)
                        .await?;
                    for row in &rows {
                        let id: String = row.try_get("id")?;
                        after.clone_from(&id);
                        let token: String = row.try_get("token")?;
                        let context = SealContext {
                            org: &org,
                            table,
                            column: column.trim_end_matches("_sealed"),
                            row: &id,
                        };
                        let Ok(sealed) = ring.reseal(context, &token) else {
                            tracing::error!(table, row = %id, "a sealed value did not open during re-encryption");
                            report.unreadable += 1;
                            continue;
                        };
                        // Optimistic: a token changed since it was read (a concurrent edit
                        // or another instance re-encrypting) is left alone, counted as raced.
                        let sql = format!(
                            "UPDATE {table} SET {column} = $1, {key_column} = $2 WHERE org_id = $3 AND id = $4 AND {column} = $5"
                        );
                        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                            .bind(sealed.token)
                            .bind(sealed.key_id)
                            .bind(org.clone())
                            .bind(id)
                            .bind(token)
                            .execute(&mut *tx)
                            .await?;
                        if done.rows_affected() == 1 {
                            report.reencrypted += 1;
                        } else {
                            report.raced += 1;
                        }
                    }
                    tx.commit().await?;
                    if rows.len() < batch as usize {
                        break;
                    }
                }
            }
        }
        Ok(report)
    }

    /// Every organization id (through the global login index), for operator jobs that
    /// walk all tenants one at a time.
    async fn all_org_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT DISTINCT org_id FROM user_logins ORDER BY org_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

/// `body_sealed` → `body_key_id`.
fn key_column(column: &str) -> String {
    format!("{}_key_id", column.trim_end_matches("_sealed"))
}
