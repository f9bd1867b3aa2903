//! The audit log: who did what, when and from where, as one hash chain per
//! organization. Entries are appended inside the transaction of the action they
//! record, so an action and its entry commit or roll back together.
//!
//! Each entry stores `hash = SHA-256(prev_hash ‖ "\n" ‖ canonical entry)`, hex. The
//! chain's head (last seq and hash) lives in `audit_heads`, whose row also serializes
//! appends: the first statement of an append is an `UPDATE … RETURNING` on it, which
//! holds the row lock (PostgreSQL) or runs under the write lock (SQLite) until commit.
//! Retention deletes only a prefix of a chain and records the last deleted entry as
//! the chain's anchor, so what remains still verifies.

use domain::UserId;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Dialect, Scope, Store, StoreError};

/// The chain of events that belong to no organization (operator and system events,
/// logins with unknown emails).
pub const SYSTEM_CHAIN: &str = "00000000-0000-0000-0000-000000000000";

/// The hash a chain starts from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How long entries are kept: 730 days.
pub const RETENTION_SECS: i64 = 730 * 86_400;

/// Where a request came from. Carried by a [`Scope`] (set by the web layer) or passed
/// to the unauthenticated paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl Origin {
    pub fn new(ip: &str, user_agent: &str, request_id: Option<&str>) -> Self {
        let keep = |s: &str, max: usize| {
            let s: String = s.chars().take(max).collect();
            (!s.is_empty()).then_some(s)
        };
        Self {
            ip: keep(ip, 64),
            user_agent: keep(user_agent, 300),
            request_id: request_id.and_then(|r| keep(r, 64)),
        }
    }
}

/// Who acted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A signed-in (or signing-in) person.
    User(UserId),
    /// Someone whose identity is not established (a failed login).
    Anonymous,
    /// The operator, through the `pitchside` command line.
    Operator,
    /// Pitchside itself (scheduled jobs).
    System,
}

impl Actor {
    fn kind(self) -> &'static str {
        match self {
            Actor::User(_) => "user",
            Actor::Anonymous => "anonymous",
            Actor::Operator => "operator",
            Actor::System => "system",
        }
    }

    fn id(self) -> Option<String> {
        match self {
            Actor::User(id) => Some(id.to_string()),
            _ => None,
        }
    }
}

/// One event to append.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub actor: Actor,
    pub action: &'static str,
    pub target: Option<(&'static str, String)>,
    pub detail: Value,
}

impl Event {
    pub(crate) fn new(actor: Actor, action: &'static str) -> Self {
        Self {
            actor,
            action,
            target: None,
            detail: json!({}),
        }
    }

    pub(crate) fn by(scope: &Scope, action: &'static str) -> Self {
        Self::new(Actor::User(scope.user_id), action)
    }

    pub(crate) fn target(mut self, kind: &'static str, id: impl ToString) -> Self {
        self.target = Some((kind, id.to_string()));
        self
    }

    pub(crate) fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// A stored entry.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub org_id: String,
    pub seq: i64,
    pub occurred_at: i64,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    /// A JSON object.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    const COLUMNS: &'static str = "org_id, seq, occurred_at, actor_kind, actor_id, ip, user_agent, request_id, \
         action, target_type, target_id, detail, prev_hash, hash";

    fn from_row(row: &AnyRow) -> Result<Self, StoreError> {
        Ok(Self {
            org_id: row.try_get("org_id")?,
            seq: row.try_get("seq")?,
            occurred_at: row.try_get("occurred_at")?,
            actor_kind: row.try_get("actor_kind")?,
            actor_id: row.try_get("actor_id")?,
            ip: row.try_get("ip")?,
            user_agent: row.try_get("user_agent")?,
            request_id: row.try_get("request_id")?,
            action: row.try_get("action")?,
            target_type: row.try_get("target_type")?,
            target_id: row.try_get("target_id")?,
            detail: row.try_get("detail")?,
            prev_hash: row.try_get("prev_hash")?,
            hash: row.try_get("hash")?,
        })
    }

