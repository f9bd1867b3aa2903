//! The Salesforce connector against the Salesforce mock: full and incremental syncs
//! converge on the world, cursors survive crashes and expired locators, faults are
//! answered as Salesforce's answers mean, nothing but allow-listed reads is sent, the
//! OAuth web-server flow works end to end, and the request rate stays polite.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::Mirror;
use connectors::oauth::{self, OAuthApp, Profile};
use connectors::salesforce::{DEFAULT_LIMITS, ROUTES};
use connectors::{
    Change, Checkpoint, Connector, ConnectorError, Credentials, Endpoints, HttpOptions, Pass,
};
use domain::crm::{ActivityType, Direction, ObjectKind, Provider, RecordData};
use mockcrm::salesforce::{external_id, is_event};
use mockcrm::world::STAGES;
use mockcrm::{Fault, Mock, MockOptions, WorldSpec};

fn options() -> HttpOptions {
    HttpOptions {
        max_retries: 3,
        backoff_base: Duration::from_millis(5),
        backoff_cap: Duration::from_millis(50),
        timeout: Duration::from_secs(20),
        ..HttpOptions::default()
    }
}

fn token(access: &str) -> Credentials {
    Credentials {
        access_token: access.to_owned(),
        ..Credentials::default()
    }
}

async fn mock(spec: WorldSpec, options: MockOptions) -> Mock {
    mockcrm::salesforce::start(spec, options)
        .await
        .expect("mock starts")
}

fn connector(mock: &Mock) -> Connector {
    Connector::new(
        Provider::Salesforce,
        &mock.url(),
        &token("static-test-token"),
        options(),
    )
    .expect("connector")
}

/// The ids the world holds now, as the connector should name them.
fn world_ids(mock: &Mock, kind: ObjectKind) -> BTreeSet<String> {
    let w = &mock.state.world;
    match kind {
        ObjectKind::Pipeline => BTreeSet::from(["default".to_owned()]),
        _ => w
            .page(kind, None, usize::MAX)
            .into_iter()
            .map(|i| external_id(kind, i))
            .collect(),
    }
}

/// Two id sets are equal; on failure, show only a few differences.
fn same(got: &BTreeSet<String>, want: &BTreeSet<String>, what: &str) {
    let extra: Vec<_> = got.difference(want).take(5).collect();
    let missing: Vec<_> = want.difference(got).take(5).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "{what}: {} got, {} wanted; extra {extra:?}, missing {missing:?}",
        got.len(),
        want.len()
    );
}

fn assert_mirrors_world(mirror: &Mirror, mock: &Mock) {
    for kind in ObjectKind::ALL {
        same(&mirror.ids(kind), &world_ids(mock, kind), kind.as_str());
    }
    let w = &mock.state.world;
    for idx in w.page(ObjectKind::Deal, None, usize::MAX) {
        let seed = w.deal(idx).expect("live");
        let Some(RecordData::Deal(d)) = mirror
            .get(ObjectKind::Deal, &external_id(ObjectKind::Deal, idx))
            .map(|r| &r.data)
        else {
            panic!("deal {idx} missing");
        };
        assert_eq!(
            d.amount.map(|a| a.to_string()),
            Some(format!("{}.00", seed.amount))
        );
        assert_eq!(d.stage.as_deref(), Some(STAGES[seed.stage].0));
        assert_eq!(d.name, seed.name);
    }
    for idx in w.page(ObjectKind::Activity, None, usize::MAX) {
        let seed = w.activity(idx).expect("live");
        let rec = mirror
            .get(
                ObjectKind::Activity,
                &external_id(ObjectKind::Activity, idx),
            )
            .expect("activity mirrored");
        let RecordData::Activity(a) = &rec.data else {
            panic!("not an activity");
        };
        assert_eq!(a.subject.as_deref(), Some(seed.subject.as_str()));
    }
}

