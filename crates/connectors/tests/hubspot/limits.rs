//! What HubSpot sees of us: only allow-listed reads, and no more than its rate limit.

use std::time::{Duration, Instant};

use connectors::HttpOptions;
use domain::crm::ObjectKind;
use mockcrm::hubspot;
use mockcrm::{MockOptions, WorldSpec};

use crate::common::Mirror;
use crate::{STATIC_TOKEN, assert_mirrors, connector, connector_with, options, start};

#[tokio::test]
async fn only_allow_listed_reads_reach_hubspot() {
    let mock = start(WorldSpec::small()).await;
    let conn = connector(&mock);
    let mut mirror = Mirror::default();
    mirror.sync_all(&conn).await.expect("full");
    let world = &mock.state.world;
    world.churn(0.2, 0.05, 3);
    world.create(ObjectKind::Activity, 5);
    mirror.sync_all(&conn).await.expect("incremental");
    assert_mirrors(&mirror, world);

    let log = mock.state.requests();
    assert!(log.iter().any(|r| r.path.ends_with("/search")));
    assert!(log.iter().any(|r| r.path.ends_with("/batch/read")));
    assert!(log.iter().any(|r| r.query.contains("archived=true")));
    for r in &log {
        assert!(
            hubspot_routes()
                .iter()
                .any(|route| route.matches(&r.method, &r.path)),
            "{} {} is not allow-listed",
            r.method,
            r.path
        );
        let read = r.method == "GET"
            || (r.method == "POST"
                && (r.path.ends_with("/search") || r.path.ends_with("/batch/read")));
        assert!(read, "{} {} is a write", r.method, r.path);
    }
}

fn hubspot_routes() -> &'static [connectors::Route] {
    connectors::hubspot::ROUTES
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_holds_with_few_429s() {
    // HubSpot's burst window, shortened: 8 requests per second. The connector starts
    // at its published default and tightens to what the headers say.
    let mock = hubspot::start(
        WorldSpec::sized(1500, 10, 10, 10),
        MockOptions {
            rate_limit: Some((8, Duration::from_secs(1))),
            daily_limit: Some(250_000),
            ..MockOptions::default()
        },
    )
    .await
    .expect("mock");
    let conn = connector_with(
        &mock,
        STATIC_TOKEN,
        true,
        HttpOptions {
            rate_limit: true,
            ..options()
        },
    );
    let started = Instant::now();
    let mut mirror = Mirror::default();
    let report = mirror.pass(&conn, ObjectKind::Company).await.expect("pass");
    assert_eq!(report.pages, 15);
    let throttled = mock
        .state
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(throttled <= 2, "{throttled} 429s");
    assert_eq!(conn.meter().throttled() as usize, throttled);
    // 15 requests at 8 per second cannot take less than a second.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let quota = conn.meter().quota();
    assert_eq!(quota.daily_limit, Some(250_000));
    assert_eq!(quota.daily_remaining, Some(250_000 - 15));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_keep_to_their_own_per_second_limit() {
    // The mock enforces HubSpot's five searches a second (SECONDLY 429s) when its rate
    // limit is on; the connector's search bucket paces to it.
    let mock = hubspot::start(
        WorldSpec::sized(50, 10, 10, 10),
        MockOptions {
            rate_limit: Some(connectors::hubspot::OAUTH_LIMIT),
            ..MockOptions::default()
        },
    )
    .await
    .expect("mock");
    let conn = connector_with(
        &mock,
        STATIC_TOKEN,
        true,
        HttpOptions {
            rate_limit: true,
            ..options()
        },
    );
    let mut mirror = Mirror::default();
    mirror.sync_all(&conn).await.expect("full sync");
    mock.state.world.create(ObjectKind::Company, 1_900);
    let started = Instant::now();
    let report = mirror
        .pass(&conn, ObjectKind::Company)
        .await
        .expect("incremental");
    let searches = mock
        .state
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/search"))
        .count();
    assert!(searches >= 10, "{searches}");
    // Each page re-reads the instant the previous one ended on: a record or so.
    let upserts = report.upserts as usize;
    assert!((1_900..=1_900 + searches).contains(&upserts), "{upserts}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    let throttled = mock
        .state
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(throttled <= 1, "{throttled} 429s");
    assert_mirrors(&mirror, &mock.state.world);
}