    /// The hash this entry must carry, given its predecessor's hash.
    pub fn expected_hash(&self, prev_hash: &str) -> String {
        let canonical = serde_json::to_string(&(
            &self.org_id,
            self.seq,
            self.occurred_at,
            &self.actor_kind,
            &self.actor_id,
            &self.ip,
            &self.user_agent,
            &self.request_id,
            &self.action,
            &self.target_type,
            &self.target_id,
            &self.detail,
        ))
        .unwrap_or_default();
        let mut h = Sha256::new();
        h.update(prev_hash.as_bytes());
        h.update(b"\n");
        h.update(canonical.as_bytes());
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Append `event` to `org`'s chain inside the caller's transaction.
pub(crate) async fn append(
    conn: &mut sqlx::AnyConnection,
    org: &str,
    now: i64,
    origin: &Origin,
    event: Event,
) -> Result<(), StoreError> {
    let head =
        sqlx::query("UPDATE audit_heads SET seq = seq + 1 WHERE org_id = $1 RETURNING seq, hash")
            .bind(org.to_owned())
            .fetch_optional(&mut *conn)
            .await?;
    let (seq, prev_hash): (i64, String) = match head {
        Some(row) => (row.try_get("seq")?, row.try_get("hash")?),
        None => {
            sqlx::query(
                "INSERT INTO audit_heads (org_id, seq, hash, anchor_seq, anchor_hash) \
                 VALUES ($1, 1, $2, 0, $2)",
            )
            .bind(org.to_owned())
            .bind(GENESIS)
            .execute(&mut *conn)
            .await?;
            (1, GENESIS.to_owned())
        }
    };
    let (target_type, target_id) = match event.target {
        Some((kind, id)) => (Some(kind.to_owned()), Some(id)),
        None => (None, None),
    };
    let mut entry = AuditEntry {
        org_id: org.to_owned(),
        seq,
        occurred_at: now,
        actor_kind: event.actor.kind().to_owned(),
        actor_id: event.actor.id(),
        ip: origin.ip.clone(),
        user_agent: origin.user_agent.clone(),
        request_id: origin.request_id.clone(),
        action: event.action.to_owned(),
        target_type,
        target_id,
        detail: event.detail.to_string(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.expected_hash(&entry.prev_hash);
    sqlx::query(
        "INSERT INTO audit_events (org_id, seq, occurred_at, actor_kind, actor_id, ip, user_agent, request_id, \
         action, target_type, target_id, detail, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(entry.org_id)
    .bind(entry.seq)
    .bind(entry.occurred_at)
    .bind(entry.actor_kind)
    .bind(entry.actor_id)
    .bind(entry.ip)
    .bind(entry.user_agent)
    .bind(entry.request_id)
    .bind(entry.action)
    .bind(entry.target_type)
    .bind(entry.target_id)
    .bind(entry.detail)
    .bind(entry.prev_hash)
    .bind(entry.hash.clone())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_heads SET hash = $2 WHERE org_id = $1")
        .bind(org.to_owned())
        .bind(entry.hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What to show of an organization's audit log.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Actions starting with this (e.g. `auth.` or `auth.login.failed`).
    pub action_prefix: Option<String>,
    /// Only events by this user.
    pub actor_id: Option<UserId>,
    /// Epoch seconds, inclusive.
    pub since: Option<i64>,
    /// Epoch seconds, exclusive.
    pub until: Option<i64>,
    /// Entries with a smaller seq than this (paging, newest first).
    pub before_seq: Option<i64>,
}

/// A page of entries, newest first.
#[derive(Clone, Debug)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `before_seq` for the next page.
    pub next_before_seq: Option<i64>,
}

/// Where a chain breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainBreak {
    pub org_id: String,
    /// The seq of the first entry that does not verify (or the expected seq of a
    /// missing one).
    pub seq: i64,
    pub reason: String,
}

/// The outcome of verifying every chain.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub chains: u64,
    pub entries: u64,
    pub breaks: Vec<ChainBreak>,
}

/// What one retention run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub chains: u64,
    pub pruned: u64,
}

const VERIFY_BATCH: i64 = 1000;

impl Store {
    /// Browse the viewer's organization's audit log (executives and admins only; for
    /// anyone else the log does not exist).
    pub async fn audit_events(
        &self,
        scope: &Scope,
        filter: &AuditFilter,
        limit: u32,
    ) -> Result<AuditPage, StoreError> {
        if !scope.sees_everyone() {
            return Err(StoreError::NotFound);
        }
        let limit = i64::from(limit.clamp(1, 1000));
        let sql = format!(
            "SELECT {} FROM audit_events WHERE org_id = $1 \
             AND ($2 = '' OR action LIKE $3) AND ($4 = '' OR actor_id = $4) \
             AND occurred_at >= $5 AND occurred_at < $6 AND seq < $7 \
             ORDER BY seq DESC LIMIT $8",
            AuditEntry::COLUMNS
        );
        let prefix = filter.action_prefix.clone().unwrap_or_default();
        let like = format!(
            "{}%",
            prefix
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
                .collect::<String>()
        );
        let mut conn = self.org_read(&scope.org()).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .bind(prefix)
            .bind(like)
            .bind(filter.actor_id.map(|a| a.to_string()).unwrap_or_default())
            .bind(filter.since.unwrap_or(i64::MIN))
            .bind(filter.until.unwrap_or(i64::MAX))
            .bind(filter.before_seq.unwrap_or(i64::MAX))
            .bind(limit + 1)
            .fetch_all(&mut *conn)
            .await?;
        conn.commit().await?;
        let mut items = rows
            .iter()
            .map(AuditEntry::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_before_seq = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|e| e.seq)
        } else {
            None
        };
        Ok(AuditPage {
            items,
            next_before_seq,
        })
    }

    /// Record that the viewer exported the audit log (the export is itself audited).
    pub async fn audit_export_recorded(
        &self,
        scope: &Scope,
        rows: usize,
    ) -> Result<(), StoreError> {
        let mut tx = self.org_tx(&scope.org()).await?;
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "audit.exported").detail(json!({ "rows": rows })),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Append an event by the scope's user, from the scope's origin.
    pub(crate) async fn audit(
        &self,
        conn: &mut sqlx::AnyConnection,
        scope: &Scope,
        event: Event,
    ) -> Result<(), StoreError> {
        append(conn, &scope.org(), self.clock.now(), &scope.origin, event).await
    }

    /// Append one event in a transaction of its own (operator and system events, and
    /// events that record something that wrote nothing else).
    pub(crate) async fn audit_alone(
        &self,
        org: &str,
        origin: &Origin,
        event: Event,
    ) -> Result<(), StoreError> {
        let mut tx = self.org_tx(org).await?;
        append(&mut tx, org, self.clock.now(), origin, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Operator command-line events (`pitchside admin`, `keys`): in the organization's
    /// chain when there is one, else in the system chain.
    pub async fn audit_operator(
        &self,
        org: Option<&str>,
        action: &'static str,
        detail: Value,
    ) -> Result<(), StoreError> {
        self.audit_alone(
            org.unwrap_or(SYSTEM_CHAIN),
            &Origin::default(),
            Event::new(Actor::Operator, action).detail(detail),
        )
        .await
    }

    /// Every chain's organization id (the system chain included).
    async fn audit_chains(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT org_id FROM audit_heads ORDER BY org_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Walk every chain (or one organization's) and report where each breaks: an
    /// edited entry (its hash no longer matches), a deleted or inserted one (a gap, or
    /// a predecessor hash that does not match), reordered ones (both), or entries
    /// removed from the end (the head names a later entry).
    pub async fn audit_verify(&self, only_org: Option<&str>) -> Result<VerifyReport, StoreError> {
        let mut report = VerifyReport::default();
        for org in self.audit_chains().await? {
            if only_org.is_some_and(|o| o != org) {
                continue;
            }
            report.chains += 1;
            let mut conn = self.org_read(&org).await?;
            let head = sqlx::query(
                "SELECT seq, hash, anchor_seq, anchor_hash FROM audit_heads WHERE org_id = $1",
            )
            .bind(org.clone())
            .fetch_one(&mut *conn)
            .await?;
            let head_seq: i64 = head.try_get("seq")?;
            let head_hash: String = head.try_get("hash")?;
            let mut expected_seq: i64 = head.try_get::<i64, _>("anchor_seq")? + 1;
            let mut prev: String = head.try_get("anchor_hash")?;
            let mut broken = None;
            'walk: loop {
                let sql = format!(
                    "SELECT {} FROM audit_events WHERE org_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                    AuditEntry::COLUMNS
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(org.clone())
                    .bind(expected_seq)
                    .bind(VERIFY_BATCH)
                    .fetch_all(&mut *conn)
                    .await?;
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    let entry = AuditEntry::from_row(row)?;
                    report.entries += 1;
                    let fault = if entry.seq != expected_seq {
                        Some((
                            expected_seq,
                            format!(
                                "entry {expected_seq} is missing (the next is {})",
                                entry.seq
                            ),
                        ))
                    } else if entry.prev_hash != prev {
                        Some((
                            entry.seq,
                            format!(
                                "entry {} does not follow entry {} (inserted, deleted or reordered)",
                                entry.seq,
                                entry.seq - 1
                            ),
                        ))
                    } else if entry.org_id != org || entry.expected_hash(&prev) != entry.hash {
                        Some((
                            entry.seq,
                            format!("entry {} was altered after it was written", entry.seq),
                        ))
                    } else {
                        None
                    };
                    if let Some((seq, reason)) = fault {
                        broken = Some(ChainBreak {
                            org_id: org.clone(),
                            seq,
                            reason,
                        });
                        break 'walk;
                    }
                    prev = entry.hash;
                    expected_seq += 1;
                }
            }
            conn.commit().await?;
            if broken.is_none() && (expected_seq - 1 != head_seq || prev != head_hash) {
                broken = Some(ChainBreak {
                    org_id: org.clone(),
                    seq: expected_seq,
                    reason: format!(
                        "the chain ends at entry {} but its head is entry {head_seq} (entries removed from the end)",
                        expected_seq - 1
                    ),
                });
            }
            report.breaks.extend(broken);
        }
        Ok(report)
    }

    /// Retention: delete every chain's entries older than 730 days, as a prefix, and
    /// anchor the chain at the last deleted entry. Each prune is itself an event.
    pub async fn audit_prune(&self) -> Result<PruneReport, StoreError> {
        let cutoff = self.clock.now() - RETENTION_SECS;
        let mut report = PruneReport::default();
        for org in self.audit_chains().await? {
            let mut tx = self.org_tx(&org).await?;
            // The first entry young enough to keep; everything before it goes.
            let keep_from: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(seq) FROM audit_events WHERE org_id = $1 AND occurred_at >= $2",
            )
            .bind(org.clone())
            .bind(cutoff)
            .fetch_one(&mut *tx)
            .await?;
            let last = sqlx::query(
                "SELECT seq, hash FROM audit_events WHERE org_id = $1 AND seq < $2 \
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(org.clone())
            .bind(keep_from.unwrap_or(i64::MAX))
            .fetch_optional(&mut *tx)
            .await?;
            let Some(last) = last else {
                tx.rollback().await?;
                continue;
            };
            let through: i64 = last.try_get("seq")?;
            let anchor_hash: String = last.try_get("hash")?;
            let removed: i64 = match self.dialect {
                Dialect::Postgres => {
                    sqlx::query_scalar("SELECT audit_prune($1, $2)")
                        .bind(org.clone())
                        .bind(through)
                        .fetch_one(&mut *tx)
                        .await?
                }
                Dialect::Sqlite => {
                    sqlx::query("INSERT INTO audit_prune_gate (opened) VALUES (1)")
                        .execute(&mut *tx)
                        .await?;
                    let done =
                        sqlx::query("DELETE FROM audit_events WHERE org_id = $1 AND seq <= $2")
                            .bind(org.clone())
                            .bind(through)
                            .execute(&mut *tx)
                            .await?;
                    sqlx::query("DELETE FROM audit_prune_gate")
                        .execute(&mut *tx)
                        .await?;
                    done.rows_affected() as i64
                }
            };
            sqlx::query(
                "UPDATE audit_heads SET anchor_seq = $2, anchor_hash = $3 WHERE org_id = $1",
            )
            .bind(org.clone())
            .bind(through)
            .bind(anchor_hash)
            .execute(&mut *tx)
            .await?;
            append(
                &mut tx,
                &org,
                self.clock.now(),
                &Origin::default(),
                Event::new(Actor::System, "audit.pruned").detail(json!({
                    "removed": removed,
                    "anchor_seq": through,
                    "older_than": cutoff,
                })),
            )
            .await?;
            tx.commit().await?;
            report.chains += 1;
            report.pruned += removed as u64;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> AuditEntry {
        AuditEntry {
            org_id: SYSTEM_CHAIN.into(),
            seq: 1,
            occurred_at: 1_700_000_000,
            actor_kind: "operator".into(),
            actor_id: None,
            ip: Some("127.0.0.1".into()),
            user_agent: None,
            request_id: None,
            action: "keys.generated".into(),
            target_type: None,
            target_id: None,
            detail: "{}".into(),
            prev_hash: GENESIS.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn the_hash_covers_every_field_and_the_predecessor() {
        let base = entry();
        let h = base.expected_hash(GENESIS);
        assert_eq!(h.len(), 64);
        assert_eq!(h, base.expected_hash(GENESIS), "deterministic");
        assert_ne!(h, base.expected_hash(&"1".repeat(64)));
        type Change = Box<dyn Fn(&mut AuditEntry)>;
        let variants: Vec<Change> = vec![
            Box::new(|e| e.seq = 2),
            Box::new(|e| e.occurred_at += 1),
            Box::new(|e| e.actor_kind = "user".into()),
            Box::new(|e| e.actor_id = Some("x".into())),
            Box::new(|e| e.ip = None),
            Box::new(|e| e.user_agent = Some("curl".into())),
            Box::new(|e| e.request_id = Some("r".into())),
            Box::new(|e| e.action = "keys.rotated".into()),
            Box::new(|e| e.target_type = Some("user".into())),
            Box::new(|e| e.target_id = Some("u".into())),
            Box::new(|e| e.detail = "{\"a\":1}".into()),
            Box::new(|e| e.org_id = "other".into()),
        ];
        for change in variants {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(e.expected_hash(GENESIS), h);
        }
    }

    #[test]
    fn origin_drops_empty_values_and_bounds_lengths() {
        let o = Origin::new("", &"a".repeat(1000), Some("req-1"));
        assert_eq!(o.ip, None);
        assert_eq!(o.user_agent.as_deref().map(str::len), Some(300));
        assert_eq!(o.request_id.as_deref(), Some("req-1"));
    }
}
