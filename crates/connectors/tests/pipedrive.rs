//! The Pipedrive connector against the Pipedrive mock: full and incremental syncs
//! mirrored the way the engine applies them, paging past one page and through shifting
//! note offsets, faults, the read-only allow-list, OAuth, and the burst limit.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use common::Mirror;
use connectors::oauth::{self, OAuthApp, Profile};
use connectors::{
    Change, Checkpoint, Connector, ConnectorError, Credentials, Endpoints, HttpOptions, Pass,
    pipedrive,
};
use domain::crm::{ActivityType, ObjectKind, Provider, Record, RecordData};
use mockcrm::pipedrive::{
    deal_placement, external_id, external_id_in, flow, is_note, pipeline_id, stage_external_id,
};
use mockcrm::world::{PIPELINES, STAGES};
use mockcrm::{Fault, Mock, MockOptions, World, WorldSpec};

const TOKEN: &str = "static-test-token";
const DAY_MS: i64 = 86_400_000;

/// Quick retries, and no pacing (tests of pacing switch it back on).
fn fast() -> HttpOptions {
    HttpOptions {
        rate_limit: false,
        max_retries: 3,
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(50),
        max_wait: Duration::from_secs(10),
        timeout: Duration::from_secs(20),
        ..HttpOptions::default()
    }
}

async fn mock(spec: WorldSpec) -> Mock {
    mock_with(spec, MockOptions::default()).await
}

async fn mock_with(spec: WorldSpec, options: MockOptions) -> Mock {
    mockcrm::pipedrive::start(spec, options)
        .await
        .expect("mock starts")
}

fn connector(mock: &Mock, options: HttpOptions) -> Connector {
    let credentials = Credentials {
        access_token: TOKEN.into(),
        static_token: true,
        ..Credentials::default()
    };
    Connector::new(Provider::Pipedrive, &mock.url(), &credentials, options).expect("connector")
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    since_epoch.as_millis() as i64
}

fn live(world: &World, kind: ObjectKind) -> Vec<u64> {
    match kind {
        ObjectKind::Owner | ObjectKind::Pipeline => (0..world.count(kind)).collect(),
        _ => world.page(kind, None, usize::MAX),
    }
}

fn world_ids(world: &World, kind: ObjectKind) -> BTreeSet<String> {
    live(world, kind)
        .into_iter()
        .map(|idx| external_id_in(world, kind, idx))
        .collect()
}

fn id(idx: u64) -> Option<String> {
    Some((idx + 1).to_string())
}

