//! The session check on SQLite runs through the direct read path (`fastread.rs`), and a
//! revocation through one instance still answers 401 on another instance's very next
//! request, read by that path from a pooled connection.

use serde_json::json;
use testkit::{Backend, TestApp};

#[tokio::test]
async fn direct_session_reads_see_a_revocation_at_once() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let ada = app.signup("Acme", "Ada", "ada@example.com").await;
    let other = app.another_instance().await;
    for _ in 0..3 {
        assert_eq!(
            other.get(&ada.access_token, "/api/v1/me").await.status(),
            200
        );
    }
    let (hits, fallbacks) = other.store().direct_read_stats().expect("SQLite");
    assert!(hits >= 3, "the session checks ran on the direct path");
    assert_eq!(fallbacks, 0);
    let r = app
        .post_json(&ada.access_token, "/api/v1/auth/logout", json!({}))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(
        other.get(&ada.access_token, "/api/v1/me").await.status(),
        401
    );
    let (after, fallbacks) = other.store().direct_read_stats().expect("SQLite");
    assert_eq!(after, hits + 1, "the 401 came from the direct path");
    assert_eq!(fallbacks, 0);
    assert!(app.store().direct_read_stats().is_some());
}

#[tokio::test]
async fn postgres_has_no_direct_path() {
    if testkit::backends().contains(&Backend::Postgres) {
        let app = TestApp::spawn(Backend::Postgres).await;
        assert!(app.store().direct_read_stats().is_none());
    }
}

