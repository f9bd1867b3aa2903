//! The SQL of mirror writes: multi-row upserts, association replacement, deletions,
//! the full-pass sweep, owner mapping, and the fencing check — each inside the caller's
//! transaction.

use domain::crm::{ObjectKind, Stage};

use super::mirror::PreparedRow;
use super::rows::{KEPT_IF_NULL, Val, bind_all, columns, table};
use crate::StoreError;
use crate::jobs::{JobLease, renew};

/// Rows per INSERT statement (binds stay far below SQLite's and PostgreSQL's limits).
pub(super) const CHUNK: usize = 500;

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

/// For SQLite, `$N` placeholders that appear once each in increasing order become
/// anonymous `?`s. SQLite looks a named parameter up by a linear scan, and sqlx looks
/// every parameter up by name, so a statement with thousands of `$N` binds cost time
/// quadratic in their number (measured: a fifth of a sync's CPU); `?`s bind in order
/// at no cost. PostgreSQL keeps `$N`.
pub(super) fn positional(conn: &sqlx::AnyConnection, sql: String) -> String {
    if conn.backend_name() != "SQLite" {
        return sql;
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            while chars.peek().is_some_and(char::is_ascii_digit) {
                chars.next();
            }
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

/// `$start+1, …, $start+n`.
pub(super) fn placeholders(start: usize, n: usize) -> String {
    (1..=n)
        .map(|i| format!("${}", start + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `{head} IN (…)` over `ids`, with `lead` bound first (the `$1…$n` that `head` uses)
/// and then every id. Planned afresh each time (not a cached generic plan): a plan made
/// while a mirror table was empty would scan it forever after (measured on PostgreSQL:
/// 50 ms a page and growing, against 1 ms with the unique index).
pub(super) fn in_list<'q>(
    conn: &sqlx::AnyConnection,
    head: &str,
    lead: &[&str],
    ids: &[&str],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    let marks = placeholders(lead.len(), ids.len());
    let sql = positional(conn, format!("{head} IN ({marks})"));
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).persistent(false);
    for value in lead.iter().chain(ids) {
        q = q.bind((*value).to_owned());
    }
    q
}

pub(super) async fn upsert(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    kind: ObjectKind,
    rows: Vec<PreparedRow>,
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
    // A newer version replaces the row; a NULL stage history keeps the stored one.
    let updates: Vec<String> = common[4..]
        .iter()
        .chain(own.iter())
        .map(|&c| match c {
            KEPT_IF_NULL => format!("{c} = COALESCE(excluded.{c}, {table}.{c})"),
            _ => format!("{c} = excluded.{c}"),
        })
        .collect();
    sql.push_str(&format!(
        " ON CONFLICT (org_id, connection_id, external_id) DO UPDATE SET {} WHERE {table}.updated_ms <= excluded.updated_ms",
        updates.join(", ")
    ));
    let mut vals = Vec::with_capacity(rows.len() * width);
    // The rows' values move into the statement: sealed payloads are not copied again.
    for p in rows {
        vals.extend([
            Val::Text(Some(p.id)),
            Val::Text(Some(org.to_owned())),
            Val::Text(Some(connection.to_owned())),
            Val::Text(Some(p.external_id)),
            Val::Int(Some(p.updated_ms)),
            Val::Text(Some(p.raw.token)),
            Val::Text(Some(p.raw.key_id)),
            Val::Int(Some(now)),
            Val::Text(Some(pass_id.to_owned())),
        ]);
        vals.extend(p.values);
        if kind == ObjectKind::Activity {
            let (token, key_id) = p.body.map(|b| (b.token, b.key_id)).unzip();
            vals.push(Val::Text(token));
            vals.push(Val::Text(key_id));
        }
    }
    let sql = positional(conn, sql);
    bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), vals)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn replace_deal_contacts(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    deals: &[&str],
    pairs: &[(String, String)],
) -> Result<(), StoreError> {
    delete_in(
        conn,
        org,
        connection,
        "crm_deal_contacts",
        "deal_ext",
        deals,
    )
    .await?;
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
                Val::Text(Some(deal.clone())),
                Val::Text(Some(contact.clone())),
            ]);
        }
        let sql = positional(conn, sql);
        bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), vals)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn replace_stages(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    pipelines: &[(String, Vec<Stage>)],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = pipelines.iter().map(|(p, _)| p.as_str()).collect();
    delete_in(conn, org, connection, "crm_stages", "pipeline_ext", &ids).await?;
    for (pipeline, stages) in pipelines {
        let mut seen = std::collections::HashSet::new();
        for s in stages
            .iter()
            .filter(|s| seen.insert(s.external_id.as_str()))
        {
            sqlx::query(
                "INSERT INTO crm_stages (org_id, connection_id, pipeline_ext, external_id, label, display_order, probability, is_closed, is_won) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(org.to_owned())
            .bind(connection.to_owned())
            .bind(pipeline.clone())
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
pub(super) async fn delete_in(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    connection: &str,
    table: &str,
    column: &str,
    ids: &[&str],
) -> Result<u64, StoreError> {
    let mut removed = 0;
    let head = format!("DELETE FROM {table} WHERE org_id = $1 AND connection_id = $2 AND {column}");
    for chunk in ids.chunks(CHUNK * 2) {
        let q = in_list(conn, &head, &[org, connection], chunk);
        removed += q.execute(&mut *conn).await?.rows_affected();
    }
    Ok(removed)
}

pub(super) async fn delete_records(
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
pub(super) async fn sweep(
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
