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
