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
    let (checked, statements) = (after.0 - before.0, after.1 - before.1);
    assert_eq!(checked, checks.len() as u64);
    assert!(
        statements < checked / 4,
        "{checked} checks arriving together ran in {statements} statements"
    );
    assert!(app.store().session_batch_stats().is_some());
}
