//! The HubSpot connector against the HubSpot mock: full and incremental syncs mirror
//! the world, faults neither lose nor advance anything, only reads are ever sent,
//! OAuth works end to end, and the rate limits hold. This file holds the shared
//! set-up and the oracle (the mirror equals the world's live records, field by field).

#[path = "../common/mod.rs"]
mod common;
mod faults;
mod limits;
mod oauth;
mod sync;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Mirror;
use connectors::{Connector, Credentials, HttpOptions};
use domain::crm::{ActivityType, Direction, ObjectKind, Provider, RecordData};
use mockcrm::hubspot::{self, external_id, pipeline_id, stage_id};
use mockcrm::world::{STAGES, World, civil_date};
use mockcrm::{Mock, MockOptions, WorldSpec};

pub const STATIC_TOKEN: &str = "static-test-token";

pub fn options() -> HttpOptions {
    HttpOptions {
        rate_limit: false,
        max_retries: 3,
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        max_wait: Duration::from_secs(5),
        timeout: Duration::from_secs(20),
        client: None,
    }
}

pub fn connector_with(
    mock: &Mock,
    token: &str,
    static_token: bool,
    options: HttpOptions,
) -> Connector {
    let credentials = Credentials {
        access_token: token.to_owned(),
        static_token,
        ..Credentials::default()
    };
    Connector::new(Provider::Hubspot, &mock.url(), &credentials, options).expect("connector")
}

pub fn connector(mock: &Mock) -> Connector {
    connector_with(mock, STATIC_TOKEN, true, options())
}

pub async fn start(spec: WorldSpec) -> Mock {
    hubspot::start(spec, MockOptions::default())
        .await
        .expect("mock")
}

/// The external ids of every live record of `kind`.
pub fn live_ids(world: &World, kind: ObjectKind) -> BTreeSet<String> {
    (0..world.count(kind))
        .filter(|i| match kind {
            ObjectKind::Owner | ObjectKind::Pipeline => true,
            _ => world.is_live(kind, *i),
        })
        .map(|i| external_id(kind, i))
        .collect()
}

