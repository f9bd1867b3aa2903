//! Faults: 429s waited out, 5xx retried, bad bodies reported without advancing the
//! checkpoint, expired tokens and the daily budget reported as such.

use std::time::{Duration, Instant};

use connectors::{Checkpoint, ConnectorError};
use domain::crm::ObjectKind;
use mockcrm::hubspot;
use mockcrm::{Fault, MockOptions, WorldSpec};

use crate::common::Mirror;
use crate::{assert_mirrors, connector, connector_with, options, start};

#[tokio::test]
async fn faults_are_retried_or_reported_and_never_advance_the_checkpoint() {
    let mock = start(WorldSpec::sized(450, 20, 20, 20)).await;
    let conn = connector(&mock);
    let first = conn
        .fetch(ObjectKind::Company, &Checkpoint::full())
        .await
        .expect("page 1");
    let cp = first.checkpoint.clone();
    assert!(!first.done);

    // 429 with Retry-After: waited out, counted.
    mock.state.inject([Fault::TooManyRequests {
        retry_after_secs: 1,
    }]);
    let started = Instant::now();
    let second = conn
        .fetch(ObjectKind::Company, &cp)
        .await
        .expect("after a 429");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(conn.meter().throttled(), 1);

    // 5xx: retried.
    mock.state.inject([Fault::Status(500), Fault::Status(503)]);
    let again = conn
        .fetch(ObjectKind::Company, &cp)
        .await
        .expect("after 5xx");
    assert_eq!(
        again.checkpoint, second.checkpoint,
        "a replayed page is the same page"
    );
    assert_eq!(again.changes.len(), second.changes.len());

    // Truncated and malformed bodies: an error, and the same checkpoint works after.
    for fault in [Fault::Truncate, Fault::Malformed] {
        mock.state.inject([fault]);
        let err = conn
            .fetch(ObjectKind::Company, &cp)
            .await
            .expect_err("bad body");
        assert!(matches!(err, ConnectorError::Malformed(_)), "{err:?}");
        let retried = conn.fetch(ObjectKind::Company, &cp).await.expect("retry");
        assert_eq!(retried.checkpoint, second.checkpoint);
    }

    // Retries that run out: an error, nothing advanced.
    mock.state
        .inject(std::iter::repeat_n(Fault::Status(502), 4));
    let err = conn
        .fetch(ObjectKind::Company, &cp)
        .await
        .expect_err("5xx after retries");
    assert!(
        matches!(err, ConnectorError::Status { status: 502, .. }) && err.is_transient(),
        "{err:?}"
    );

    // The daily budget: stop, do not retry.
    mock.state.inject([Fault::DailyLimit]);
    let before = mock.state.requests().len();
    let err = conn
        .fetch(ObjectKind::Deal, &Checkpoint::full())
        .await
        .expect_err("daily");
    assert!(matches!(err, ConnectorError::QuotaExhausted), "{err:?}");
    assert_eq!(mock.state.requests().len(), before + 1);

    // After all that, a mirror synced from the same checkpoints converges.
    let mut mirror = Mirror::default();
    mock.state.inject([Fault::Truncate]);
    assert!(mirror.sync_all(&conn).await.is_err());
    mirror.sync_all(&conn).await.expect("sync");
    assert_mirrors(&mirror, &mock.state.world);
}

#[tokio::test]
async fn an_expired_oauth_token_is_unauthorized() {
    let mock = start(WorldSpec::small()).await;
    let state = &mock.state;
    let code = state
        .issue_code("mock-client-id", "http://app/cb", None, "oauth")
        .expect("code");
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", "mock-client-id"),
        ("client_secret", "mock-client-secret"),
        ("redirect_uri", "http://app/cb"),
        ("code", code.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let (access, _, _) = state.grant(&form, None).expect("tokens");
    let conn = connector_with(&mock, &access, false, options());
    conn.fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect("token works");
    state.inject([Fault::ExpireTokens]);
    let err = conn
        .fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect_err("expired");
    assert!(matches!(err, ConnectorError::Unauthorized), "{err:?}");
    let err = connector_with(&mock, "not-a-token", true, options())
        .fetch(ObjectKind::Deal, &Checkpoint::full())
        .await
        .expect_err("unknown token");
    assert!(matches!(err, ConnectorError::Unauthorized), "{err:?}");
}

#[tokio::test]
async fn the_daily_budget_in_the_mock_ends_the_run() {
    let mock = hubspot::start(
        WorldSpec::sized(450, 10, 10, 10),
        MockOptions {
            daily_limit: Some(2),
            ..MockOptions::default()
        },
    )
    .await
    .expect("mock");
    let conn = connector(&mock);
    let mut mirror = Mirror::default();
    let err = mirror
        .pass(&conn, ObjectKind::Company)
        .await
        .expect_err("budget");
    assert!(matches!(err, ConnectorError::QuotaExhausted), "{err:?}");
    assert_eq!(conn.meter().quota().daily_remaining, Some(0));
}

#[tokio::test]
async fn checkpoints_this_build_never_wrote_restart_safely() {
    let mock = start(WorldSpec::sized(150, 10, 10, 10)).await;
    let conn = connector(&mock);
    // A full pass "past its last phase" starts over instead of ending (which would
    // sweep every record); an incremental one just ends.
    let odd = Checkpoint {
        phase: 9,
        page: Some("junk".into()),
        ..Checkpoint::full()
    };
    let batch = conn
        .fetch(ObjectKind::Company, &odd)
        .await
        .expect("restart");
    assert!(!batch.done);
    assert_eq!(batch.changes.len(), 100);
    let odd = Checkpoint {
        phase: 9,
        ..Checkpoint::full().next_pass()
    };
    let batch = conn.fetch(ObjectKind::Deal, &odd).await.expect("ends");
    assert!(batch.done && batch.changes.is_empty());
    // An unreadable search window starts the search step again from the lower bound.
    let mut mirror = Mirror::default();
    mirror.pass(&conn, ObjectKind::Company).await.expect("full");
    let mut cp = mirror.checkpoints[&ObjectKind::Company].clone();
    cp.extra = Some("not-a-window".into());
    let batch = conn.fetch(ObjectKind::Company, &cp).await.expect("search");
    assert!(!batch.done);
}