#[tokio::test]
async fn a_full_sync_equals_the_world() {
    let mock = mock(WorldSpec::small(), MockOptions::default()).await;
    let c = connector(&mock);
    let mut mirror = Mirror::default();
    let reports = mirror.sync_all(&c).await.expect("sync");
    assert_mirrors_world(&mirror, &mock);
    assert!(reports.values().all(|r| r.skipped == 0), "{reports:?}");
    let w = &mock.state.world;

    // Owners: names, lower-cased emails.
    let (name, email) = w.owner(2).expect("owner");
    let Some(RecordData::Owner(o)) = mirror
        .get(ObjectKind::Owner, &external_id(ObjectKind::Owner, 2))
        .map(|r| &r.data)
    else {
        panic!("owner");
    };
    assert_eq!(
        (o.name.as_str(), o.email.as_deref(), o.active),
        (name.as_str(), Some(email.as_str()), true)
    );

    // The one pipeline and its stages, in order, with probabilities and flags.
    let Some(RecordData::Pipeline(p)) =
        mirror.get(ObjectKind::Pipeline, "default").map(|r| &r.data)
    else {
        panic!("pipeline");
    };
    let stages: Vec<_> = p
        .stages
        .iter()
        .map(|s| (s.external_id.as_str(), s.probability, s.is_closed, s.is_won))
        .collect();
    let want: Vec<_> = STAGES
        .iter()
        .map(|s| (s.0, Some(f64::from(s.1)), s.2, s.3))
        .collect();
    assert_eq!(stages, want);

    // A company: name, domain from the website, industry, owner.
    let seed = w.company(3).expect("company");
    let Some(RecordData::Company(co)) = mirror
        .get(ObjectKind::Company, &external_id(ObjectKind::Company, 3))
        .map(|r| &r.data)
    else {
        panic!("company");
    };
    assert_eq!(co.name, seed.name);
    assert_eq!(co.domain.as_deref(), Some(seed.domain.as_str()));
    assert_eq!(co.industry.as_deref(), Some(seed.industry));
    assert_eq!(co.owner, Some(external_id(ObjectKind::Owner, seed.owner)));

    // Contacts: name, email, title, company.
    for idx in 0..10 {
        let seed = w.contact(idx).expect("contact");
        let Some(RecordData::Contact(ct)) = mirror
            .get(ObjectKind::Contact, &external_id(ObjectKind::Contact, idx))
            .map(|r| &r.data)
        else {
            panic!("contact");
        };
        assert_eq!(ct.name, format!("{} {}", seed.first_name, seed.last_name));
        assert_eq!(ct.email.as_deref(), Some(seed.email.as_str()));
        assert_eq!(ct.title.as_deref(), Some(seed.title));
        assert_eq!(
            ct.company,
            seed.company.map(|c| external_id(ObjectKind::Company, c))
        );
    }

    // Deals: amount as an exact decimal, currency, pipeline/stage, close date, owner,
    // company and contacts (through the contact roles subquery), closed flags.
    let mut with_contacts = 0;
    for idx in 0..30 {
        let seed = w.deal(idx).expect("deal");
        let rec = mirror
            .get(ObjectKind::Deal, &external_id(ObjectKind::Deal, idx))
            .expect("deal");
        let RecordData::Deal(d) = &rec.data else {
            panic!("deal")
        };
        assert_eq!(
            d.amount.map(|a| a.to_string()),
            Some(format!("{}.00", seed.amount))
        );
        assert_eq!(d.currency.as_deref(), Some(seed.currency));
        assert_eq!(d.pipeline.as_deref(), Some("default"));
        assert_eq!(d.stage.as_deref(), Some(STAGES[seed.stage].0));
        assert!(
            p.stages
                .iter()
                .any(|s| Some(&s.external_id) == d.stage.as_ref())
        );
        assert_eq!(d.close_date.as_deref(), Some(seed.close_date.as_str()));
        assert_eq!(d.owner, Some(external_id(ObjectKind::Owner, seed.owner)));
        assert_eq!(
            d.company,
            seed.company.map(|c| external_id(ObjectKind::Company, c))
        );
        let contacts: Vec<String> = seed
            .contacts
            .iter()
            .map(|c| external_id(ObjectKind::Contact, *c))
            .collect();
        assert_eq!(d.contacts, contacts);
        with_contacts += usize::from(!contacts.is_empty());
        assert_eq!(
            (d.is_closed, d.is_won),
            (Some(STAGES[seed.stage].2), Some(STAGES[seed.stage].3))
        );
        assert_eq!(d.next_step, seed.next_step);
        assert_eq!(rec.updated_at_ms, seed.meta.updated_ms);
        assert_eq!(d.created_at, Some(seed.meta.created_ms.div_euclid(1000)));
        // The raw payload is Salesforce's row, verbatim.
        let raw: serde_json::Value = serde_json::from_str(rec.raw.get()).expect("raw JSON");
        assert_eq!(raw["attributes"]["type"], "Opportunity");
        assert_eq!(raw["Id"], external_id(ObjectKind::Deal, idx));
    }
    assert!(with_contacts > 0);

    // Activities: Tasks and Events, type, subject, body, links, time, duration.
    let (mut events, mut calls) = (0, 0);
    for idx in 0..60 {
        let seed = w.activity(idx).expect("activity");
        let Some(RecordData::Activity(a)) = mirror
            .get(
                ObjectKind::Activity,
                &external_id(ObjectKind::Activity, idx),
            )
            .map(|r| &r.data)
        else {
            panic!("activity {idx}");
        };
        let want_type = if is_event(idx) {
            events += 1;
            ActivityType::Meeting
        } else {
            match seed.kind {
                ActivityType::Call => ActivityType::Call,
                ActivityType::Email => ActivityType::Email,
                _ => ActivityType::Task,
            }
        };
        assert_eq!(a.activity_type, want_type, "activity {idx}");
        assert_eq!(a.subject.as_deref(), Some(seed.subject.as_str()));
        assert_eq!(a.body.as_deref(), Some(seed.body.as_str()));
        assert_eq!(a.occurred_at, Some(seed.occurred_ms.div_euclid(1000)));
        assert_eq!(a.owner, Some(external_id(ObjectKind::Owner, seed.owner)));
        assert_eq!(a.deal, seed.deal.map(|d| external_id(ObjectKind::Deal, d)));
        assert_eq!(
            a.contact,
            seed.contact.map(|c| external_id(ObjectKind::Contact, c))
        );
        assert_eq!(
            a.company,
            seed.company.map(|c| external_id(ObjectKind::Company, c))
        );
        if want_type == ActivityType::Call {
            calls += 1;
            assert_eq!(a.duration_secs, seed.duration_secs.map(|d| d as i64));
            assert_eq!(a.outcome.as_deref(), seed.outcome);
            let dir = if seed.inbound {
                Direction::Inbound
            } else {
                Direction::Outbound
            };
            assert_eq!(a.direction, Some(dir));
        }
        if want_type == ActivityType::Meeting {
            assert!(a.duration_secs.is_some_and(|d| d > 0));
        }
    }
    assert!(events > 0 && calls > 0);
}

