//! Pitchside's database. One schema on SQLite (default) and PostgreSQL, reached through
//! sqlx's `Any` driver with per-dialect migrations.
//!
//! Tenancy by construction: every query on a tenant table goes through a [`Scope`],
//! which only [`Store::authenticate`] can make (from a verified, unrevoked session).
//! Each scoped operation runs in a transaction that, on PostgreSQL, first sets
//! `app.org_id`, so row-level security backs the `WHERE org_id = …` of every query.

/// The visibility predicate over users (alias `u`), as a macro so constant queries can
/// `concat!` it: `$1` org, `$2` viewer, `$3` sees-everyone flag, `$4` manager flag, and
/// the `managed` CTE in scope. A manager sees themself, the members of the teams they
/// manage, and the managers of those teams; a rep sees only themself.
#[macro_export]
#[doc(hidden)]
macro_rules! user_visible {
    () => {
        "u.org_id = $1 AND ( $3 = 1 OR u.id = $2 OR ( $4 = 1 AND ( \
          u.team_id IN (SELECT id FROM managed) \
          OR u.id IN (SELECT tm.manager_id FROM teams tm WHERE tm.org_id = $1 AND tm.id IN (SELECT id FROM managed)) ) ) )"
    };
}

mod audit;
mod auth;
mod clock;
pub mod crm;
mod directory;
mod error;
mod fastread;
mod invitations;
mod jobs;
mod limits;
mod models;
mod notes;
mod page;
mod rotation;
mod scope;
mod session;
mod session_batch;
mod teams;
mod users;

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

pub use audit::{
    AuditEntry, AuditFilter, AuditPage, ChainBreak, Origin, PruneReport, RETENTION_SECS,
    SYSTEM_CHAIN, VerifyReport,
};
pub use auth::{LoginCandidate, NewSignup, SESSION_IDLE_SECS, SessionGrant};
pub use clock::Clock;
pub use directory::{MAX_CACHED_ORGS, MAX_CACHED_USERS, MAX_DIRECTORY_USERS, Member};
pub use error::StoreError;
pub use invitations::{AcceptInvitation, NewInvitation};
pub use jobs::{CRM_SYNC, JobLease};
pub use models::{Invitation, Org, SessionInfo, Team, User};
pub use notes::{NewNote, Note, NoteVisibility, SEALED_COLUMNS};
pub use page::{Cursor, Page, PageRequest};
pub use rotation::ReencryptReport;
pub use scope::Scope;
pub use session_batch::SessionCheckStats;
pub use teams::{NewTeam, TeamPatch};
pub use users::UserPatch;

/// The name of the non-owner PostgreSQL role the application acts as.
pub const APP_ROLE: &str = "pitchside_app";

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a store talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Dialect::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Dialect::Postgres)
        } else {
            Err(StoreError::Config(
                "database URL must start with sqlite:// or postgres://".into(),
            ))
        }
    }
}

/// Connection settings. `Debug` hides the URL, which may hold a password.
#[derive(Clone)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    /// On PostgreSQL, the role each pooled connection switches to (`SET ROLE`), so the
    /// application is never the table owner or a superuser. `None` keeps the login role
    /// (for deployments that log in as a dedicated non-owner role already).
    pub pg_role: Option<String>,
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("url", &"<redacted>")
            .field("max_connections", &self.max_connections)
            .field("pg_role", &self.pg_role)
            .finish()
    }
}

impl StoreOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
            pg_role: Some(APP_ROLE.to_owned()),
        }
    }
}

