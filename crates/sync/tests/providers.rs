//! Every provider through the whole engine and store, on SQLite and PostgreSQL: a full
//! sync equals the mock's world, an incremental one after changes converges again, and
//! the mock never sees a request outside the connector's read allow-list.

mod common;

use common::Harness;
use domain::crm::{ObjectKind, Provider, StageChange};
use mockcrm::world::STAGES;
use mockcrm::{MockOptions, WorldSpec};
use testkit::backends;

async fn counts_match(h: &Harness) {
    for (kind, table) in [
        (ObjectKind::Company, "crm_companies"),
        (ObjectKind::Contact, "crm_contacts"),
        (ObjectKind::Deal, "crm_deals"),
        (ObjectKind::Activity, "crm_activities"),
    ] {
        let live = h.mock.state.world.live_count(kind) as i64;
        assert_eq!(h.count(table).await, live, "{:?} {table}", h.provider);
    }
}

/// The stage a deal in world stage `stage` of `pipeline` has, as `provider`'s mock
/// renders it: Salesforce's stage name, HubSpot's stage id, and Pipedrive's stage id of
/// the deal's placement (won and lost deals sit in an open stage there).
fn provider_stage(provider: Provider, pipeline: usize, stage: usize) -> String {
    match provider {
        Provider::Salesforce => STAGES[stage].0.to_owned(),
        Provider::Hubspot => mockcrm::hubspot::stage_id(pipeline, stage),
        Provider::Pipedrive => {
            let (position, _) = mockcrm::pipedrive::deal_placement(stage);
            mockcrm::pipedrive::stage_external_id(pipeline, position)
        }
    }
}

/// Deals carry their stage history (Salesforce's OpportunityHistories subquery,
/// HubSpot's `dealstage` history, Pipedrive's deal flow): every live deal's, as the
/// mock's world has it, after modifications moved some along. A world move that stays
/// in one provider stage (Pipedrive's won and lost) is no stage change there.
async fn stage_histories_match(h: &Harness) {
    let world = &h.mock.state.world;
    let mut moved = 0;
    for idx in 0..world.live_count(ObjectKind::Deal) + 10 {
        let Some(expected) = expected_history(h, idx) else {
            continue;
        };
        moved += usize::from(expected.len() > 1);
        assert_holds_history(h, idx, &expected).await;
    }
    assert!(
        moved > 0,
        "{:?}: some deals moved between stages",
        h.provider
    );
}

/// Live deal `idx`'s stage history in the world, as the provider states it.
fn expected_history(h: &Harness, idx: u64) -> Option<Vec<StageChange>> {
    let deal = h.mock.state.world.deal(idx)?;
    let mut expected: Vec<StageChange> = deal
        .stage_history
        .iter()
        .map(|(stage, ms)| StageChange {
            stage: provider_stage(h.provider, deal.pipeline, *stage),
            at: ms / 1000,
        })
        .collect();
    expected.dedup_by(|later, earlier| later.stage == earlier.stage);
    Some(expected)
}

async fn assert_holds_history(h: &Harness, idx: u64, expected: &[StageChange]) {
    let json = serde_json::to_string(expected).expect("json");
    let sql = format!(
        "SELECT COUNT(*) FROM crm_deals WHERE external_id = '{}' AND stage_history = '{json}'",
        h.external_id(ObjectKind::Deal, idx)
    );
    assert_eq!(
        h.scalar(&sql).await,
        1,
        "{:?} deal {idx}: {json}",
        h.provider
    );
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock");
    since_epoch.as_millis() as i64
}

/// Deals that went through several stages hours before the first sync, as far as they
/// go (a later modification moves them no further).
fn moved_hours_ago(h: &Harness) -> Vec<u64> {
    let world = &h.mock.state.world;
    let hours_ago = now_ms() - 3 * 3_600_000;
    let deals: Vec<u64> = (20..world.live_count(ObjectKind::Deal))
        .filter(|idx| world.deal(*idx).is_some_and(|d| d.stage <= 1))
        .take(4)
        .collect();
    for &idx in &deals {
        for k in 0..6 {
            world.modify_at(ObjectKind::Deal, idx, hours_ago + k * 60_000);
        }
        let history = expected_history(h, idx).expect("live");
        assert!(
            history.len() > 2,
            "{:?} deal {idx}: {history:?}",
            h.provider
        );
    }
    assert_eq!(deals.len(), 4);
    deals
}