#[tokio::test]
async fn incremental_passes_bring_changes_and_deletions_with_few_requests() {
    let mock = mock(WorldSpec::small(), MockOptions::default()).await;
    let c = connector(&mock);
    let mut mirror = Mirror::default();
    mirror.sync_all(&c).await.expect("full sync");
    for kind in [ObjectKind::Company, ObjectKind::Deal, ObjectKind::Activity] {
        assert_eq!(mirror.checkpoints[&kind].pass, Pass::Incremental);
    }
    let w = &mock.state.world;
    w.modify(ObjectKind::Deal, 3);
    w.modify(ObjectKind::Deal, 3);
    w.modify(ObjectKind::Activity, 7);
    w.delete(ObjectKind::Contact, 5);
    w.delete(ObjectKind::Activity, 4); // an Event
    w.delete(ObjectKind::Activity, 8); // a Task
    w.create(ObjectKind::Company, 2);
    w.create(ObjectKind::Activity, 3);
    let (modified, deleted) = w.churn(0.1, 0.05, 9);
    assert!(modified > 0 && deleted > 0);
    mock.state.clear_requests();
    let reports = mirror.sync_all(&c).await.expect("incremental sync");
    assert_mirrors_world(&mirror, &mock);
    // One request per kind and source: owners, stages, accounts, contacts,
    // opportunities, tasks, events — not one per page of the whole world.
    assert_eq!(
        mock.state.requests().len(),
        7,
        "{:?}",
        mock.state.requests()
    );
    let deletes: u64 = reports.values().map(|r| r.deletes).sum();
    assert_eq!(deletes, deleted + 3);
    let upserts: u64 = reports
        .iter()
        .filter(|(k, _)| !matches!(k, ObjectKind::Owner | ObjectKind::Pipeline))
        .map(|(_, r)| r.upserts)
        .sum();
    assert!(
        upserts <= modified + 2 + 5 + 3,
        "{upserts} upserts for {modified} modified"
    );
    let Some(RecordData::Deal(d)) = mirror
        .get(ObjectKind::Deal, &external_id(ObjectKind::Deal, 3))
        .map(|r| &r.data)
    else {
        panic!("deal 3");
    };
    assert_eq!(
        d.amount.map(|a| a.to_string()),
        Some(format!("{}.00", w.deal(3).expect("live").amount))
    );

    // Nothing changed since: the next pass costs the same handful of requests (it
    // re-reads the overlap window before the last pass began; replays are harmless).
    mock.state.clear_requests();
    mirror.sync_all(&c).await.expect("quiet sync");
    assert_eq!(mock.state.requests().len(), 7);
    assert_mirrors_world(&mirror, &mock);
}

