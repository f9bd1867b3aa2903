//! The sync engine against the HubSpot mock, on SQLite and PostgreSQL: complete and
//! incremental syncs, deletions, replays, faults, token refresh, leases, quota and the
//! read-only promise.

mod common;

use std::time::Duration;

use common::Harness;
use domain::crm::ObjectKind;
use mockcrm::{Fault, MockOptions, WorldSpec};
use store::PageRequest;
use store::crm::{AuthKind, ConnectionStatus, DealFilter, Tokens};
use testkit::backends;

fn world() -> WorldSpec {
    let mut spec = WorldSpec::sized(60, 140, 120, 260);
    spec.body_marker = Some("CANARY-BODY-7f3a".into());
    spec
}

fn live(h: &Harness, kind: ObjectKind) -> i64 {
    h.mock.state.world.live_count(kind) as i64
}

async fn assert_mirrors_world(h: &Harness) {
    for (kind, table) in [
        (ObjectKind::Company, "crm_companies"),
        (ObjectKind::Contact, "crm_contacts"),
        (ObjectKind::Deal, "crm_deals"),
        (ObjectKind::Activity, "crm_activities"),
    ] {
        assert_eq!(h.count(table).await, live(h, kind), "{table}");
    }
    assert_eq!(h.count("crm_owners").await, live(h, ObjectKind::Owner));
    assert_eq!(
        h.count("crm_pipelines").await,
        live(h, ObjectKind::Pipeline)
    );
    assert!(h.count("crm_stages").await >= live(h, ObjectKind::Pipeline) * 2);
}

#[tokio::test]
async fn a_first_sync_mirrors_everything_and_later_ones_only_what_changed() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        let connection = h.connect_token().await;
        let engine = h.engine();
        let reports = engine.run_until_idle().await.expect("run");
        assert_eq!(reports.len(), 1, "{backend:?}");
        assert_eq!(reports[0].status, "succeeded", "{:?}", reports[0].error);
        assert_mirrors_world(&h).await;
        let first = reports[0].stats.total();
        assert!(first.created > 500, "{first:?}");
        assert_eq!(first.skipped, 0);

        // Amounts, stages and owners as the API will show them.
        let deals = h
            .store
            .list_deals(
                &h.scope,
                &DealFilter::default(),
                &PageRequest::new(Some(200), None).expect("page"),
            )
            .await
            .expect("deals");
        assert_eq!(deals.items.len(), 120);
        let seed = h.mock.state.world.deal(0).expect("deal 0");
        let ext = mockcrm::hubspot::external_id(ObjectKind::Deal, 0);
        let d = deals
            .items
            .iter()
            .find(|d| d.external_id == ext)
            .expect("deal 0 mirrored");
        assert_eq!(d.name, seed.name);
        assert_eq!(
            d.amount.as_deref(),
            Some(format!("{}.00", seed.amount).as_str())
        );
        assert!(
            d.stage.as_ref().and_then(|s| s.label.clone()).is_some(),
            "{d:?}"
        );

        // Everything free-text is sealed: raw payloads and bodies never in plain text.
        assert_eq!(
            h.scalar("SELECT COUNT(*) FROM crm_activities WHERE raw_sealed NOT LIKE 'gAAAAA%' OR body_sealed NOT LIKE 'gAAAAA%'").await,
            0
        );
        assert_eq!(
            h.scalar("SELECT COUNT(*) FROM crm_activities WHERE raw_sealed LIKE '%CANARY%' OR body_sealed LIKE '%CANARY%'").await,
            0
        );

        // Nothing changed: the next run reads (almost) nothing.
        h.store
            .request_sync(&h.scope, &connection.id, false)
            .await
            .expect("sync now");
        let quiet = engine.run_until_idle().await.expect("run");
        assert_eq!(quiet[0].status, "succeeded");
        let unchanged_checksum = h.checksum().await;

        // 5% modified, 1% deleted, a few created: the next run converges and reads in
        // proportion to the change.
        let (modified, deleted) = h.mock.state.world.churn(0.05, 0.01, 11);
        h.mock.state.world.create(ObjectKind::Deal, 3);
        h.mock.state.world.create(ObjectKind::Activity, 4);
        h.mock.state.clear_requests();
        h.store
            .request_sync(&h.scope, &connection.id, false)
            .await
            .expect("sync now");
        let reports = engine.run_until_idle().await.expect("run");
        assert_eq!(reports[0].status, "succeeded", "{:?}", reports[0].error);
        assert_mirrors_world(&h).await;
        assert_ne!(h.checksum().await, unchanged_checksum);
        let t = reports[0].stats.total();
        assert!(t.deleted >= deleted, "{t:?} vs {deleted} deleted");
        assert!(
            t.created + t.updated >= modified + 7,
            "{t:?} vs {modified} modified"
        );
        let total_records = 60 + 140 + 120 + 260;
        assert!(
            t.read < total_records / 4,
            "an incremental run read {} of {total_records} records",
            t.read
        );
        assert_eq!(
            reports[0].stats.passes.get("deal").map(String::as_str),
            Some("incremental")
        );
    }
}

