//! Full passes mirror the world; incremental passes bring back changes and deletions
//! at a cost proportional to them, even past the search cap and through instants
//! shared by more than a page.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use connectors::{Checkpoint, Pass};
use domain::crm::{ActivityType, ObjectKind, RecordData};
use mockcrm::hubspot::{self, external_id, stage_id};
use mockcrm::world::STAGES;
use mockcrm::{Mock, MockOptions, World, WorldSpec};

use crate::common::Mirror;
use crate::{STATIC_TOKEN, assert_mirrors, connector, live_ids, start};

#[tokio::test]
async fn a_full_sync_mirrors_the_world() {
    let mock = start(WorldSpec::small()).await;
    let conn = connector(&mock);
    let mut mirror = Mirror::default();
    let reports = mirror.sync_all(&conn).await.expect("sync");
    let world = &mock.state.world;
    assert_mirrors(&mirror, world);
    assert!(reports.values().all(|r| r.skipped == 0), "{reports:?}");

    // Owners and pipelines as HubSpot describes them.
    for (i, (name, email)) in world.spec().owners.iter().enumerate() {
        let r = mirror
            .get(ObjectKind::Owner, &external_id(ObjectKind::Owner, i as u64))
            .expect("owner");
        let RecordData::Owner(o) = &r.data else {
            panic!("not an owner")
        };
        assert_eq!(
            (o.name.as_str(), o.email.as_deref(), o.active),
            (name.as_str(), Some(email.as_str()), true)
        );
    }
    let r = mirror
        .get(ObjectKind::Pipeline, "default")
        .expect("default pipeline");
    let RecordData::Pipeline(p) = &r.data else {
        panic!("not a pipeline")
    };
    assert_eq!(p.label, "Sales Pipeline");
    let stages: Vec<(String, Option<f64>, bool, bool)> = p
        .stages
        .iter()
        .map(|s| (s.external_id.clone(), s.probability, s.is_closed, s.is_won))
        .collect();
    let expected: Vec<(String, Option<f64>, bool, bool)> = STAGES
        .iter()
        .enumerate()
        .map(|(i, (_, prob, closed, won))| (stage_id(0, i), Some(f64::from(*prob)), *closed, *won))
        .collect();
    assert_eq!(stages, expected);

    // Raw payloads are HubSpot's records, verbatim.
    let deal = mirror
        .get(ObjectKind::Deal, &external_id(ObjectKind::Deal, 3))
        .expect("deal");
    let raw: serde_json::Value = serde_json::from_str(deal.raw.get()).expect("raw is JSON");
    assert_eq!(
        raw["id"],
        serde_json::json!(external_id(ObjectKind::Deal, 3))
    );
    assert!(raw["properties"]["dealname"].is_string());

    // Owners and pipelines stay full passes; the rest turn incremental.
    assert_eq!(mirror.checkpoints[&ObjectKind::Owner], Checkpoint::full());
    assert_eq!(
        mirror.checkpoints[&ObjectKind::Pipeline],
        Checkpoint::full()
    );
    assert_eq!(
        mirror.checkpoints[&ObjectKind::Deal].pass,
        Pass::Incremental
    );
    assert!(mirror.checkpoints[&ObjectKind::Deal].since_ms.is_some());
}

/// What a full pass of every kind sends in `world`: a page of active and one of archived
/// owners, one of pipelines, then one list page per 100 live records of each object
/// type, deals 50 a page (their stage history comes with them, so no batch reads).
fn full_pass_requests(world: &World) -> BTreeMap<String, usize> {
    let pages = |n: usize, per: usize| n.div_ceil(per).max(1);
    let live = |kind: ObjectKind| (0..world.count(kind)).filter(move |i| world.is_live(kind, *i));
    let mut out = BTreeMap::new();
    out.insert("GET /crm/v3/owners".to_owned(), 2);
    out.insert("GET /crm/v3/pipelines/deals".to_owned(), 1);
    for (object, kind, per) in [
        ("companies", ObjectKind::Company, 100),
        ("contacts", ObjectKind::Contact, 100),
        ("deals", ObjectKind::Deal, 50),
    ] {
        out.insert(
            format!("GET /crm/v3/objects/{object}"),
            pages(live(kind).count(), per),
        );
    }
    for t in ActivityType::ALL {
        let n = live(ObjectKind::Activity)
            .filter(|i| hubspot::activity_type(world.spec().seed, *i) == t)
            .count();
        out.insert(
            format!("GET /crm/v3/objects/{}", hubspot::engagement_object(t)),
            pages(n, 100),
        );
    }
    out
}