/// Every field the connector maps, against the world's own record.
fn check(world: &World, kind: ObjectKind, idx: u64, rec: &Record) {
    let raw: serde_json::Value = serde_json::from_str(rec.raw.get()).expect("raw is JSON");
    assert_eq!(
        raw["id"].as_u64(),
        Some(idx + 1),
        "raw payload of {}",
        rec.external_id
    );
    match &rec.data {
        RecordData::Owner(o) => {
            let (name, email) = world.owner(idx).expect("owner");
            assert_eq!(o.name, name);
            assert_eq!(
                o.email.as_deref(),
                Some(email.to_ascii_lowercase().as_str())
            );
            assert!(o.active);
        }
        RecordData::Pipeline(p) => {
            let p_idx = idx as usize;
            assert_eq!(p.label, PIPELINES[p_idx]);
            assert_eq!(p.display_order, p_idx as i64 + 1);
            assert_eq!(p.stages.len(), 4);
            for (s, stage) in p.stages.iter().enumerate() {
                assert_eq!(stage.external_id, stage_external_id(p_idx, s));
                assert_eq!(stage.label, STAGES[s].0);
                assert_eq!(stage.probability, Some(f64::from(STAGES[s].1)));
                assert!(!stage.is_closed && !stage.is_won);
            }
        }
        RecordData::Company(c) => {
            let s = world.company(idx).expect("live company");
            assert_eq!(c.name, s.name);
            assert_eq!(c.owner, id(s.owner));
        }
        RecordData::Contact(c) => {
            let s = world.contact(idx).expect("live contact");
            assert_eq!(c.name, format!("{} {}", s.first_name, s.last_name));
            assert_eq!(c.email.as_deref(), Some(s.email.as_str()));
            assert_eq!(c.phone.as_deref(), Some(s.phone.as_str()));
            assert_eq!(c.title.as_deref(), Some(s.title));
            assert_eq!(c.owner, id(s.owner));
            assert_eq!(c.company, s.company.and_then(id));
        }
        RecordData::Deal(d) => {
            let s = world.deal(idx).expect("live deal");
            let (pos, status) = deal_placement(s.stage);
            assert_eq!(d.name, s.name);
            assert_eq!(
                d.amount.map(|a| a.to_string()),
                Some(format!("{}.00", s.amount))
            );
            assert_eq!(d.currency.as_deref(), Some(s.currency));
            assert_eq!(d.pipeline, Some(pipeline_id(s.pipeline).to_string()));
            assert_eq!(d.stage, Some(stage_external_id(s.pipeline, pos)));
            assert_eq!(d.is_closed, Some(status != "open"));
            assert_eq!(d.is_won, Some(status == "won"));
            assert_eq!(d.close_date.as_deref(), Some(s.close_date.as_str()));
            assert_eq!(d.owner, id(s.owner));
            assert_eq!(d.company, s.company.and_then(id));
            assert_eq!(
                d.contacts,
                s.contacts
                    .first()
                    .and_then(|c| id(*c))
                    .into_iter()
                    .collect::<Vec<_>>()
            );
            assert_eq!(d.created_at, Some(s.meta.created_ms.div_euclid(1000)));
            assert_eq!(d.closed_at, s.closed_ms.map(|ms| ms.div_euclid(1000)));
            // Since `add_time` in its stage, or its stage moves from its flow.
            let history: Vec<(String, i64)> = flow::stage_history(&s)
                .into_iter()
                .map(|(stage, ms)| (stage.to_string(), ms.div_euclid(1000)))
                .collect();
            let got: Vec<(String, i64)> = d
                .stage_history
                .iter()
                .map(|c| (c.stage.clone(), c.at))
                .collect();
            assert_eq!(got, history, "deal {idx}");
        }
        RecordData::Activity(a) => {
            let s = world.activity(idx).expect("live activity");
            assert_eq!(a.activity_type, s.kind);
            assert_eq!(a.body.as_deref(), Some(s.body.as_str()));
            assert_eq!(a.owner, id(s.owner));
            assert_eq!(a.deal, s.deal.and_then(id));
            assert_eq!(a.contact, s.contact.and_then(id));
            assert_eq!(a.company, s.company.and_then(id));
            if s.kind == ActivityType::Note {
                assert_eq!(a.subject, None);
                assert_eq!(a.occurred_at, Some(s.meta.created_ms.div_euclid(1000)));
            } else {
                assert_eq!(a.subject.as_deref(), Some(s.subject.as_str()));
                assert_eq!(a.occurred_at, Some(s.occurred_ms.div_euclid(60_000) * 60));
                assert_eq!(a.duration_secs, s.duration_secs.map(|d| d as i64));
            }
        }
    }
    assert_eq!(rec.data.kind(), kind);
}

/// The mirror holds exactly the world's live records of `kind`, field for field.
fn assert_mirrors(mirror: &Mirror, world: &World, kind: ObjectKind) {
    assert_eq!(mirror.ids(kind), world_ids(world, kind), "{kind}: ids");
    for idx in live(world, kind) {
        let ext = external_id_in(world, kind, idx);
        let rec = mirror.get(kind, &ext).expect("present");
        check(world, kind, idx, rec);
    }
}

async fn sync_all(mirror: &mut Mirror, c: &Connector) {
    mirror.sync_all(c).await.expect("sync");
}