#[tokio::test]
async fn replaying_and_resyncing_change_nothing_and_leave_no_duplicates() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        let connection = h.connect_token().await;
        let engine = h.engine();
        engine.run_until_idle().await.expect("run");
        let before = h.checksum().await;
        // A full re-sync reads everything again (every page replayed).
        h.store
            .request_sync(&h.scope, &connection.id, true)
            .await
            .expect("resync");
        let reports = engine.run_until_idle().await.expect("run");
        assert_eq!(reports[0].status, "succeeded");
        assert_eq!(
            reports[0].stats.passes.get("activity").map(String::as_str),
            Some("full")
        );
        assert_eq!(h.checksum().await, before, "{backend:?}");
        assert_mirrors_world(&h).await;
    }
}

#[tokio::test]
async fn deletions_in_the_crm_disappear_and_a_full_resync_converges() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        let connection = h.connect_token().await;
        let engine = h.engine();
        engine.run_until_idle().await.expect("run");
        for idx in [0, 5, 9] {
            h.mock.state.world.delete(ObjectKind::Deal, idx);
        }
        h.mock.state.world.delete(ObjectKind::Contact, 3);
        h.store
            .request_sync(&h.scope, &connection.id, false)
            .await
            .expect("sync");
        engine.run_until_idle().await.expect("run");
        assert_mirrors_world(&h).await;
        let gone = mockcrm::hubspot::external_id(ObjectKind::Deal, 5);
        assert_eq!(
            h.scalar(&format!(
                "SELECT COUNT(*) FROM crm_deals WHERE external_id = '{gone}'"
            ))
            .await,
            0
        );
        assert_eq!(
            h.scalar(&format!(
                "SELECT COUNT(*) FROM crm_deal_contacts WHERE deal_ext = '{gone}'"
            ))
            .await,
            0,
            "{backend:?}: associations of a deleted deal remain"
        );
        // More deletions, then a full re-sync: the mirror equals the CRM again.
        h.mock.state.world.churn(0.0, 0.05, 3);
        h.store
            .request_sync(&h.scope, &connection.id, true)
            .await
            .expect("resync");
        engine.run_until_idle().await.expect("run");
        assert_mirrors_world(&h).await;
    }
}

#[tokio::test]
async fn the_crm_never_receives_a_write() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        let connection = h.connect_token().await;
        let engine = h.engine();
        engine.run_until_idle().await.expect("run");
        h.mock.state.world.churn(0.1, 0.02, 5);
        h.store
            .request_sync(&h.scope, &connection.id, false)
            .await
            .expect("sync");
        engine.run_until_idle().await.expect("run");
        let requests = h.mock.state.requests();
        assert!(requests.len() > 20);
        for r in requests {
            let read_post = r.method == "POST"
                && (r.path.ends_with("/search") || r.path.ends_with("/batch/read"));
            assert!(
                r.method == "GET" || read_post,
                "{backend:?}: {} {}",
                r.method,
                r.path
            );
        }
    }
}

#[tokio::test]
async fn transient_faults_are_retried_and_nothing_is_half_written() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        h.connect_token().await;
        h.mock.state.inject([
            Fault::Status(500),
            Fault::Truncate,
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
            Fault::Malformed,
            Fault::Status(503),
            Fault::Delay(Duration::from_millis(50)),
            Fault::Truncate,
        ]);
        let reports = h.engine().run_until_idle().await.expect("run");
        assert_eq!(
            reports[0].status, "succeeded",
            "{backend:?}: {:?}",
            reports[0].error
        );
        assert!(reports[0].stats.throttled >= 1);
        assert_mirrors_world(&h).await;
    }
}