/// On PostgreSQL, session checks that arrive together share one statement
/// (`session_batch.rs`); each still gets exactly its own answer: sessions of two
/// organizations, a revoked session, a session presented with another organization or
/// another user, all in the same batches.
#[tokio::test]
async fn batched_postgres_session_checks_answer_each_request_alone() {
    if !testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let alpha = testkit::Fixture::seed(&app, "alpha").await;
    let beta = testkit::Fixture::seed(&app, "beta").await;
    let r = app
        .post_json(&alpha.r1.token, "/api/v1/auth/logout", json!({}))
        .await;
    assert_eq!(r.status(), 204);

    // Read every session as the owner: (org, session, user, revoked).
    let mut conn = app.owner_connection().await;
    let sessions: Vec<(String, String, String, bool)> = sqlx::query_as(
        "SELECT org_id, id, user_id, revoked_at IS NOT NULL FROM sessions ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("sessions");
    assert!(sessions.len() >= 16, "both fixtures logged in");
    assert!(sessions.iter().any(|s| s.3), "at least one revoked");

    // (org, session, user, expected user id or None).
    let mut checks = Vec::new();
    for (org, sid, uid, revoked) in &sessions {
        checks.push((
            org.clone(),
            sid.clone(),
            uid.clone(),
            (!revoked).then(|| uid.clone()),
        ));
        let other_org = if *org == alpha.org_id {
            &beta.org_id
        } else {
            &alpha.org_id
        };
        checks.push((other_org.clone(), sid.clone(), uid.clone(), None));
        checks.push((
            org.clone(),
            sid.clone(),
            alpha.exec.id.clone(),
            (!revoked && *uid == alpha.exec.id).then(|| uid.clone()),
        ));
    }
    let before = app.store().session_batch_stats().expect("PostgreSQL");
    let mut set = tokio::task::JoinSet::new();
    for (i, (org, sid, uid, expected)) in checks.iter().cloned().enumerate() {
        let store = app.store().clone();
        set.spawn(async move {
            let got = store.authenticate(&org, &uid, &sid, None).await;
            (i, expected, got.map(|scope| scope.user_id().to_string()))
        });
    }
    let mut answered = 0;
    while let Some(done) = set.join_next().await {
        let (i, expected, got) = done.expect("task");
        match (expected, got) {
            (Some(want), Ok(user)) => assert_eq!(user, want, "check {i}"),
            (None, Err(store::StoreError::Unauthenticated)) => {}
            (want, got) => panic!("check {i}: expected {want:?}, got {got:?}"),
        }
        answered += 1;
    }
    assert_eq!(answered, checks.len());
    let after = app.store().session_batch_stats().expect("PostgreSQL");
    let (checked, statements) = (
        after.checks - before.checks,
        after.statements - before.statements,
    );
    assert_eq!(checked, checks.len() as u64);
    assert!(
        statements < checked / 4,
        "{checked} checks arriving together ran in {statements} statements"
    );
    assert!(app.store().session_batch_stats().is_some());
}

/// The (session id of `user_id`'s live session).
async fn live_session(app: &TestApp, user_id: &str) -> String {
    let mut conn = app.owner_connection().await;
    sqlx::query_scalar(
        "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC LIMIT 1",
    )
    .bind(user_id)
    .fetch_one(&mut conn)
    .await
    .expect("session")
}

/// On PostgreSQL an instance answers from the session rows it has read while the
/// organization's session and directory versions, read for every batch, have not moved
/// (`session_batch.rs`). Every change that can fail a check moves them, whichever
/// instance makes it — a logout, a member removed, a seat changed — and expiry and
/// idleness are checked by the answering instance's own clock.
#[tokio::test]
async fn kept_postgres_session_reads_never_outlive_a_change() {
    if !testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let f = testkit::Fixture::seed(&app, "kept").await;
    let other = app.another_instance().await;
    let me = |token: String| {
        let other = &other;
        async move {
            let r = other.get(&token, "/api/v1/me").await;
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            (status, body["name"].as_str().unwrap_or_default().to_owned())
        }
    };
    let name = |token: String| {
        let me = &me;
        async move { me(token).await.1 }
    };
    let stats = || other.store().session_batch_stats().expect("PostgreSQL");

    // Read once, then answered from the kept read.
    let before = stats();
    let r1_name = name(f.r1.token.clone()).await;
    for _ in 0..2 {
        assert_eq!(me(f.r1.token.clone()).await, (200, r1_name.clone()));
    }
    let after = stats();
    assert_eq!(after.checks - before.checks, 3);
    assert!(after.kept - before.kept >= 2, "{before:?} -> {after:?}");

    // A change to the member made through the first instance shows at once on the
    // other: a new name keeps the session, a new seat ends it.
    assert_eq!(me(f.r2.token.clone()).await.0, 200);
    let path = format!("/api/v1/users/{}", f.r2.id);
    let r = app
        .patch_json(&f.exec.token, &path, json!({"name": "Renamed Rep"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(me(f.r2.token.clone()).await, (200, "Renamed Rep".into()));
    let r = app
        .patch_json(&f.exec.token, &path, json!({"seat": "manager"}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(me(f.r2.token.clone()).await.0, 401);

    // A member removed, and a logout, through the first instance: 401 at once.
    assert_eq!(me(f.r3.token.clone()).await.0, 200);
    let path = format!("/api/v1/users/{}", f.r3.id);
    assert!(app.delete(&f.exec.token, &path).await.status().is_success());
    assert_eq!(me(f.r3.token.clone()).await.0, 401);
    // (Read and kept again after the changes above, so only the logout can fail it.)
    assert_eq!(me(f.r1.token.clone()).await.0, 200);
    let r = app
        .post_json(&f.r1.token, "/api/v1/auth/logout", json!({}))
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(me(f.r1.token.clone()).await.0, 401);
    // Other sessions of the organization are read again and kept again.
    let before = stats();
    assert_eq!(me(f.r4.token.clone()).await.0, 200);
    assert_eq!(me(f.r4.token.clone()).await.0, 200);
    assert_eq!(stats().kept - before.kept, 1);

    // Idle (and so also past expiry) by the answering instance's clock: the kept read
    // does not answer, and the database says no.
    let sid = live_session(&app, &f.r4.id).await;
    let store = other.store();
    assert!(
        store
            .authenticate(&f.org_id, &f.r4.id, &sid, None)
            .await
            .is_ok()
    );
    store.clock().advance(store::SESSION_IDLE_SECS + 1);
    assert!(matches!(
        store.authenticate(&f.org_id, &f.r4.id, &sid, None).await,
        Err(store::StoreError::Unauthenticated)
    ));
}

/// `session_versions_of` (migration 0010), what every batch runs: as the application
/// role it reads each listed organization under its own `app.org_id` and leaves the
/// setting as it found it; an unknown id gives no row; inside a transaction that works
/// for one organization it refuses another.
#[tokio::test]
async fn session_versions_read_each_organization_under_its_own_setting() {
    if !testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    use sqlx::Connection;
    let app = TestApp::spawn(Backend::Postgres).await;
    let a = app.signup("Alpha", "Ada", "ada@alpha.example").await;
    let b = app.signup("Beta", "Bo", "bo@beta.example").await;
    let (a_org, b_org) = (a.org_id, b.org_id);
    let mut conn = app.owner_connection().await;
    sqlx::query("SET ROLE pitchside_app")
        .execute(&mut conn)
        .await
        .expect("set role");
    let read = "SELECT org_id FROM session_versions_of($1) ORDER BY org_id";
    let unknown = uuid::Uuid::new_v4().to_string();
    let got: Vec<String> = sqlx::query_scalar(read)
        .bind(format!("{a_org},{unknown},{b_org}"))
        .fetch_all(&mut conn)
        .await
        .expect("versions");
    let mut want = vec![a_org.clone(), b_org.clone()];
    want.sort();
    assert_eq!(got, want);
    let none: Vec<String> = sqlx::query_scalar(read)
        .bind(String::new())
        .fetch_all(&mut conn)
        .await
        .expect("no ids");
    assert!(none.is_empty());
    // Without the function, the application role sees no organization at all.
    let visible: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM organizations")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(visible, 0, "row-level security applies to the role");

    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(&a_org)
        .execute(&mut *tx)
        .await
        .expect("tenant");
    let own: Vec<String> = sqlx::query_scalar(read)
        .bind(&a_org)
        .fetch_all(&mut *tx)
        .await
        .expect("own organization");
    assert_eq!(own, vec![a_org.clone()]);
    let setting: String = sqlx::query_scalar("SELECT current_setting('app.org_id')")
        .fetch_one(&mut *tx)
        .await
        .expect("setting");
    assert_eq!(setting, a_org, "left as found");
    let refused = sqlx::query_scalar::<_, String>(read)
        .bind(&b_org)
        .fetch_all(&mut *tx)
        .await;
    assert!(
        refused.is_err(),
        "another organization inside A's transaction"
    );
}

/// The batches run on one connection held from batch to batch. It is given back when
/// the store closes (closing does not wait forever), and if it dies while held, the
/// next checks are answered on a fresh one rather than failing.
#[tokio::test]
async fn the_held_session_check_connection_is_replaced_and_given_back() {
    if !testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let ada = app.signup("Acme", "Ada", "ada@example.com").await;
    assert_eq!(app.get(&ada.access_token, "/api/v1/me").await.status(), 200);

    // End the server process behind the held connection: the one whose last statement
    // was a batch's (the first check of a session reads it in full).
    let mut admin = app.owner_connection().await;
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid() \
           AND (query LIKE '%session_versions_of%' OR query LIKE '%session_rows_many%')",
    )
    .fetch_all(&mut admin)
    .await
    .expect("terminate");
    assert_eq!(ended, vec![true], "one held connection");
    let before = app.store().session_batch_stats().expect("PostgreSQL");
    for _ in 0..3 {
        assert_eq!(app.get(&ada.access_token, "/api/v1/me").await.status(), 200);
    }
    let after = app.store().session_batch_stats().expect("PostgreSQL");
    assert_eq!(after.checks - before.checks, 3);
    assert!(
        after.statements - before.statements > 3,
        "the failed statement was tried again"
    );

    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), app.store().close());
    assert!(
        closed.await.is_ok(),
        "the pool closed with the dispatcher idle"
    );
}

/// A pool of one connection: the dispatcher gives it back after every batch, so the
/// other queries of the instance still get it.
#[tokio::test]
async fn a_pool_of_one_connection_is_not_kept_by_the_session_checks() {
    if !testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let ada = app.signup("Acme", "Ada", "ada@example.com").await;
    let session = live_session(&app, &ada.user_id).await;
    let options = store::StoreOptions {
        max_connections: 1,
        ..store::StoreOptions::new(app.db_url())
    };
    let small = store::Store::connect(options, store::Clock::system())
        .await
        .expect("connect");
    let work = async {
        for _ in 0..3 {
            let scope = small
                .authenticate(&ada.org_id, &ada.user_id, &session, None)
                .await
                .expect("authenticated");
            assert_eq!(scope.user_id().to_string(), ada.user_id);
            assert!(!small.is_empty().await.expect("another query"));
        }
    };
    let done = tokio::time::timeout(std::time::Duration::from_secs(8), work).await;
    assert!(done.is_ok(), "a query waited for the held connection");
    small.close().await;
}