#[tokio::test]
async fn a_full_sync_mirrors_the_world() {
    let m = mock(WorldSpec::small()).await;
    let c = connector(&m, fast());
    let mut mirror = Mirror::default();
    let reports = mirror.sync_all(&c).await.expect("sync");
    let world = &m.state.world;
    for kind in ObjectKind::ALL {
        assert_mirrors(&mirror, world, kind);
        assert_eq!(reports[&kind].skipped, 0);
    }
    // Ids as the mock hands them out, for other tests' oracles.
    assert!(
        mirror
            .ids(ObjectKind::Deal)
            .contains(&external_id(ObjectKind::Deal, 0))
    );
    let notes = mirror
        .ids(ObjectKind::Activity)
        .iter()
        .filter(|i| i.starts_with("note:"))
        .count();
    let expected_notes = live(world, ObjectKind::Activity)
        .into_iter()
        .filter(|i| is_note(world.spec().seed, *i))
        .count();
    assert!(notes > 0);
    assert_eq!(notes, expected_notes);
    // Owners and pipelines stay full passes.
    for kind in [ObjectKind::Owner, ObjectKind::Pipeline] {
        assert_eq!(mirror.checkpoints[&kind], Checkpoint::full());
    }
    for kind in [ObjectKind::Company, ObjectKind::Deal, ObjectKind::Activity] {
        let cp = &mirror.checkpoints[&kind];
        assert_eq!(cp.pass, Pass::Incremental);
        assert!(cp.since_ms.is_some());
    }
    // One request per listing (all fit one page); budget tokens: v2 lists cost 10, v1 20.
    let requests = c.meter().requests();
    assert_eq!(requests, 8, "{:?}", m.state.requests());
    assert_eq!(c.meter().cost(), 6 * 10 + 2 * 20);
}

