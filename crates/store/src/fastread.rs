//! SQLite's direct read path for the session check. sqlx runs each SQLite connection on a
//! thread of its own, so every query is a hand-off to that thread and back (two futex
//! wake-ups and context switches); on the session check of every authenticated request
//! that hand-off cost more than the query. Here the same query runs inline on the
//! calling thread through `rusqlite` (the same `libsqlite3-sys` and so the same SQLite
//! library as sqlx), on a few pooled read connections.
//!
//! It never waits: the connections have no busy timeout, so a read that would block
//! (a lock held during WAL recovery or an exclusive checkpoint) returns
//! [`Fallback`] at once and the caller runs the query through sqlx instead, as it does
//! on any other error. Each call is one autocommit statement whose read transaction
//! ends when the statement is reset, so it always sees every committed write — a
//! revocation through any instance included.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, OpenFlags, OptionalExtension};

/// Read connections kept open (more than the runtime's worker threads is useless: each
/// read runs to completion on the thread that asked).
const MAX_IDLE: usize = 8;

/// The direct path could not answer; run the query through sqlx.
#[derive(Debug)]
pub(crate) struct Fallback;

/// The session check's columns, as either path reads them.
#[derive(Clone, Debug)]
pub(crate) struct SessionRow {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub email: String,
    pub seat: String,
    pub team_id: Option<String>,
    pub is_admin: i64,
    pub session_id: String,
    pub refresh_jti: String,
    pub last_seen_at: i64,
    pub directory_version: i64,
}

/// Pooled direct read connections to one SQLite file.
pub(crate) struct FastReads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    hits: AtomicU64,
    fallbacks: AtomicU64,
}

impl FastReads {
    /// For a `sqlite://PATH[?…]` URL naming a file; `None` otherwise (in-memory
    /// databases are private to their connection).
    pub(crate) fn for_url(url: &str) -> Option<Self> {
        let rest = url
            .strip_prefix("sqlite://")
            .or(url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        // Percent-escapes would need sqlx's decoding to name the same file: leave those
        // URLs to sqlx.
        if path.is_empty()
            || path.contains(":memory:")
            || path.starts_with("file:")
            || path.contains('%')
        {
            return None;
        }
        Some(Self {
            path: PathBuf::from(path),
            idle: Mutex::new(Vec::new()),
            hits: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// Run `sql` (one row at most, the session check's columns) with the five binds of
    /// the session check.
    pub(crate) fn session_row(
        &self,
        sql: &str,
        binds: (&str, &str, &str, i64, i64),
    ) -> Result<Option<SessionRow>, Fallback> {
        let result = self.with_connection(|conn| {
            let mut stmt = conn.prepare_cached(sql)?;
            stmt.query_row(
                rusqlite::params![binds.0, binds.1, binds.2, binds.3, binds.4],
                |r| {
                    Ok(SessionRow {
                        id: r.get(0)?,
                        org_id: r.get(1)?,
                        name: r.get(2)?,
                        email: r.get(3)?,
                        seat: r.get(4)?,
                        team_id: r.get(5)?,
                        is_admin: r.get(6)?,
                        session_id: r.get(7)?,
                        refresh_jti: r.get(8)?,
                        last_seen_at: r.get(9)?,
                        directory_version: r.get(10)?,
                    })
                },
            )
            .optional()
        });
        let counter = if result.is_ok() {
            &self.hits
        } else {
            &self.fallbacks
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }

    /// Reads answered directly and reads handed to sqlx (for tests).
    pub(crate) fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.fallbacks.load(Ordering::Relaxed),
        )
    }

    fn with_connection<T>(
        &self,
        run: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, Fallback> {
        let pooled = match self.idle.lock() {
            Ok(mut idle) => idle.pop(),
            Err(_) => return Err(Fallback),
        };
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open().map_err(|e| {
                tracing::debug!(error = %e, "direct SQLite read connection failed to open");
                Fallback
            })?,
        };
        match run(&conn) {
            Ok(value) => {
                if let Ok(mut idle) = self.idle.lock()
                    && idle.len() < MAX_IDLE
                {
                    idle.push(conn);
                }
                Ok(value)
            }
            // A failed connection is dropped rather than pooled.
            Err(e) => {
                tracing::debug!(error = %e, "direct SQLite read fell back to sqlx");
                Err(Fallback)
            }
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // Never wait for a lock on the async thread: busy means fall back.
        conn.busy_timeout(std::time::Duration::ZERO)?;
        conn.execute_batch("PRAGMA query_only = ON;")?;
        conn.set_prepared_statement_cache_capacity(8);
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_get_a_direct_path() {
        assert!(FastReads::for_url("sqlite:///tmp/x.db?mode=rwc").is_some());
        assert!(FastReads::for_url("sqlite://x.db").is_some());
        assert!(FastReads::for_url("sqlite::memory:").is_none());
        assert!(FastReads::for_url("sqlite://:memory:").is_none());
        assert!(FastReads::for_url("sqlite:///tmp/a%20b.db").is_none());
        assert!(FastReads::for_url("postgres://localhost/db").is_none());
    }

    #[test]
    fn a_locked_database_falls_back_without_waiting() {
        let dir = std::env::temp_dir().join(format!("fastread-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("db.sqlite");
        let writer = Connection::open(&path).expect("open");
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; CREATE TABLE t (a TEXT, b TEXT, c TEXT, d INTEGER, e INTEGER); \
                 INSERT INTO t VALUES ('1','2','3',4,5);",
            )
            .expect("schema");
        let fast = FastReads::for_url(&format!("sqlite://{}", path.display())).expect("file");
        let sql = "SELECT a, a, a, a, a, NULL, d, b, c, d, e FROM t \
                   WHERE a = $1 AND b = $2 AND c = $3 AND d = $4 AND e = $5";
        let row = fast
            .session_row(sql, ("1", "2", "3", 4, 5))
            .expect("direct")
            .expect("row");
        assert_eq!((row.session_id.as_str(), row.directory_version), ("2", 5));
        assert!(
            fast.session_row(sql, ("1", "2", "3", 4, 6))
                .expect("direct")
                .is_none()
        );
        // A committed write is seen by the very next read on a pooled connection.
        writer.execute("UPDATE t SET e = 6", []).expect("update");
        assert!(
            fast.session_row(sql, ("1", "2", "3", 4, 6))
                .expect("direct")
                .is_some()
        );
        // An exclusive lock (no WAL sharing, so the pooled readers close first): the
        // direct read gives up at once.
        let _ = fast.idle.lock().map(|mut idle| idle.clear());
        writer
            .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
            .expect("lock");
        let started = std::time::Instant::now();
        assert!(fast.session_row(sql, ("1", "2", "3", 4, 6)).is_err());
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(fast.stats(), (3, 1));
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