#[tokio::test]
async fn every_provider_syncs_fully_then_incrementally_and_only_reads() {
    for backend in backends() {
        for provider in Provider::ALL {
            let spec = WorldSpec::sized(40, 90, 70, 150);
            let h = Harness::for_provider(backend, provider, spec, MockOptions::default()).await;
            let long_moved = moved_hours_ago(&h);
            let connection = h.connect_token().await;
            let engine = h.engine();
            let first = engine.run_until_idle().await.expect("run");
            assert_eq!(
                first[0].status, "succeeded",
                "{provider:?} {backend:?}: {:?}",
                first[0].error
            );
            counts_match(&h).await;
            let deal = h.external_id(ObjectKind::Deal, 7);
            let name = h.mock.state.world.deal(7).expect("deal").name;
            assert_eq!(
                h.scalar(&format!(
                    "SELECT COUNT(*) FROM crm_deals WHERE external_id = '{deal}' AND name = '{}'",
                    name.replace('\'', "''")
                ))
                .await,
                1,
                "{provider:?}"
            );
            // Owners map to nobody here, so no one but executives sees the records;
            // every deal still names an owner the mirror knows.
            assert_eq!(
                h.scalar("SELECT COUNT(*) FROM crm_deals d WHERE NOT EXISTS (SELECT 1 FROM crm_owners o WHERE o.connection_id = d.connection_id AND o.external_id = d.owner_ext)").await,
                0,
                "{provider:?}: deals with an unknown owner"
            );

            // Modifications, new records and deleted deals: an incremental run converges.
            // Deals modified without a change of stage keep their history of several
            // stages (Pipedrive reads no flow for them: the mirror keeps what it holds).
            let world = &h.mock.state.world;
            let kept: Vec<Vec<StageChange>> = long_moved
                .iter()
                .map(|&idx| {
                    world.modify(ObjectKind::Deal, idx);
                    expected_history(&h, idx).expect("live")
                })
                .collect();
            world.churn(0.1, 0.0, 21);
            world.create(ObjectKind::Contact, 5);
            world.delete(ObjectKind::Deal, 3);
            world.delete(ObjectKind::Deal, 11);
            h.store
                .request_sync(&h.scope, &connection.id, false)
                .await
                .expect("sync");
            let second = engine.run_until_idle().await.expect("run");
            assert_eq!(
                second[0].status, "succeeded",
                "{provider:?}: {:?}",
                second[0].error
            );
            assert_eq!(
                second[0].stats.passes.get("deal").map(String::as_str),
                Some("incremental"),
                "{provider:?}"
            );
            counts_match(&h).await;
            stage_histories_match(&h).await;
            for (&idx, history) in long_moved.iter().zip(&kept) {
                assert!(history.len() > 2, "{provider:?} deal {idx}");
                assert_holds_history(&h, idx, history).await;
                if provider == Provider::Pipedrive {
                    let flow = format!(
                        "/api/v1/deals/{}/flow",
                        h.external_id(ObjectKind::Deal, idx)
                    );
                    let reads = h
                        .mock
                        .state
                        .requests()
                        .iter()
                        .filter(|r| r.path == flow)
                        .count();
                    assert_eq!(
                        reads, 1,
                        "deal {idx}: its flow is read by the first sync only"
                    );
                }
            }

            for r in h.mock.state.requests() {
                let read_post = provider == Provider::Hubspot
                    && r.method == "POST"
                    && (r.path.ends_with("/search") || r.path.ends_with("/batch/read"));
                assert!(
                    r.method == "GET" || read_post,
                    "{provider:?}: {} {}",
                    r.method,
                    r.path
                );
            }
        }
    }
}