/// Requests sent per path since the log was cleared.
fn requests_by_path(mock: &Mock) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for r in mock.state.requests() {
        *by.entry(format!("{} {}", r.method, r.path)).or_default() += 1;
    }
    by
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_passes_bring_back_changes_and_deletions_at_a_cost_proportional_to_them() {
    let mock = start(WorldSpec::sized(2500, 4000, 3000, 8000)).await;
    let conn = connector(&mock);
    let mut mirror = Mirror::default();
    mirror.sync_all(&conn).await.expect("full sync");
    let full_requests = mock.state.requests().len();
    let world = &mock.state.world;
    // The full pass costs its list pages and nothing else; deals ask for their stage
    // history 50 at a time.
    assert_eq!(requests_by_path(&mock), full_pass_requests(world));
    assert!(
        mock.state
            .requests()
            .iter()
            .filter(|r| r.path == "/crm/v3/objects/deals")
            .all(|r| r.query.contains("limit=50&")
                && r.query.contains("propertiesWithHistory=dealstage")),
        "{:?}",
        mock.state.requests().first()
    );

    for kind in [
        ObjectKind::Company,
        ObjectKind::Contact,
        ObjectKind::Deal,
        ObjectKind::Activity,
    ] {
        for idx in [1, 7, 30, 31] {
            world.modify(kind, idx);
        }
        world.modify(kind, 7);
        world.delete(kind, 2);
        world.delete(kind, 30);
        world.create(kind, 3);
    }
    let (modified, deleted) = world.churn(0.01, 0.004, 9);
    assert!(modified > 20 && deleted > 5, "{modified} {deleted}");

    mock.state.clear_requests();
    let reports = mirror.sync_all(&conn).await.expect("incremental sync");
    assert_mirrors(&mirror, world);
    let deletes: u64 = reports.values().map(|r| r.deletes).sum();
    assert!(
        deletes >= deleted,
        "{deletes} deletions for {deleted} deleted"
    );

    // The cost: per type one search page per 200 changes (plus its association reads,
    // and for deals the batch read of their stage histories) and the archived listing;
    // owners and pipelines in full (3 requests).
    let sent = mock.state.requests().len();
    let by_path = requests_by_path(&mock);
    let searches: usize = by_path
        .iter()
        .filter(|(p, _)| p.ends_with("/search"))
        .map(|(_, n)| n)
        .sum();
    assert!(searches <= 10, "{by_path:#?}");
    assert!(
        by_path.contains_key("POST /crm/v3/objects/deals/batch/read"),
        "changed deals' stage history: {by_path:#?}"
    );
    let bound = 3 + (1 + 1) + (2 + 1) + (4 + 1) + 5 * (4 + 1);
    assert!(
        sent <= bound,
        "{sent} requests (bound {bound}): {by_path:#?}"
    );
    assert!(
        sent * 3 < full_requests,
        "{sent} vs {full_requests} for the full pass"
    );
    assert!(
        mock.state
            .requests()
            .iter()
            .all(|r| r.status == 200 || r.status == 207)
    );

    // A pass with nothing new changes nothing and costs the same handful.
    mock.state.clear_requests();
    mirror.sync_all(&conn).await.expect("quiet sync");
    assert_mirrors(&mirror, world);
    assert!(mock.state.requests().len() <= bound);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_beyond_the_search_cap_and_sharing_one_instant_all_arrive() {
    // A clock at whole seconds makes the 10,050 new companies (stamped a millisecond
    // apart) share about ten instants, each more than a search page.
    let config = hubspot::Config {
        clock_resolution_ms: 1000,
        ..hubspot::Config::default()
    };
    let mock = hubspot::start_with(
        WorldSpec::sized(250, 10, 10, 10),
        MockOptions::default(),
        config,
    )
    .await
    .expect("mock");
    let conn = connector(&mock);
    let mut mirror = Mirror::default();
    let report = mirror
        .pass(&conn, ObjectKind::Company)
        .await
        .expect("full pass");
    assert_eq!(
        (report.pages, report.upserts),
        (3, 250),
        "more than one page"
    );

    let world = &mock.state.world;
    world.create(ObjectKind::Company, 10_050);
    world.modify(ObjectKind::Company, 5);
    world.delete(ObjectKind::Company, 6);
    mock.state.clear_requests();
    let report = mirror
        .pass(&conn, ObjectKind::Company)
        .await
        .expect("incremental pass");
    assert_eq!(
        mirror.ids(ObjectKind::Company),
        live_ids(world, ObjectKind::Company)
    );
    assert_eq!(mirror.ids(ObjectKind::Company).len(), 250 + 10_050 - 1);
    assert_eq!(report.deletes, 1);
    // Every search stayed within HubSpot's limits (no 400 for paging past 10,000),
    // and the instant shared by a whole page was stepped through, not looped on.
    let log = mock.state.requests();
    let searches = log.iter().filter(|r| r.path.ends_with("/search")).count();
    assert!(log.iter().all(|r| r.status == 200), "{log:?}");
    // One page per 200 changes, plus one per instant shared by more than a page.
    let instants: BTreeSet<i64> = (0..world.count(ObjectKind::Company))
        .filter_map(|i| world.company(i))
        .filter(|c| c.meta.version > 0)
        .map(|c| c.meta.updated_ms / 1000)
        .collect();
    let bound = 10_051 / 200 + 2 * instants.len() + 2;
    assert!(
        (51..=bound).contains(&searches),
        "{searches} searches for 10,051 changes in {} instants",
        instants.len()
    );

    // The mock does refuse what HubSpot refuses.
    let client = connectors::http::build_client(Duration::from_secs(5)).expect("client");
    let refuse = |body: serde_json::Value| {
        client
            .post(format!("{}/crm/v3/objects/companies/search", mock.url()))
            .bearer_auth(STATIC_TOKEN)
            .json(&body)
            .send()
    };
    let r = refuse(serde_json::json!({"limit": 200, "after": "10000"}))
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 400);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["category"], "VALIDATION_ERROR");
    let r = refuse(serde_json::json!({"limit": 201}))
        .await
        .expect("sent");
    assert_eq!(r.status().as_u16(), 400);
}