/// The database handle shared by the whole application.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// The key rings in use, shared by every clone and swappable while serving
    /// ([`Store::set_keys`], on reload).
    keys: std::sync::Arc<std::sync::RwLock<std::sync::Arc<vault::sealed::Keys>>>,
    dialect: Dialect,
    url: String,
    clock: Clock,
    /// Membership directories cached per organization, shared by every clone.
    directories: std::sync::Arc<directory::DirectoryCache>,
    /// SQLite only: direct reads for the session check (see `fastread.rs`).
    fast: Option<std::sync::Arc<fastread::FastReads>>,
    /// PostgreSQL only: concurrent session checks share round trips (see
    /// `session_batch.rs`).
    sessions: std::sync::Arc<session_batch::SessionBatcher>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Prepare the pool (creating a SQLite file on first use). Does not migrate and
    /// does not connect yet: call [`Store::migrate`] or [`Store::ping`].
    pub async fn connect(options: StoreOptions, clock: Clock) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        if let Some(role) = &options.pg_role
            && (role.is_empty() || !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(StoreError::Config(format!("invalid role name {role:?}")));
        }
        let dialect = Dialect::from_url(&options.url)?;
        let url = sqlite_url_with_create(&options.url, dialect);
        let connect = AnyConnectOptions::from_str(&url)?;
        let role = options.pg_role.clone();
        // Each SQLite connection is a thread of its own; on small machines a few of
        // them serve reads best (WAL lets them run side by side; writes serialize).
        let max_connections = match dialect {
            Dialect::Sqlite => options.max_connections.min(4),
            Dialect::Postgres => options.max_connections,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            // A ping before every acquire is a round trip per query (to SQLite's
            // connection thread or to the server); a dead connection surfaces as an
            // error on first use instead, and the pool replaces it.
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                let role = role.clone();
                Box::pin(async move {
                    match dialect {
                        Dialect::Sqlite => {
                            conn.execute(
                                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 10000; \
                                 PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; \
                                 PRAGMA cache_size = -16384; PRAGMA wal_autocheckpoint = 4000;",
                            )
                            .await?;
                        }
                        Dialect::Postgres => {
                            if let Some(role) = role {
                                // A role name cannot be a bind parameter; it is validated
                                // to be a plain identifier before it gets here.
                                let sql = format!("SET ROLE \"{role}\"");
                                conn.execute(sqlx::AssertSqlSafe(sql)).await?;
                            }
                        }
                    }
                    Ok(())
                })
            })
            // Lazy: on PostgreSQL the application role only exists once migrations
            // have run, and `migrate` uses its own connection as the owner.
            .connect_lazy_with(connect);
        let fast = match dialect {
            Dialect::Sqlite => fastread::FastReads::for_url(&url).map(std::sync::Arc::new),
            Dialect::Postgres => None,
        };
        Ok(Self {
            pool,
            keys: Default::default(),
            dialect,
            url,
            clock,
            directories: Default::default(),
            fast,
            sessions: Default::default(),
        })
    }

    /// Apply pending migrations, as the login role (the owner), not the app role.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = AnyConnection::connect(&self.url).await?;
        match self.dialect {
            Dialect::Sqlite => {
                // A new database gets 16 KiB pages: mirrored CRM rows carry sealed
                // payloads of 1-2 KiB, and bigger pages cut the b-tree and WAL work per
                // row (measured: full sync 15.7k -> 19.4k records/s). Only an empty
                // database can change its page size; an existing one keeps its own.
                conn.execute("PRAGMA page_size = 16384").await?;
                SQLITE_MIGRATIONS.run(&mut conn).await?
            }
            Dialect::Postgres => POSTGRES_MIGRATIONS.run(&mut conn).await?,
        }
        conn.close().await?;
        Ok(())
    }

    /// Use these key rings for sealed fields.
    pub fn with_keys(self, keys: std::sync::Arc<vault::sealed::Keys>) -> Self {
        self.set_keys(keys);
        self
    }

    /// Swap the key rings for this store and every clone of it (a reload). Operations
    /// already running finish with the rings they started with.
    pub fn set_keys(&self, keys: std::sync::Arc<vault::sealed::Keys>) {
        match self.keys.write() {
            Ok(mut cell) => *cell = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
    }

    /// The key rings in use now.
    pub fn keys(&self) -> std::sync::Arc<vault::sealed::Keys> {
        match self.keys.read() {
            Ok(cell) => cell.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Readiness: can we run a query?
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Does any organization exist? (Used by `demo` to decide whether to seed.) Runs
    /// through the global login index, which has no row-level security.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_logins")
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 0)
    }

    /// Close the pool (after the session-check dispatcher gives its connection back).
    pub async fn close(&self) {
        self.sessions.stop();
        self.pool.close().await;
    }

    /// Begin a write transaction bound to one organization. On PostgreSQL the same
    /// round trip that opens it sets `app.org_id` for this transaction only
    /// (`set_config(…, true)`), so a pooled connection never carries one tenant's
    /// context into another's request. On SQLite, `BEGIN IMMEDIATE` takes the write lock
    /// up front, so concurrent writers queue on `busy_timeout` instead of failing with
    /// SQLITE_BUSY when a read lock would be upgraded.
    async fn org_tx(
        &self,
        org_id: &str,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        let org = checked_org(org_id)?;
        Ok(match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Dialect::Postgres => self.pool.begin_with(pg_begin(org)).await?,
        })
    }

    /// A connection for reads bound to one organization. PostgreSQL needs a
    /// transaction to scope `app.org_id`; SQLite has no row-level security and every
    /// statement is atomic on its own, so reads skip BEGIN/COMMIT (two round trips to
    /// its connection thread per request).
    async fn org_read(&self, org_id: &str) -> Result<Conn, StoreError> {
        let org = checked_org(org_id)?;
        Ok(match self.dialect {
            Dialect::Sqlite => Conn::Plain(self.pool.acquire().await?),
            Dialect::Postgres => Conn::Tx(self.pool.begin_with(pg_begin(org)).await?),
        })
    }

    /// The raw pool, for tests that must prove what the database holds.
    #[doc(hidden)]
    pub fn raw_pool_for_tests(&self) -> &AnyPool {
        &self.pool
    }
}

/// An organization id fit to be inlined into SQL: it must parse as a UUID, whose
/// hyphenated form holds only hex digits and hyphens.
/// `m`'s guard, also after a panic elsewhere poisoned it: what the mutexes of this crate
/// guard (queues, memos, counters) stays consistent at every unlock.
pub(crate) fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn checked_org(org_id: &str) -> Result<uuid::Uuid, StoreError> {
    uuid::Uuid::parse_str(org_id).map_err(|_| StoreError::Unauthenticated)
}

/// `BEGIN` plus the tenant context in one simple-query round trip.
fn pg_begin(org: uuid::Uuid) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "BEGIN; SELECT set_config('app.org_id', '{}', true)",
        org.hyphenated()
    ))
}

/// A connection for tenant reads: a transaction (PostgreSQL) or a plain pooled
/// connection (SQLite). `commit` ends it either way.
pub(crate) enum Conn {
    Tx(sqlx::Transaction<'static, sqlx::Any>),
    Plain(sqlx::pool::PoolConnection<sqlx::Any>),
}

impl Conn {
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Conn::Tx(tx) => tx.commit().await?,
            Conn::Plain(_) => {}
        }
        Ok(())
    }
}

impl std::ops::Deref for Conn {
    type Target = sqlx::AnyConnection;
    fn deref(&self) -> &Self::Target {
        match self {
            Conn::Tx(tx) => tx,
            Conn::Plain(c) => c,
        }
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            Conn::Tx(tx) => &mut *tx,
            Conn::Plain(c) => &mut *c,
        }
    }
}

fn sqlite_url_with_create(url: &str, dialect: Dialect) -> String {
    if dialect == Dialect::Sqlite && !url.contains("mode=") && !url.contains(":memory:") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    }
}