#[tokio::test]
async fn incremental_passes_read_only_what_changed() {
    let m = mock(WorldSpec::sized(40, 1200, 1300, 1400)).await;
    let c = connector(&m, fast());
    let mut mirror = Mirror::default();
    let world = &m.state.world;
    // Deals that moved between stages hours before the first sync: 100..130 as far as
    // they go (later modifications move them no further), 130..150 one stage.
    let hours_ago = now_ms() - 3 * 3_600_000;
    for idx in 100..150 {
        for k in 0..if idx < 130 { 6 } else { 1 } {
            world.modify_at(ObjectKind::Deal, idx, hours_ago + k * 60_000);
        }
    }
    sync_all(&mut mirror, &c).await;
    let full_requests = c.meter().requests();

    // Changes upstream.
    let changes_from = now_ms();
    for idx in 100..150 {
        world.modify(ObjectKind::Deal, idx);
    }
    world.modify(ObjectKind::Deal, 5);
    world.modify(ObjectKind::Deal, 5);
    world.modify(ObjectKind::Contact, 3);
    world.modify(ObjectKind::Company, 1);
    let seed = world.spec().seed;
    let a_note = (0..).find(|i| is_note(seed, *i)).expect("a note");
    let an_activity = (0..).find(|i| !is_note(seed, *i)).expect("an activity");
    world.modify(ObjectKind::Activity, a_note);
    world.modify(ObjectKind::Activity, an_activity);
    world.delete(ObjectKind::Deal, 7);
    world.delete(ObjectKind::Contact, 4);
    world.delete(ObjectKind::Company, 2);
    world.delete(ObjectKind::Activity, a_note + 1);
    world.create(ObjectKind::Deal, 2);
    world.create(ObjectKind::Contact, 1);
    world.create(ObjectKind::Activity, 3);
    let (modified, deleted) = world.churn(0.01, 0.004, 9);
    assert!(modified > 10 && deleted > 2, "{modified} {deleted}");

    let before = c.meter().requests();
    let cost_before = c.meter().cost();
    m.state.clear_requests();
    let reports = mirror.sync_all(&c).await.expect("incremental sync");
    let incremental_requests = c.meter().requests() - before;
    // Owners 1, pipelines + stages 2, one page each of organizations, persons, deals,
    // archived deals, activities and notes: nothing proportional to the 4,000 records.
    // Besides, one flow read per changed deal that changed stage since the first sync:
    // not for those that moved only hours before it (with an hour's margin), which keep
    // the history the first sync read.
    let flows = m
        .state
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/flow"))
        .count() as u64;
    let modified_deals: Vec<_> = live(world, ObjectKind::Deal)
        .into_iter()
        .filter_map(|idx| world.deal(idx))
        .filter(|d| d.meta.updated_ms >= changes_from)
        .collect();
    let ever_moved = modified_deals
        .iter()
        .filter(|d| flow::stage_change_ms(d).is_some())
        .count() as u64;
    let moved = modified_deals
        .iter()
        .filter(|d| flow::stage_change_ms(d) >= Some(changes_from))
        .count() as u64;
    let kept: Vec<u64> = modified_deals
        .iter()
        .filter(|d| flow::stage_change_ms(d) < Some(changes_from - 2 * 3_600_000))
        .filter(|d| flow::stage_history(d).len() > 2)
        .map(|d| d.meta.idx)
        .collect();
    assert!(moved > 0 && kept.len() > 10, "{moved} {kept:?}");
    assert_eq!(flows, moved, "{:?}", m.state.requests());
    // Before, every modified deal that ever moved cost a flow read.
    assert!(ever_moved >= moved + kept.len() as u64, "{ever_moved}");
    // Those kept their history of several stages from the first sync.
    for &idx in &kept {
        let Some(Record {
            data: RecordData::Deal(d),
            ..
        }) = mirror.get(ObjectKind::Deal, &id(idx).expect("id"))
        else {
            panic!("deal {idx} held")
        };
        assert!(
            d.stage_history.len() > 2 && !d.stage_history_kept,
            "deal {idx}"
        );
    }
    assert_eq!(incremental_requests, 9 + flows, "{:?}", m.state.requests());
    assert_eq!(
        c.meter().cost() - cost_before,
        7 * 10 + 2 * 20 + flows * pipedrive::FLOW_COST
    );
    assert!(full_requests > incremental_requests - flows + 4);
    for kind in [
        ObjectKind::Company,
        ObjectKind::Contact,
        ObjectKind::Deal,
        ObjectKind::Activity,
    ] {
        assert_eq!(
            reports[&kind].swept, 0,
            "{kind}: an incremental pass never sweeps"
        );
        assert!(reports[&kind].upserts < 100, "{kind}: {:?}", reports[&kind]);
    }

    // Deals list their deletions: the mirror equals the world.
    assert_mirrors(&mirror, world, ObjectKind::Deal);
    assert!(reports[&ObjectKind::Deal].deletes >= 1);
    // The other kinds have no deleted listing: every live record is current, and what
    // is left over is exactly what was deleted upstream.
    for kind in [
        ObjectKind::Company,
        ObjectKind::Contact,
        ObjectKind::Activity,
    ] {
        let ids = world_ids(world, kind);
        let held = mirror.ids(kind);
        assert!(ids.is_subset(&held), "{kind}");
        let stale: BTreeSet<String> = held.difference(&ids).cloned().collect();
        let deleted: BTreeSet<String> = world
            .deleted(kind)
            .into_iter()
            .map(|(_, idx)| external_id_in(world, kind, idx))
            .collect();
        assert_eq!(stale, deleted, "{kind}");
        for idx in live(world, kind) {
            check(
                world,
                kind,
                idx,
                mirror
                    .get(kind, &external_id_in(world, kind, idx))
                    .expect("held"),
            );
        }
    }

    // The next day's first pass is a full one, whose sweep removes them.
    for kind in [
        ObjectKind::Company,
        ObjectKind::Contact,
        ObjectKind::Activity,
    ] {
        if let Some(cp) = mirror.checkpoints.get_mut(&kind) {
            cp.since_ms = cp.since_ms.map(|s| s - DAY_MS);
        }
    }
    let reports = mirror.sync_all(&c).await.expect("daily sync");
    for kind in ObjectKind::ALL {
        assert_mirrors(&mirror, world, kind);
    }
    assert!(reports[&ObjectKind::Contact].swept >= 1);
    assert!(reports[&ObjectKind::Activity].swept >= 1);
    // And the day after that is incremental again.
    assert_eq!(
        mirror.checkpoints[&ObjectKind::Contact].pass,
        Pass::Incremental
    );
}