#[tokio::test]
async fn a_connection_that_keeps_failing_turns_unhealthy_and_admins_are_told() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        let connection = h.connect_token().await;
        let engine = h.engine();
        // Exactly what one run spends on its first page before giving up: the HTTP
        // layer's attempts times the engine's.
        let per_run = ((h.config.http.max_retries + 1) * h.config.page_attempts) as usize;
        for run in 0..3 {
            h.mock
                .state
                .inject(std::iter::repeat_n(Fault::Status(500), per_run));
            h.store
                .request_sync(&h.scope, &connection.id, false)
                .await
                .expect("sync");
            let reports = engine.run_until_idle().await.expect("run");
            assert_eq!(reports[0].status, "failed", "run {run}");
            let c = h
                .store
                .get_connection(&h.scope, &connection.id)
                .await
                .expect("get");
            let expected = if run < 2 {
                ConnectionStatus::Active
            } else {
                ConnectionStatus::Unhealthy
            };
            assert_eq!(c.status, expected, "{backend:?} run {run}");
            assert!(
                c.status_reason
                    .as_deref()
                    .unwrap_or_default()
                    .contains("500"),
                "{:?}",
                c.status_reason
            );
        }
        assert_eq!(
            h.scalar("SELECT COUNT(*) FROM outbox_emails WHERE kind = 'integration_alert'")
                .await,
            1,
            "one email, not one per failed run"
        );
        assert_eq!(
            h.scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'integration.unhealthy'")
                .await,
            1
        );
    }
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_a_refused_refresh_needs_reconnect() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        let state = &h.mock.state;
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
        let (access, refresh, _) = state.grant(&form, None).expect("grant");
        let connection = h
            .connect(
                AuthKind::OAuth,
                Tokens {
                    access_token: access,
                    refresh_token: Some(refresh.clone()),
                    expires_at: Some(h.store.clock().now() + 1800),
                },
            )
            .await;
        let engine = h.engine();
        // The token dies mid-run: one refresh, and the run completes.
        state.inject([Fault::ExpireTokens]);
        let reports = engine.run_until_idle().await.expect("run");
        assert_eq!(reports[0].status, "succeeded", "{:?}", reports[0].error);
        assert_eq!(state.refreshes(), 1);
        assert_mirrors_world(&h).await;

        // The refresh token is revoked upstream: exactly one refresh attempt, then the
        // connection needs a person.
        state.revoke(&refresh);
        state.expire_tokens();
        h.store
            .request_sync(&h.scope, &connection.id, false)
            .await
            .expect("sync");
        let reports = engine.run_until_idle().await.expect("run");
        assert_eq!(reports[0].status, "needs_reconnect", "{backend:?}");
        let c = h
            .store
            .get_connection(&h.scope, &connection.id)
            .await
            .expect("get");
        assert_eq!(c.status, ConnectionStatus::NeedsReconnect);
        assert_eq!(
            h.scalar(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'integration.refresh_failed'"
            )
            .await,
            1
        );
        // The committed progress stays.
        assert_mirrors_world(&h).await;
    }
}

#[tokio::test]
async fn one_worker_syncs_a_connection_at_a_time_and_a_lapsed_lease_moves_on() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        h.connect_token().await;
        let lease = h
            .store
            .claim_job("worker-a", 60)
            .await
            .expect("claim")
            .expect("due");
        // A second worker finds nothing to do while the lease holds.
        assert!(
            h.engine().run_next().await.expect("run").is_none(),
            "{backend:?}"
        );
        // The first worker dies; its lease lapses; another takes over and finishes.
        h.store.clock().advance(120);
        let reports = h.engine().run_until_idle().await.expect("run");
        assert_eq!(reports.len(), 1);
        assert_eq!(reports[0].status, "succeeded");
        assert_mirrors_world(&h).await;
        // The dead worker cannot write any more.
        assert!(!h.store.renew_lease(&lease).await.expect("renew"));
    }
}