/// The mirror holds exactly the world's live records, with their current fields.
pub fn assert_mirrors(mirror: &Mirror, world: &World) {
    for kind in ObjectKind::ALL {
        assert_eq!(mirror.ids(kind), live_ids(world, kind), "{kind} ids differ");
    }
    for idx in 0..world.count(ObjectKind::Company) {
        let Some(c) = world.company(idx) else {
            continue;
        };
        let r = mirror
            .get(ObjectKind::Company, &external_id(ObjectKind::Company, idx))
            .expect("company");
        let RecordData::Company(got) = &r.data else {
            panic!("not a company")
        };
        assert_eq!(got.name, c.name);
        assert_eq!(got.domain.as_deref(), Some(c.domain.as_str()));
        assert_eq!(got.industry.as_deref(), Some(c.industry));
        assert_eq!(got.owner, Some(external_id(ObjectKind::Owner, c.owner)));
        assert_eq!(r.updated_at_ms, c.meta.updated_ms);
    }
    for idx in 0..world.count(ObjectKind::Contact) {
        let Some(c) = world.contact(idx) else {
            continue;
        };
        let r = mirror
            .get(ObjectKind::Contact, &external_id(ObjectKind::Contact, idx))
            .expect("contact");
        let RecordData::Contact(got) = &r.data else {
            panic!("not a contact")
        };
        assert_eq!(got.name, format!("{} {}", c.first_name, c.last_name));
        assert_eq!(got.email.as_deref(), Some(c.email.as_str()));
        assert_eq!(got.title.as_deref(), Some(c.title));
        assert_eq!(
            got.company,
            c.company.map(|i| external_id(ObjectKind::Company, i))
        );
        assert_eq!(got.owner, Some(external_id(ObjectKind::Owner, c.owner)));
    }
    for idx in 0..world.count(ObjectKind::Deal) {
        let Some(d) = world.deal(idx) else { continue };
        let r = mirror
            .get(ObjectKind::Deal, &external_id(ObjectKind::Deal, idx))
            .expect("deal");
        let RecordData::Deal(got) = &r.data else {
            panic!("not a deal")
        };
        let (_, _, closed, won) = STAGES[d.stage];
        assert_eq!(got.name, d.name);
        assert_eq!(
            got.amount.map(|a| a.to_string()),
            Some(format!("{}.00", d.amount))
        );
        assert_eq!(got.currency.as_deref(), Some(d.currency));
        assert_eq!(got.pipeline, Some(pipeline_id(d.pipeline)));
        assert_eq!(got.stage, Some(stage_id(d.pipeline, d.stage)));
        assert_eq!(got.owner, Some(external_id(ObjectKind::Owner, d.owner)));
        assert_eq!((got.is_closed, got.is_won), (Some(closed), Some(won)));
        let close = match d.closed_ms {
            Some(ms) => civil_date(ms.div_euclid(86_400_000)),
            None => d.close_date.clone(),
        };
        assert_eq!(got.close_date.as_deref(), Some(close.as_str()));
        assert_eq!(got.closed_at, d.closed_ms.map(|ms| ms.div_euclid(1000)));
        assert_eq!(got.next_step, d.next_step);
        assert_eq!(
            got.company,
            d.company.map(|i| external_id(ObjectKind::Company, i))
        );
        let contacts: Vec<String> = d
            .contacts
            .iter()
            .map(|i| external_id(ObjectKind::Contact, *i))
            .collect();
        assert_eq!(got.contacts, contacts);
        // From the `dealstage` history, listed with the deal in a full pass and batch
        // read after its search page in an incremental one (each world stage is one
        // HubSpot stage id, so nothing folds).
        let history: Vec<(String, i64)> = d
            .stage_history
            .iter()
            .map(|(stage, ms)| (stage_id(d.pipeline, *stage), ms.div_euclid(1000)))
            .collect();
        let got_history: Vec<(String, i64)> = got
            .stage_history
            .iter()
            .map(|c| (c.stage.clone(), c.at))
            .collect();
        assert_eq!(got_history, history, "deal {idx}");
    }
    for idx in 0..world.count(ObjectKind::Activity) {
        let Some(a) = world.activity(idx) else {
            continue;
        };
        let r = mirror
            .get(
                ObjectKind::Activity,
                &external_id(ObjectKind::Activity, idx),
            )
            .expect("activity");
        let RecordData::Activity(got) = &r.data else {
            panic!("not an activity")
        };
        assert_eq!(got.activity_type, a.kind);
        let subject = (a.kind != ActivityType::Note).then(|| a.subject.clone());
        assert_eq!(got.subject, subject);
        assert_eq!(got.body.as_deref(), Some(a.body.as_str()));
        assert_eq!(got.occurred_at, Some(a.occurred_ms.div_euclid(1000)));
        assert_eq!(got.owner, Some(external_id(ObjectKind::Owner, a.owner)));
        assert_eq!(got.deal, a.deal.map(|i| external_id(ObjectKind::Deal, i)));
        assert_eq!(
            got.contact,
            a.contact.map(|i| external_id(ObjectKind::Contact, i))
        );
        assert_eq!(
            got.company,
            a.company.map(|i| external_id(ObjectKind::Company, i))
        );
        let direction =
            matches!(a.kind, ActivityType::Call | ActivityType::Email).then_some(if a.inbound {
                Direction::Inbound
            } else {
                Direction::Outbound
            });
        assert_eq!(got.direction, direction);
        let duration = matches!(a.kind, ActivityType::Call | ActivityType::Meeting)
            .then(|| a.duration_secs.map(|d| d as i64))
            .flatten();
        assert_eq!(got.duration_secs, duration);
        let outcome = match a.kind {
            ActivityType::Call => a.outcome.map(str::to_owned),
            ActivityType::Meeting => Some("COMPLETED".to_owned()),
            ActivityType::Task => Some(
                if a.inbound {
                    "COMPLETED"
                } else {
                    "NOT_STARTED"
                }
                .to_owned(),
            ),
            _ => None,
        };
        assert_eq!(got.outcome, outcome);
    }
}