#[tokio::test]
async fn many_pages_and_wide_incremental_windows_sync_completely() {
    let m = mock(WorldSpec::sized(600, 1100, 1600, 2600)).await;
    let c = connector(&m, fast());
    let mut mirror = Mirror::default();
    let reports = mirror.sync_all(&c).await.expect("sync");
    let world = &m.state.world;
    for kind in ObjectKind::ALL {
        assert_mirrors(&mirror, world, kind);
    }
    assert_eq!(reports[&ObjectKind::Deal].pages, 4);
    assert!(
        reports[&ObjectKind::Activity].pages >= 6,
        "{:?}",
        reports[&ObjectKind::Activity]
    );

    // An incremental window wider than a page, in deals and in notes.
    let seed = world.spec().seed;
    for idx in 0..1600 {
        if idx % 2 == 0 {
            world.modify(ObjectKind::Deal, idx);
        }
    }
    let notes: Vec<u64> = live(world, ObjectKind::Activity)
        .into_iter()
        .filter(|i| is_note(seed, *i))
        .collect();
    for idx in &notes {
        world.modify(ObjectKind::Activity, *idx);
    }
    world.create(ObjectKind::Activity, 700);
    assert!(notes.len() > 500, "{}", notes.len());
    let reports = mirror.sync_all(&c).await.expect("incremental");
    assert_eq!(
        reports[&ObjectKind::Deal].pages,
        3,
        "two of changes, one of archived deals"
    );
    assert!(reports[&ObjectKind::Activity].pages >= 4);
    for kind in ObjectKind::ALL {
        assert_mirrors(&mirror, world, kind);
    }
}

/// Apply one batch to a table the way the engine does.
fn apply(table: &mut BTreeMap<String, Record>, seen: &mut HashSet<String>, changes: Vec<Change>) {
    for change in changes {
        match change {
            Change::Upsert(r) => {
                seen.insert(r.external_id.clone());
                if table
                    .get(&r.external_id)
                    .is_none_or(|old| old.updated_at_ms <= r.updated_at_ms)
                {
                    table.insert(r.external_id.clone(), r);
                }
            }
            Change::Delete { external_id } => {
                table.remove(&external_id);
            }
        }
    }
}

#[tokio::test]
async fn notes_survive_offsets_shifting_under_a_pass() {
    for deleted_mid_pass in [5usize, 60] {
        let m = mock(WorldSpec::sized(10, 10, 10, 6000)).await;
        let c = connector(&m, fast());
        let world = &m.state.world;
        let seed = world.spec().seed;
        let notes: Vec<u64> = live(world, ObjectKind::Activity)
            .into_iter()
            .filter(|i| is_note(seed, *i))
            .collect();
        assert!(notes.len() > 1000);
        let mut table = BTreeMap::new();
        let mut seen = HashSet::new();
        let mut cp = Checkpoint::full();
        let mut notes_pages = 0;
        loop {
            let batch = c.fetch(ObjectKind::Activity, &cp).await.expect("page");
            let in_notes = cp.phase == 1;
            apply(&mut table, &mut seen, batch.changes);
            cp = batch.checkpoint;
            if batch.done {
                break;
            }
            if in_notes {
                notes_pages += 1;
                if notes_pages == 1 {
                    // Notes already delivered vanish: every later offset slides down.
                    for idx in notes.iter().take(deleted_mid_pass) {
                        world.delete(ObjectKind::Activity, *idx);
                    }
                }
            }
        }
        let starts: Vec<u64> = m
            .state
            .requests()
            .iter()
            .filter(|r| r.path == "/api/v1/notes")
            .filter_map(|r| {
                r.query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("start="))
                    .and_then(|s| s.parse().ok())
            })
            .collect();
        // A shift within the overlap needs no extra request; a wider one steps back.
        let stepped_back = starts.windows(2).any(|w| w[1] < w[0]);
        assert_eq!(stepped_back, deleted_mid_pass > 20, "{starts:?}");
        let held: BTreeSet<&String> = table.keys().collect();
        for idx in live(world, ObjectKind::Activity) {
            let ext = external_id_in(world, ObjectKind::Activity, idx);
            assert!(
                held.contains(&ext),
                "{deleted_mid_pass} deleted: {ext} was skipped"
            );
        }
    }
}

