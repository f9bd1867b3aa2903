//! PostgreSQL row-level security (SECURITY.md AC-01, AC-03): every tenant table has RLS
//! enabled and forced with a policy; the application role is neither superuser nor
//! BYPASSRLS; without `app.org_id` a query sees nothing; with it, only that org.

use sqlx::Connection;
use testkit::{Backend, Fixture, TestApp, backends};

const TENANT_TABLES: &[&str] = &[
    "organizations",
    "users",
    "teams",
    "sessions",
    "invitations",
    "outbox_emails",
    "notes",
    "audit_events",
    "crm_connections",
    "crm_tokens",
    "oauth_states",
    "crm_checkpoints",
    "crm_sync_runs",
    "crm_quota",
    "crm_owners",
    "crm_pipelines",
    "crm_stages",
    "crm_companies",
    "crm_contacts",
    "crm_deals",
    "crm_deal_contacts",
    "crm_activities",
];
const GLOBAL_TABLES: &[&str] = &[
    "user_logins",
    "login_attempts",
    "rate_limits",
    // The head (seq and hash) of each audit chain: counters and hashes, no tenant data;
    // global so the retention job can find every chain.
    "audit_heads",
    // The job queue: ids and schedules only (the payload names a connection id), global
    // so workers claim across organizations; each job's work runs in its org's context.
    "jobs",
    "_sqlx_migrations",
];

#[tokio::test]
async fn row_level_security_isolates_organizations_on_postgres() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let a = Fixture::seed(&app, "alpha").await;
    let b = Fixture::seed(&app, "beta").await;
    let mut conn = app.owner_connection().await;

    // Every table in the schema is either a tenant table with forced RLS and a policy,
    // or on the explicit global list. A new table fails this until classified.
    let tables: Vec<(String, bool, bool, i64)> = sqlx::query_as(
        "SELECT c.relname::text, c.relrowsecurity, c.relforcerowsecurity, \
                (SELECT COUNT(*) FROM pg_policies p WHERE p.tablename = c.relname) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind = 'r'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("catalog");
    for (name, rls, forced, policies) in &tables {
        if GLOBAL_TABLES.contains(&name.as_str()) {
            continue;
        }
        assert!(
            TENANT_TABLES.contains(&name.as_str()),
            "table {name} is not classified as tenant or global"
        );
        assert!(
            *rls && *forced && *policies >= 1,
            "{name}: rls={rls} forced={forced} policies={policies}"
        );
    }

    // The application role is subject to RLS.
    let (superuser, bypass): (bool, bool) = sqlx::query_as(
        "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'pitchside_app'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("role");
    assert!(!superuser && !bypass);

    // A live session of org A (read as the superuser, which bypasses row-level security).
    let (a_session, a_user): (String, String) = sqlx::query_as(
        "SELECT id, user_id FROM sessions WHERE org_id = $1 AND revoked_at IS NULL LIMIT 1",
    )
    .bind(&a.org_id)
    .fetch_one(&mut conn)
    .await
    .expect("a session of A");

    sqlx::query("SET ROLE pitchside_app")
        .execute(&mut conn)
        .await
        .expect("set role");

    // The one-round-trip session check runs under row-level security as the app role:
    // it finds A's session with A's context and nothing when asked as org B.
    let check = "SELECT COUNT(*) FROM session_check($1, $2, $3, 0, 0)";
    let found: i64 = sqlx::query_scalar(check)
        .bind(&a.org_id)
        .bind(&a_session)
        .bind(&a_user)
        .fetch_one(&mut conn)
        .await
        .expect("session_check as A");
    assert_eq!(found, 1, "positive control");
    let found: i64 = sqlx::query_scalar(check)
        .bind(&b.org_id)
        .bind(&a_session)
        .bind(&a_user)
        .fetch_one(&mut conn)
        .await
        .expect("session_check as B");
    assert_eq!(found, 0, "a session of another organization is invisible");
    let leaked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT * FROM session_check($1, $2, $3, 0, 0)) s WHERE s.org_id <> $1",
    )
    .bind(&b.org_id)
    .bind(&a_session)
    .bind(&a_user)
    .fetch_one(&mut conn)
    .await
    .expect("session_check as B");
    assert_eq!(leaked, 0);
    // Inside a transaction working for B it refuses to switch the tenant to A.
    let mut tx = conn.begin().await.expect("tx");
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(&b.org_id)
        .execute(&mut *tx)
        .await
        .expect("ctx");
    let switched = sqlx::query(check)
        .bind(&a.org_id)
        .bind(&a_session)
        .bind(&a_user)
        .fetch_all(&mut *tx)
        .await;
    assert!(
        switched.is_err(),
        "session_check cannot change a transaction's tenant"
    );
    tx.rollback().await.expect("rollback");

    // No tenant context: nothing is visible, and nothing can be written.
    for table in TENANT_TABLES {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .expect("count");
        assert_eq!(n, 0, "{table} leaks rows without app.org_id");
    }
    let insert = sqlx::query("INSERT INTO teams (id, org_id, name, created_at, updated_at) VALUES ('x', $1, 'sneaky', 0, 0)")
        .bind(&b.org_id)
        .execute(&mut conn)
        .await;
    assert!(
        insert.is_err(),
        "an insert without tenant context must fail"
    );

    // With org A's context: only A's rows, and B's rows cannot be written into.
    let mut tx = conn.begin().await.expect("tx");
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(&a.org_id)
        .execute(&mut *tx)
        .await
        .expect("ctx");
    let orgs: Vec<String> = sqlx::query_scalar("SELECT DISTINCT org_id FROM users")
        .fetch_all(&mut *tx)
        .await
        .expect("users");
    assert_eq!(orgs, vec![a.org_id.clone()]);
    let updated = sqlx::query("UPDATE users SET name = 'pwned' WHERE org_id = $1")
        .bind(&b.org_id)
        .execute(&mut *tx)
        .await
        .expect("update");
    assert_eq!(updated.rows_affected(), 0);
    let moved = sqlx::query("UPDATE users SET org_id = $1 WHERE id = $2")
        .bind(&b.org_id)
        .bind(&a.r1.id)
        .execute(&mut *tx)
        .await;
    assert!(
        moved.is_err(),
        "WITH CHECK refuses moving a row into another org"
    );
    tx.rollback().await.expect("rollback");

    // The context is per transaction: it does not survive into the next one.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(n, 0);
    let _ = b;
}