#[tokio::test]
async fn a_sync_stops_at_its_share_of_the_daily_budget() {
    for backend in backends() {
        let h = Harness::new(
            backend,
            WorldSpec::sized(400, 400, 400, 400),
            MockOptions {
                daily_limit: Some(40),
                ..MockOptions::default()
            },
        )
        .await;
        let connection = h.connect_token().await;
        let reports = h.engine().run_until_idle().await.expect("run");
        assert_eq!(
            reports[0].status, "paused",
            "{backend:?}: {:?}",
            reports[0].error
        );
        let c = h
            .store
            .get_connection(&h.scope, &connection.id)
            .await
            .expect("get");
        assert_eq!(c.status, ConnectionStatus::Paused);
        let day = h
            .store
            .quota_day(&h.scope, &connection.id, &today(&h))
            .await
            .expect("quota");
        assert_eq!(day.daily_limit, Some(40));
        // The share (20 of 40) is checked between groups of pages while the next pages
        // are already being fetched, so the run stops at the first check past it: at
        // least 20, at most what the fetcher read ahead in the kind where the share ran
        // out. Every full-pass page is one request (deals come 50 a page with their
        // stage history, no batch reads): owners, pipelines, companies, contacts and
        // deals take 2 + 1 + 4 + 4 + 8 = 19, so the share runs out on the first of the
        // five one-page engagement types, and the whole sync is 24.
        assert!((20..=24).contains(&day.used), "{day:?}");
    }
}

fn today(h: &Harness) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(h.store.clock().now()).expect("now");
    format!(
        "{:04}-{:02}-{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day()
    )
}

#[tokio::test]
async fn a_token_moved_from_another_organization_does_not_open_and_nothing_is_sent() {
    for backend in backends() {
        let h = Harness::new(backend, world(), MockOptions::default()).await;
        let theirs = h.connect_token().await;
        let other_scope = common::admin_scope(&h.store, "beta").await;
        let ours = h
            .store
            .create_connection(
                &other_scope,
                store::crm::NewConnection {
                    provider: domain::crm::Provider::Hubspot,
                    auth_kind: AuthKind::Token,
                    api_base: h.mock.url(),
                    tokens: Tokens {
                        access_token: "beta-token".into(),
                        refresh_token: None,
                        expires_at: None,
                    },
                    extra_scopes: Vec::new(),
                    sync_interval_secs: 900,
                    quota_share_pct: 50,
                },
            )
            .await
            .expect("connection");
        // Copy org A's sealed token into org B's row, as an attacker with database
        // access might.
        let pool = h.store.raw_pool_for_tests();
        let token: String = {
            let mut tx = pool.begin().await.expect("begin");
            if backend == testkit::Backend::Postgres {
                sqlx::query("SELECT set_config('app.org_id', $1, true)")
                    .bind(h.scope.org_id().to_string())
                    .execute(&mut *tx)
                    .await
                    .expect("ctx");
            }
            let t = sqlx::query_scalar("SELECT access_sealed FROM crm_tokens WHERE id = $1")
                .bind(theirs.id.clone())
                .fetch_one(&mut *tx)
                .await
                .expect("token");
            tx.commit().await.expect("commit");
            t
        };
        {
            let mut tx = pool.begin().await.expect("begin");
            if backend == testkit::Backend::Postgres {
                sqlx::query("SELECT set_config('app.org_id', $1, true)")
                    .bind(other_scope.org_id().to_string())
                    .execute(&mut *tx)
                    .await
                    .expect("ctx");
            }
            sqlx::query("UPDATE crm_tokens SET access_sealed = $1 WHERE id = $2")
                .bind(token)
                .bind(ours.id.clone())
                .execute(&mut *tx)
                .await
                .expect("tamper");
            tx.commit().await.expect("commit");
        }
        let engine = h.engine();
        let reports = engine.run_until_idle().await.expect("run");
        let b = reports
            .iter()
            .find(|r| r.connection_id == ours.id)
            .expect("b ran");
        assert_eq!(b.status, "needs_reconnect", "{backend:?}: {:?}", b.error);
        assert_eq!(b.stats.requests, 0);
        let audited = common::scalar_in(
            &h.store,
            &other_scope.org_id().to_string(),
            "SELECT COUNT(*) FROM audit_events WHERE action = 'sealed.open_failed'",
        )
        .await;
        assert_eq!(audited, 1);
    }
}