#[tokio::test]
async fn faults_are_retried_or_reported_without_advancing() {
    let m = mock(WorldSpec::sized(20, 20, 1200, 30)).await;
    let c = connector(&m, fast());

    // A burst 429 with Retry-After is waited out, once.
    m.state.inject([Fault::TooManyRequests {
        retry_after_secs: 1,
    }]);
    let started = Instant::now();
    let owners = c
        .fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect("after 429");
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(owners.changes.len(), 5);
    assert_eq!(c.meter().throttled(), 1);

    // 5xx is retried.
    m.state.inject([Fault::Status(500), Fault::Status(503)]);
    let before = c.meter().requests();
    c.fetch(ObjectKind::Pipeline, &Checkpoint::full())
        .await
        .expect("after 5xx");
    assert_eq!(
        c.meter().requests() - before,
        4,
        "two failures, then pipelines and stages"
    );

    // Truncated, malformed and persistently failing pages are errors; the same
    // checkpoint then succeeds, and the pass converges.
    let mut table = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut cp = Checkpoint::full();
    let faults = [
        vec![Fault::Truncate],
        vec![Fault::Malformed],
        vec![Fault::Status(500); 4],
    ];
    let mut pages = 0;
    loop {
        if let Some(fault) = faults.get(pages) {
            m.state.inject(fault.clone());
            let err = c
                .fetch(ObjectKind::Deal, &cp)
                .await
                .expect_err("a bad page fails");
            match (pages, &err) {
                (0 | 1, ConnectorError::Malformed(_)) => {}
                (2, ConnectorError::Status { status: 500, .. }) => {}
                _ => panic!("page {pages}: {err:?}"),
            }
            assert!(err.is_transient());
        }
        let batch = c
            .fetch(ObjectKind::Deal, &cp)
            .await
            .expect("the retry succeeds");
        // Replaying the same checkpoint is harmless.
        let again = c.fetch(ObjectKind::Deal, &cp).await.expect("replay");
        assert_eq!(again.changes.len(), batch.changes.len());
        apply(&mut table, &mut seen, again.changes);
        apply(&mut table, &mut seen, batch.changes);
        cp = batch.checkpoint;
        pages += 1;
        if batch.done {
            break;
        }
    }
    assert_eq!(pages, 3);
    let world = &m.state.world;
    assert_eq!(
        table.keys().cloned().collect::<BTreeSet<_>>(),
        world_ids(world, ObjectKind::Deal)
    );
    // A truncated notes page (v1) fails the same way.
    let mut notes_cp = Checkpoint::full();
    notes_cp.phase = 1;
    m.state.inject([Fault::Truncate]);
    assert!(matches!(
        c.fetch(ObjectKind::Activity, &notes_cp).await,
        Err(ConnectorError::Malformed(_))
    ));

    // The daily budget answer is QuotaExhausted, not a retry.
    m.state.inject([Fault::DailyLimit]);
    let before = c.meter().requests();
    let err = c
        .fetch(ObjectKind::Company, &Checkpoint::full())
        .await
        .expect_err("budget");
    assert!(matches!(err, ConnectorError::QuotaExhausted), "{err:?}");
    assert_eq!(c.meter().requests() - before, 1);
}

