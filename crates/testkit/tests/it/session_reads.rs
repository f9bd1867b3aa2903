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
    use sqlx::Connection;
    let app = TestApp::spawn(Backend::Postgres).await;
    let alpha = testkit::Fixture::seed(&app, "alpha").await;
    let beta = testkit::Fixture::seed(&app, "beta").await;
    let r = app
        .post_json(&alpha.r1.token, "/api/v1/auth/logout", json!({}))
        .await;
    assert_eq!(r.status(), 204);

    // Read every session as the owner: (org, session, user, revoked).
    let mut conn = sqlx::PgConnection::connect(app.db_url())
        .await
        .expect("connect");
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
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(app.db_url())
        .await
        .expect("connect");
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