#[tokio::test]
async fn worlds_larger_than_a_page_sync_completely_and_resume_after_a_crash() {
    let mock = mock(
        WorldSpec::sized(4_500, 50, 50, 5_200),
        MockOptions::default(),
    )
    .await;
    let c = connector(&mock);
    let mut mirror = Mirror::default();

    // Page by page, replaying each page once (as after a crash before the commit).
    let mut cp = Checkpoint::full();
    let mut pages = 0;
    loop {
        let first = c.fetch(ObjectKind::Company, &cp).await.expect("page");
        let again = c.fetch(ObjectKind::Company, &cp).await.expect("replay");
        let ids = |b: &connectors::Batch| -> Vec<String> {
            b.changes
                .iter()
                .map(|ch| match ch {
                    Change::Upsert(r) => r.external_id.clone(),
                    Change::Delete { external_id } => external_id.clone(),
                })
                .collect()
        };
        assert_eq!(ids(&first), ids(&again));
        // Following a stored cursor again lands on the same next page; only a first
        // page opens a new query locator.
        if cp.page.is_some() {
            assert_eq!(first.checkpoint, again.checkpoint);
        }
        pages += 1;
        cp = first.checkpoint;
        if first.done {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(cp.pass, Pass::Incremental);

    mirror.sync_all(&c).await.expect("full sync");
    assert_mirrors_world(&mirror, &mock);
    assert!(mirror.ids(ObjectKind::Activity).len() > 5_000);

    // More changes than one page in the incremental window.
    let w = &mock.state.world;
    for idx in 0..2_500 {
        w.modify(ObjectKind::Company, idx);
    }
    for idx in (0..5_200).step_by(2) {
        w.modify(ObjectKind::Activity, idx);
    }
    w.churn(0.02, 0.01, 3);
    mock.state.clear_requests();
    let reports = mirror.sync_all(&c).await.expect("incremental");
    assert_eq!(reports[&ObjectKind::Company].pages, 2);
    assert_mirrors_world(&mirror, &mock);

    // An expired query locator: the pass re-queries from the last stored record.
    let mut fresh = Mirror::default();
    let first = c
        .fetch(ObjectKind::Activity, &Checkpoint::full())
        .await
        .expect("page 1");
    assert!(!first.done);
    let mut cp = first.checkpoint.clone();
    let stored: BTreeSet<String> = first
        .changes
        .iter()
        .filter_map(|ch| match ch {
            Change::Upsert(r) => Some(r.external_id.clone()),
            Change::Delete { .. } => None,
        })
        .collect();
    cp.page = Some("/services/data/v62.0/query/0r8000000000000ZZZ-2000".into());
    mock.state.clear_requests();
    let second = c.fetch(ObjectKind::Activity, &cp).await.expect("resumed");
    let logged = mock.state.requests();
    assert_eq!(logged.len(), 2, "{logged:?}");
    assert_eq!(logged[0].status, 400);
    assert!(
        logged[1].query.contains("Id+%3E+%27"),
        "{}",
        logged[1].query
    );
    for ch in &second.changes {
        if let Change::Upsert(r) = ch {
            assert!(!stored.contains(&r.external_id), "page 2 repeats page 1");
            assert!(r.external_id > *stored.last().expect("page 1 ids"));
        }
    }
    // And the rest of the pass from such a checkpoint completes the world.
    fresh.checkpoints.insert(ObjectKind::Activity, cp);
    fresh
        .pass(&c, ObjectKind::Activity)
        .await
        .expect("rest of the pass");
    let mut all = fresh.ids(ObjectKind::Activity);
    all.extend(stored);
    same(
        &all,
        &world_ids(&mock, ObjectKind::Activity),
        "activities after a resume",
    );
}

#[tokio::test]
async fn single_currency_orgs_are_read_without_currency_iso_code() {
    let mock = mockcrm::salesforce::start_org(
        WorldSpec::small(),
        MockOptions::default(),
        mockcrm::salesforce::Org {
            multi_currency: false,
        },
    )
    .await
    .expect("mock");
    let c = connector(&mock);
    let mut mirror = Mirror::default();
    mirror.sync_all(&c).await.expect("full");
    assert_mirrors_world(&mirror, &mock);
    let Some(RecordData::Deal(d)) = mirror
        .get(ObjectKind::Deal, &external_id(ObjectKind::Deal, 1))
        .map(|r| &r.data)
    else {
        panic!("deal");
    };
    assert_eq!(d.currency, None);
    // One refused query taught the client; later passes ask without the field at once.
    let refused = |m: &Mock| {
        m.state
            .requests()
            .iter()
            .filter(|r| r.status == 400)
            .count()
    };
    assert_eq!(refused(&mock), 1);
    mock.state.world.modify(ObjectKind::Deal, 2);
    mirror.sync_all(&c).await.expect("incremental");
    assert_eq!(refused(&mock), 1);
    assert_mirrors_world(&mirror, &mock);
}

#[tokio::test]
async fn an_incremental_window_older_than_the_recycle_bin_is_read_in_full() {
    let mock = mock(WorldSpec::small(), MockOptions::default()).await;
    let c = connector(&mock);
    let mut mirror = Mirror::default();
    mirror.sync_all(&c).await.expect("full");
    // Pretend the last pass was three weeks ago, and a record vanished for good since
    // (purged from the recycle bin: no deleted row will ever show it).
    let old = Checkpoint {
        pass: Pass::Incremental,
        since_ms: Some(
            mirror.checkpoints[&ObjectKind::Contact]
                .since_ms
                .expect("since")
                - 21 * 86_400_000,
        ),
        ..Checkpoint::default()
    };
    mirror.checkpoints.insert(ObjectKind::Contact, old);
    let gone = external_id(ObjectKind::Contact, 40);
    let mut ghost = mirror
        .get(ObjectKind::Contact, &external_id(ObjectKind::Contact, 0))
        .expect("c0")
        .clone();
    ghost.external_id = gone.clone();
    mirror
        .records
        .entry(ObjectKind::Contact)
        .or_default()
        .insert(gone.clone(), ghost);
    mock.state.clear_requests();
    let report = mirror.pass(&c, ObjectKind::Contact).await.expect("pass");
    assert_eq!(report.swept, 1);
    assert!(mirror.get(ObjectKind::Contact, &gone).is_none());
    let logged = mock.state.requests();
    assert!(
        logged[0].query.ends_with("ORDER+BY+Id"),
        "{}",
        logged[0].query
    );
    assert_eq!(
        mirror.checkpoints[&ObjectKind::Contact].pass,
        Pass::Incremental
    );
}

#[tokio::test]
async fn faults_are_retried_refused_or_reported_without_advancing() {
    let mock = mock(WorldSpec::sized(2_300, 20, 20, 40), MockOptions::default()).await;
    let c = connector(&mock);

    // 429 with Retry-After: waited for, counted, then served.
    mock.state.inject([Fault::TooManyRequests {
        retry_after_secs: 1,
    }]);
    let started = Instant::now();
    let b = c
        .fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect("after 429");
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(c.meter().throttled(), 1);
    assert_eq!(b.changes.len(), 5);

    // 500s: retried with backoff.
    let before = c.meter().requests();
    mock.state.inject([Fault::Status(500), Fault::Status(503)]);
    c.fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect("after 5xx");
    assert_eq!(c.meter().requests() - before, 3);
    // … but not forever.
    mock.state
        .inject(std::iter::repeat_n(Fault::Status(500), 4));
    let r = c.fetch(ObjectKind::Owner, &Checkpoint::full()).await;
    assert!(
        matches!(r, Err(ConnectorError::Status { status: 500, .. })),
        "{r:?}"
    );

    // Truncated and malformed pages: an error, and the checkpoint does not move; the
    // same checkpoint then succeeds and the mirror converges.
    let first = c
        .fetch(ObjectKind::Company, &Checkpoint::full())
        .await
        .expect("page 1");
    for fault in [Fault::Truncate, Fault::Malformed] {
        mock.state.inject([fault]);
        let r = c.fetch(ObjectKind::Company, &first.checkpoint).await;
        assert!(matches!(r, Err(ConnectorError::Malformed(_))), "{r:?}");
        assert!(r.as_ref().err().is_some_and(ConnectorError::is_transient));
    }
    let mut mirror = Mirror::default();
    mock.state.inject([Fault::Truncate]);
    assert!(mirror.pass(&c, ObjectKind::Company).await.is_err());
    assert!(!mirror.checkpoints.contains_key(&ObjectKind::Company));
    mirror.sync_all(&c).await.expect("sync after the faults");
    assert_mirrors_world(&mirror, &mock);

    // The daily allocation used up: 403 REQUEST_LIMIT_EXCEEDED, not retried.
    let before = c.meter().requests();
    mock.state.inject([Fault::DailyLimit]);
    let r = c.fetch(ObjectKind::Deal, &Checkpoint::full()).await;
    assert!(matches!(r, Err(ConnectorError::QuotaExhausted)), "{r:?}");
    assert_eq!(c.meter().requests() - before, 1);
    // The allocation as Sforce-Limit-Info reports it.
    let q = c.meter().quota();
    assert_eq!(q.daily_limit, Some(100_000));
    assert!(q.daily_used.is_some_and(|u| u > 0));
}

#[tokio::test]
async fn quota_and_expired_sessions() {
    let mock = mock(
        WorldSpec::small(),
        MockOptions {
            daily_limit: Some(3),
            ..MockOptions::default()
        },
    )
    .await;
    let c = connector(&mock);
    let mut mirror = Mirror::default();
    let r = mirror.sync_all(&c).await;
    assert!(matches!(r, Err(ConnectorError::QuotaExhausted)), "{r:?}");
    let q = c.meter().quota();
    assert_eq!(
        (q.daily_used, q.daily_limit, q.daily_remaining),
        (Some(3), Some(3), Some(0))
    );

    // An unknown or expired session: 401 INVALID_SESSION_ID → Unauthorized.
    let bad = Connector::new(
        Provider::Salesforce,
        &mock.url(),
        &token("expired"),
        options(),
    )
    .expect("c");
    let r = bad.fetch(ObjectKind::Owner, &Checkpoint::full()).await;
    assert!(matches!(r, Err(ConnectorError::Unauthorized)), "{r:?}");
}

#[tokio::test]
async fn only_allow_listed_reads_reach_salesforce() {
    let mock = mock(WorldSpec::sized(2_100, 40, 30, 60), MockOptions::default()).await;
    let c = connector(&mock);
    let mut mirror = Mirror::default();
    mirror.sync_all(&c).await.expect("full");
    mock.state.world.churn(0.2, 0.1, 5);
    mirror.sync_all(&c).await.expect("incremental");
    let logged = mock.state.requests();
    assert!(logged.len() >= 14);
    for r in &logged {
        assert_eq!(r.method, "GET", "{r:?}");
        assert!(
            ROUTES.iter().any(|route| route.matches(&r.method, &r.path)),
            "{r:?}"
        );
        assert!(r.path.starts_with("/services/data/v62.0/query"), "{r:?}");
    }
    // Writes are refused before anything is sent.
    let Connector::Salesforce(client) = &c else {
        panic!("salesforce")
    };
    for (m, p) in [
        (
            "PATCH",
            "/services/data/v62.0/sobjects/Account/001000000000001AAA",
        ),
        ("POST", "/services/data/v62.0/sobjects/Account"),
        (
            "DELETE",
            "/services/data/v62.0/sobjects/Account/001000000000001AAA",
        ),
        ("POST", "/services/data/v62.0/composite"),
        ("GET", "/services/data/v62.0/sobjects/Account"),
        ("POST", "/services/data/v62.0/query"),
        ("GET", "/services/data/v62.0/query/../sobjects"),
    ] {
        assert!(
            matches!(
                client.http().permit(m, p),
                Err(ConnectorError::WriteRefused { .. })
            ),
            "{m} {p}"
        );
    }
}

fn endpoints(mock: &Mock) -> Endpoints {
    let base = mock.url();
    Endpoints {
        api: base.clone(),
        auth: format!("{base}/services/oauth2/authorize"),
        token: format!("{base}/services/oauth2/token"),
    }
}

fn app() -> OAuthApp {
    OAuthApp {
        client_id: "mock-client-id".into(),
        client_secret: "mock-client-secret".into(),
        redirect_uri: "https://pitchside.example/integrations/salesforce/callback".into(),
    }
}

/// Follow the authorize URL to its redirect; the code and state it carries.
async fn authorize(http: &reqwest::Client, mock: &Mock, verifier: &str) -> (String, String) {
    let profile = Profile::for_provider(Provider::Salesforce);
    let url = oauth::authorize_url(
        &profile,
        &app(),
        &endpoints(mock),
        "state-123",
        Some(verifier),
    )
    .expect("url");
    let r = http.get(&url).send().await.expect("authorize");
    assert_eq!(r.status().as_u16(), 302);
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned();
    assert!(location.starts_with(&app().redirect_uri));
    let parsed = reqwest::Url::parse(&location).expect("redirect URL");
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    (q["code"].clone(), q["state"].clone())
}

#[tokio::test]
async fn oauth_web_server_flow_with_pkce() {
    let mock = mock(WorldSpec::small(), MockOptions::default()).await;
    let http = connectors::http::build_client(Duration::from_secs(10)).expect("client");
    let profile = Profile::for_provider(Provider::Salesforce);
    let (verifier, _) = oauth::pkce_pair();
    let (code, state) = authorize(&http, &mock, &verifier).await;
    assert_eq!(state, "state-123");

    // A wrong verifier is refused (and spends the code).
    let r = oauth::exchange_code(
        &http,
        &profile,
        &app(),
        &endpoints(&mock),
        &code,
        Some(&"x".repeat(43)),
    )
    .await;
    assert!(matches!(r, Err(ConnectorError::InvalidGrant)), "{r:?}");

    let (code, _) = authorize(&http, &mock, &verifier).await;
    let tokens = oauth::exchange_code(
        &http,
        &profile,
        &app(),
        &endpoints(&mock),
        &code,
        Some(&verifier),
    )
    .await
    .expect("tokens");
    assert_eq!(tokens.expires_in, None);
    assert_eq!(tokens.instance_url.as_deref(), Some(mock.url().as_str()));
    assert!(oauth::extra_scopes(&profile, tokens.scope.as_deref()).is_empty());
    let refresh = tokens.refresh_token.clone().expect("refresh token");

    // The access token reads data from the instance URL.
    let instance = tokens.instance_url.clone().expect("instance");
    let c = Connector::new(
        Provider::Salesforce,
        &instance,
        &token(&tokens.access_token),
        options(),
    )
    .expect("c");
    assert_eq!(
        c.fetch(ObjectKind::Owner, &Checkpoint::full())
            .await
            .expect("owners")
            .changes
            .len(),
        5
    );

    // Sessions end without notice: a 401, then a refresh gives a working token.
    mock.state.inject([Fault::ExpireTokens]);
    let r = c.fetch(ObjectKind::Owner, &Checkpoint::full()).await;
    assert!(matches!(r, Err(ConnectorError::Unauthorized)), "{r:?}");
    let renewed = oauth::refresh(&http, &profile, &app(), &endpoints(&mock), &refresh)
        .await
        .expect("refresh");
    assert_eq!(mock.state.refreshes(), 1);
    let c = Connector::new(
        Provider::Salesforce,
        &instance,
        &token(&renewed.access_token),
        options(),
    )
    .expect("c");
    c.fetch(ObjectKind::Owner, &Checkpoint::full())
        .await
        .expect("owners with the new token");

    // Disconnect: revoked at Salesforce; the refresh token is dead.
    oauth::revoke(&http, &profile, &app(), &endpoints(&mock), &refresh)
        .await
        .expect("revoke");
    assert_eq!(mock.state.revoked(), vec![refresh.clone()]);
    let r = oauth::refresh(&http, &profile, &app(), &endpoints(&mock), &refresh).await;
    assert!(matches!(r, Err(ConnectorError::InvalidGrant)), "{r:?}");
    assert!(
        mock.state
            .requests()
            .iter()
            .any(|l| l.method == "POST" && l.path == "/services/oauth2/revoke")
    );
}

#[tokio::test]
async fn broader_grants_are_flagged() {
    let mock = mock(
        WorldSpec::small(),
        MockOptions {
            granted_scope: Some("api refresh_token full".into()),
            ..MockOptions::default()
        },
    )
    .await;
    let http = connectors::http::build_client(Duration::from_secs(10)).expect("client");
    let profile = Profile::for_provider(Provider::Salesforce);
    let (verifier, _) = oauth::pkce_pair();
    let (code, _) = authorize(&http, &mock, &verifier).await;
    let tokens = oauth::exchange_code(
        &http,
        &profile,
        &app(),
        &endpoints(&mock),
        &code,
        Some(&verifier),
    )
    .await
    .expect("tokens");
    assert_eq!(
        oauth::extra_scopes(&profile, tokens.scope.as_deref()),
        vec!["full".to_owned()]
    );
}

#[test]
fn default_limits_are_salesforces_published_ones() {
    // No per-second or per-minute REST limit is published; the daily allocation binds.
    assert_eq!(DEFAULT_LIMITS, [None]);
}

#[tokio::test]
async fn a_burst_window_meets_only_a_handful_of_429s() {
    let mock = mock(
        WorldSpec::small(),
        MockOptions {
            rate_limit: Some((3, Duration::from_millis(700))),
            ..MockOptions::default()
        },
    )
    .await;
    let c = connector(&mock);
    let mut mirror = Mirror::default();
    mirror.sync_all(&c).await.expect("sync");
    mirror.sync_all(&c).await.expect("again");
    assert_mirrors_world(&mirror, &mock);
    let throttled = c.meter().throttled();
    assert!(throttled <= 5, "{throttled} 429s for 14 requests");
    // Every 429 paused the whole bucket for its Retry-After, so none came twice in a row.
    let logged = mock.state.requests();
    assert!(
        logged
            .windows(2)
            .all(|w| !(w[0].status == 429 && w[1].status == 429)),
        "{logged:?}"
    );
}

/// Records/s of a full pass of every kind against the mock (connector and mock only,
/// no database). `cargo test --release -p pitchside-connectors --test salesforce
/// throughput -- --ignored --nocapture`; `PITCHSIDE_SF_BENCH_RECORDS` sets the size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn throughput_of_a_full_sync() {
    let total: u64 = std::env::var("PITCHSIDE_SF_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(830_000);
    let spec = WorldSpec::sized(total / 10, total * 3 / 10, total / 10, total / 2);
    let mock = mock(spec, MockOptions::default()).await;
    let c = Connector::new(
        Provider::Salesforce,
        &mock.url(),
        &token("static-test-token"),
        HttpOptions {
            rate_limit: false,
            ..options()
        },
    )
    .expect("connector");
    let started = Instant::now();
    let mut records = 0u64;
    for kind in ObjectKind::ALL {
        let t = Instant::now();
        let mut cp = Checkpoint::full();
        let mut n = 0u64;
        loop {
            let b = c.fetch(kind, &cp).await.expect("page");
            n += b.changes.len() as u64;
            cp = b.checkpoint;
            if b.done {
                break;
            }
        }
        println!("{kind}: {n} records in {:.2?}", t.elapsed());
        records += n;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{records} records in {secs:.2} s: {:.0} records/s, {} requests",
        records as f64 / secs,
        c.meter().requests()
    );

    // Then 1% modified and 0.2% deleted: an incremental sync of everything.
    let mut mirror = Mirror::default();
    for kind in ObjectKind::ALL {
        let mut cp = Checkpoint::full();
        cp.started_ms = c.meter().server_ms();
        mirror.checkpoints.insert(kind, cp.next_pass());
    }
    let (modified, deleted) = mock.state.world.churn(0.01, 0.002, 1);
    let before = c.meter().requests();
    let t = Instant::now();
    let reports = mirror.sync_all(&c).await.expect("incremental");
    let upserts: u64 = reports.values().map(|r| r.upserts).sum();
    let deletes: u64 = reports.values().map(|r| r.deletes).sum();
    println!(
        "incremental after {modified} modified, {deleted} deleted: {upserts} upserts, {deletes} deletes, {} requests in {:.2?}",
        c.meter().requests() - before,
        t.elapsed()
    );
    assert_eq!(deletes, deleted);
}