#[tokio::test]
async fn expired_tokens_and_spent_budgets() {
    let m = mock_with(
        WorldSpec::small(),
        MockOptions {
            daily_limit: Some(6),
            ..MockOptions::default()
        },
    )
    .await;
    // An OAuth access token from the mock's token store.
    let code = m
        .state
        .issue_code("mock-client-id", "http://app/cb", None, "base")
        .expect("code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://app/cb"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let (access, _, _) = m
        .state
        .grant(
            &form,
            Some(("mock-client-id".into(), "mock-client-secret".into())),
        )
        .expect("granted");
    let credentials = Credentials {
        access_token: access,
        ..Credentials::default()
    };
    let c = Connector::new(Provider::Pipedrive, &m.url(), &credentials, fast()).expect("connector");
    c.fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect("valid token");
    let quota = c.meter().quota();
    assert_eq!(quota.daily_limit, Some(6));
    assert_eq!(quota.daily_remaining, Some(5));
    m.state.inject([Fault::ExpireTokens]);
    let err = c
        .fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect_err("expired");
    assert!(matches!(err, ConnectorError::Unauthorized), "{err:?}");

    // The static token runs into the (tiny) daily budget.
    let c = connector(&m, fast());
    let mut last = Ok(());
    for _ in 0..10 {
        last = c
            .fetch(ObjectKind::Owner, &Checkpoint::full())
            .await
            .map(|_| ());
        if last.is_err() {
            break;
        }
    }
    assert!(
        matches!(last, Err(ConnectorError::QuotaExhausted)),
        "{last:?}"
    );
    assert_eq!(c.meter().throttled(), 0);
}

#[tokio::test]
async fn only_allow_listed_reads_reach_pipedrive() {
    let m = mock(WorldSpec::sized(30, 600, 700, 800)).await;
    let c = connector(&m, fast());
    let mut mirror = Mirror::default();
    sync_all(&mut mirror, &c).await;
    m.state.world.churn(0.05, 0.01, 3);
    m.state.world.create(ObjectKind::Deal, 3);
    sync_all(&mut mirror, &c).await;
    let requests = m.state.requests();
    assert!(requests.len() >= 16);
    for r in &requests {
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(
            pipedrive::ROUTES
                .iter()
                .any(|route| route.matches(&r.method, &r.path)),
            "not allow-listed: {r:?}"
        );
        assert!(
            r.path.starts_with("/api/v1/") || r.path.starts_with("/api/v2/"),
            "{r:?}"
        );
        assert_eq!(r.status, 200, "{r:?}");
    }
    let writes = requests
        .iter()
        .filter(|r| matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE"))
        .count();
    assert_eq!(writes, 0);
}

fn app() -> OAuthApp {
    OAuthApp {
        client_id: "mock-client-id".into(),
        client_secret: "mock-client-secret".into(),
        redirect_uri: "https://pitchside.example/integrations/pipedrive/callback".into(),
    }
}

fn endpoints(m: &Mock) -> Endpoints {
    Endpoints {
        api: m.url(),
        auth: format!("{}/oauth/authorize", m.url()),
        token: format!("{}/oauth/token", m.url()),
    }
}

/// Walk the authorize redirect and return the code (checking the state came back).
async fn authorize(http: &reqwest::Client, m: &Mock, profile: &Profile) -> String {
    let url = oauth::authorize_url(profile, &app(), &endpoints(m), "state-abc", None).expect("url");
    assert!(
        !url.contains("code_challenge"),
        "Pipedrive documents no PKCE: {url}"
    );
    let response = http.get(&url).send().await.expect("authorize");
    assert_eq!(response.status().as_u16(), 302);
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .expect("redirect")
        .to_owned();
    assert!(location.starts_with(&app().redirect_uri), "{location}");
    let parsed = reqwest::Url::parse(&location).expect("url");
    let q: BTreeMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some("state-abc"));
    q.get("code").cloned().expect("code")
}

#[tokio::test]
async fn oauth_code_refresh_revoke_and_scope_checks() {
    let m = mock(WorldSpec::small()).await;
    let http = connectors::http::build_client(Duration::from_secs(10)).expect("client");
    let profile = Profile::for_provider(Provider::Pipedrive);
    let code = authorize(&http, &m, &profile).await;
    let tokens = oauth::exchange_code(&http, &profile, &app(), &endpoints(&m), &code, None)
        .await
        .expect("exchange");
    assert_eq!(tokens.api_domain.as_deref(), Some(m.url().as_str()));
    assert_eq!(tokens.expires_in, Some(1800));
    assert!(oauth::extra_scopes(&profile, tokens.scope.as_deref()).is_empty());
    // A code is good once.
    assert!(matches!(
        oauth::exchange_code(&http, &profile, &app(), &endpoints(&m), &code, None).await,
        Err(ConnectorError::InvalidGrant)
    ));

    // The tokens read data at the api_domain.
    let api = tokens.api_domain.clone().expect("api_domain");
    let use_token = |access: String| {
        Connector::new(
            Provider::Pipedrive,
            &api,
            &Credentials {
                access_token: access,
                ..Credentials::default()
            },
            fast(),
        )
        .expect("connector")
    };
    let c = use_token(tokens.access_token.clone());
    let owners = c
        .fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect("owners");
    assert_eq!(owners.changes.len(), 5);

    let refresh = tokens.refresh_token.clone().expect("refresh token");
    let refreshed = oauth::refresh(&http, &profile, &app(), &endpoints(&m), &refresh)
        .await
        .expect("refresh");
    assert_ne!(refreshed.access_token, tokens.access_token);
    assert_eq!(m.state.refreshes(), 1);
    use_token(refreshed.access_token.clone())
        .fetch(ObjectKind::Pipeline, &Checkpoint::full())
        .await
        .expect("refreshed token works");

    oauth::revoke(&http, &profile, &app(), &endpoints(&m), &refresh)
        .await
        .expect("revoke");
    assert_eq!(m.state.revoked(), vec![refresh.clone()]);
    assert!(matches!(
        oauth::refresh(&http, &profile, &app(), &endpoints(&m), &refresh).await,
        Err(ConnectorError::InvalidGrant)
    ));
    // Wrong client credentials are refused too.
    let mut wrong = app();
    wrong.client_secret = "nope".into();
    assert!(matches!(
        oauth::refresh(&http, &profile, &wrong, &endpoints(&m), "whatever").await,
        Err(ConnectorError::InvalidGrant)
    ));

    // A grant broader than the app asks for is reported.
    let broad = mock_with(
        WorldSpec::small(),
        MockOptions {
            granted_scope: Some("base,deals:read,deals:full,contacts:read".into()),
            ..MockOptions::default()
        },
    )
    .await;
    let code = authorize(&http, &broad, &profile).await;
    let tokens = oauth::exchange_code(&http, &profile, &app(), &endpoints(&broad), &code, None)
        .await
        .expect("exchange");
    assert_eq!(
        oauth::extra_scopes(&profile, tokens.scope.as_deref()),
        vec!["deals:full".to_owned()]
    );
}

#[tokio::test]
async fn the_burst_limit_is_respected() {
    // Pipedrive's published API-token burst limit (20 per 2 s), enforced by the mock;
    // our limiter on, at its default for API tokens.
    let m = mock_with(
        WorldSpec::sized(10, 10, 4000, 4000),
        MockOptions {
            rate_limit: Some((20, Duration::from_secs(2))),
            ..MockOptions::default()
        },
    )
    .await;
    let c = connector(
        &m,
        HttpOptions {
            rate_limit: true,
            ..fast()
        },
    );
    let mut mirror = Mirror::default();
    sync_all(&mut mirror, &c).await;
    assert!(c.meter().requests() > 20, "{}", c.meter().requests());
    let refused = m
        .state
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(refused <= 3, "{refused} 429s");
    assert_eq!(c.meter().throttled() as usize, refused);
    assert_mirrors(&mirror, &m.state.world, ObjectKind::Deal);

    // An OAuth connector starts at 80 per 2 s and tightens to what the headers say.
    let m = mock_with(
        WorldSpec::sized(10, 10, 3000, 10),
        MockOptions {
            rate_limit: Some((8, Duration::from_secs(2))),
            ..MockOptions::default()
        },
    )
    .await;
    let code = m
        .state
        .issue_code("mock-client-id", "http://app/cb", None, "base")
        .expect("code");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://app/cb"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let (access, _, _) = m
        .state
        .grant(
            &form,
            Some(("mock-client-id".into(), "mock-client-secret".into())),
        )
        .expect("granted");
    let c = Connector::new(
        Provider::Pipedrive,
        &m.url(),
        &Credentials {
            access_token: access,
            ..Credentials::default()
        },
        HttpOptions {
            rate_limit: true,
            ..fast()
        },
    )
    .expect("connector");
    let mut mirror = Mirror::default();
    for kind in [ObjectKind::Owner, ObjectKind::Pipeline, ObjectKind::Deal] {
        mirror.pass(&c, kind).await.expect("pass");
    }
    assert!(c.meter().requests() >= 9);
    let refused = m
        .state
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert!(refused <= 2, "{refused} 429s");
}

/// Records per second of full passes of every kind over ~830,000 records (connector and
/// mock on two worker threads, no database). Run in release:
/// `cargo test --release -p pitchside-connectors --test pipedrive -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn full_pass_throughput() {
    let m = mock(WorldSpec::sized(50_000, 150_000, 130_000, 500_000)).await;
    let c = connector(&m, fast());
    let started = Instant::now();
    let mut total = 0;
    for kind in ObjectKind::ALL {
        let kind_started = Instant::now();
        let mut records = 0;
        let mut cp = Checkpoint::full();
        loop {
            let batch = c.fetch(kind, &cp).await.expect("page");
            records += batch.changes.len();
            cp = batch.checkpoint;
            if batch.done {
                break;
            }
        }
        let secs = kind_started.elapsed().as_secs_f64();
        eprintln!(
            "{kind}: {records} records in {secs:.2} s ({:.0}/s)",
            records as f64 / secs
        );
        total += records;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "total: {total} records in {secs:.2} s = {:.0} records/s, {} requests",
        total as f64 / secs,
        c.meter().requests()
    );
    assert_eq!(total, 830_000 + 5 + 2);
}