/// Records per second of a full sync of an 830,000-record world through the connector
/// (mapping included, no database), then the cost of an incremental pass after 1 %
/// churn. Run with
/// `cargo test --release -p pitchside-connectors --test hubspot -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check: run in release"]
async fn full_sync_throughput() {
    let mock = start(WorldSpec::sized(100_000, 250_000, 80_000, 400_000)).await;
    let conn = connector(&mock);
    let mut checkpoints = BTreeMap::new();
    for round in ["full", "incremental"] {
        let started = std::time::Instant::now();
        let requests = conn.meter().requests();
        let (mut records, mut deletes) = (0u64, 0u64);
        for kind in ObjectKind::ALL {
            let mut checkpoint = checkpoints.remove(&kind).unwrap_or_else(Checkpoint::full);
            loop {
                let batch = conn.fetch(kind, &checkpoint).await.expect("page");
                for change in &batch.changes {
                    match change {
                        connectors::Change::Upsert(_) => records += 1,
                        connectors::Change::Delete { .. } => deletes += 1,
                    }
                }
                checkpoint = batch.checkpoint;
                if batch.done {
                    break;
                }
            }
            checkpoints.insert(kind, checkpoint);
        }
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "{round}: {records} records and {deletes} deletions in {secs:.1} s ({:.0} records/s), {} requests",
            records as f64 / secs,
            conn.meter().requests() - requests
        );
        if round == "full" {
            let (modified, deleted) = mock.state.world.churn(0.01, 0.002, 1);
            eprintln!("churn: {modified} modified, {deleted} deleted");
        }
    }
}
