//! Unit tests of the HubSpot mapping, the search window and the limits, on hand-written
//! payloads (the end-to-end tests against the mock live in `tests/hubspot.rs`).

use std::time::Duration;

use domain::crm::{ActivityType, Direction, RecordData};
use serde_json::value::RawValue;

use super::map::{self, Link, Links, Shape};
use super::types::{DEALS, ENGAGEMENTS};
use super::window::Window;
use super::*;
use super::{small, values};

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_owned()).expect("raw json")
}

#[test]
fn default_limits_are_hubspots_published_ones() {
    assert_eq!(
        default_limits(false),
        [
            Some((110, Duration::from_secs(10))),
            Some((5, Duration::from_secs(1)))
        ]
    );
    assert_eq!(
        default_limits(true)[0],
        Some((100, Duration::from_secs(10)))
    );
}

#[test]
fn the_allow_list_holds_reads_only() {
    let http = Http::new(
        "http://127.0.0.1:9",
        ROUTES,
        Auth::Bearer("t".into()),
        &default_limits(false),
        HttpOptions::default(),
        Box::new(dialect::HubspotDialect { pace: true }),
    )
    .expect("client");
    assert_eq!(
        http.permit("GET", "/crm/v3/objects/deals?limit=100").ok(),
        Some(0)
    );
    assert_eq!(
        http.permit("POST", "/crm/v3/objects/calls/search").ok(),
        Some(1)
    );
    assert_eq!(
        http.permit("POST", "/crm/v4/associations/deals/contacts/batch/read")
            .ok(),
        Some(0)
    );
    assert_eq!(
        http.permit("POST", "/crm/v3/objects/deals/batch/read").ok(),
        Some(0)
    );
    for (m, p) in [
        ("POST", "/crm/v3/objects/deals"),
        ("PATCH", "/crm/v3/objects/deals/1"),
        ("DELETE", "/crm/v3/objects/deals/1"),
        ("POST", "/crm/v3/objects/deals/batch/archive"),
        ("POST", "/crm/v3/objects/deals/batch/update"),
        ("POST", "/crm/v3/objects/deals/batch/upsert"),
        ("POST", "/crm/v4/associations/deals/contacts/batch/create"),
        ("PUT", "/crm/v4/objects/deals/1/associations/contacts/2"),
        ("POST", "/crm/v3/pipelines/deals"),
        ("DELETE", "/oauth/v1/refresh-tokens/x"),
        ("GET", "/crm/v3/objects/deals/1"),
    ] {
        assert!(
            matches!(http.permit(m, p), Err(ConnectorError::WriteRefused { .. })),
            "{m} {p} passed"
        );
    }
    for r in ROUTES {
        assert!(
            r.method == "GET"
                || r.pattern.ends_with("/search")
                || r.pattern.ends_with("/batch/read"),
            "{} {} is not a read",
            r.method,
            r.pattern
        );
    }
}

#[test]
fn deals_map_every_field() {
    let json = r#"{"id":"51234","properties":{"dealname":"  ACME renewal ","amount":"12000.50",
        "deal_currency_code":"eur","pipeline":"default","dealstage":"closedwon",
        "closedate":"2025-06-30T14:00:00.000Z","hubspot_owner_id":"7261",
        "createdate":"2025-01-02T03:04:05.000Z","hs_lastmodifieddate":"2025-05-01T10:12:13.456Z",
        "hs_is_closed":"true","hs_is_closed_won":"true","hs_next_step":null},
        "createdAt":"2025-01-02T03:04:05.000Z","updatedAt":"2025-05-01T10:12:13.456Z","archived":false,
        "associations":{"contacts":{"results":[{"id":"901","type":"deal_to_contact"},{"id":"902","type":"deal_to_contact"},{"id":"901","type":"deal_to_contact_unlabeled"}]},
        "companies":{"results":[{"id":"77","type":"deal_to_company_unlabeled"},{"id":"78","type":"deal_to_company"}]}}}"#;
    let r = map::parse(Shape::Deal, raw(json))
        .build(None)
        .expect("maps");
    assert_eq!(r.external_id, "51234");
    assert_eq!(r.updated_at_ms, 1_746_094_333_456);
    assert_eq!(r.raw.get(), json);
    let RecordData::Deal(d) = r.data else {
        panic!("not a deal")
    };
    assert_eq!(d.name, "ACME renewal");
    assert_eq!(d.amount.map(|a| a.to_string()).as_deref(), Some("12000.50"));
    assert_eq!(d.currency.as_deref(), Some("EUR"));
    assert_eq!(
        (d.pipeline.as_deref(), d.stage.as_deref()),
        (Some("default"), Some("closedwon"))
    );
    assert_eq!(d.close_date.as_deref(), Some("2025-06-30"));
    assert_eq!(d.closed_at, Some(1_751_292_000));
    assert_eq!(d.created_at, Some(1_735_787_045));
    assert_eq!((d.is_closed, d.is_won), (Some(true), Some(true)));
    assert_eq!(d.owner.as_deref(), Some("7261"));
    assert_eq!(d.contacts, vec!["901".to_owned(), "902".to_owned()]);
    assert_eq!(d.company.as_deref(), Some("78"));
}

#[test]
fn absurd_or_garbled_amounts_keep_the_record_without_an_amount() {
    for amount in [
        r#""1e20""#,
        r#""$5""#,
        r#""12,000""#,
        r#""NaN""#,
        "true",
        r#""""#,
    ] {
        let json = format!(r#"{{"id":"1","properties":{{"amount":{amount},"dealname":"x"}}}}"#);
        let r = map::parse(Shape::Deal, raw(&json))
            .build(None)
            .expect("kept");
        let RecordData::Deal(d) = r.data else {
            panic!("not a deal")
        };
        assert_eq!(d.amount, None, "{amount}");
    }
    let r = map::parse(
        Shape::Deal,
        raw(r#"{"id":"1","properties":{"amount":12000.5}}"#),
    )
    .build(None)
    .expect("kept");
    let RecordData::Deal(d) = r.data else {
        panic!("not a deal")
    };
    assert_eq!(d.amount.map(|a| a.to_string()).as_deref(), Some("12000.50"));
}

#[test]
fn unmappable_records_are_skipped_with_short_reasons() {
    for (json, reason) in [
        ("42", "not an object"),
        (r#""deal""#, "not an object"),
        (r#"{"properties":{"dealname":"no id"}}"#, "missing id"),
        (r#"{"id":"  ","properties":{}}"#, "missing id"),
        (
            r#"{"id":"1","properties":{},"associations":{"contacts":{"results":"nope"}}}"#,
            "unexpected shape",
        ),
    ] {
        let e = map::parse(Shape::Deal, raw(json))
            .build(None)
            .expect_err(json);
        assert_eq!(e.reason, reason, "{json}");
        assert!(!e.reason.contains("no id"));
    }
    // Odd scalars are tolerated: numbers as text, objects ignored.
    let r = map::parse(
        Shape::Company,
        raw(r#"{"id":17,"properties":{"name":{"x":1},"domain":"acme.example","industry":5}}"#),
    )
    .build(None)
    .expect("maps");
    assert_eq!(r.external_id, "17");
    let RecordData::Company(c) = r.data else {
        panic!("not a company")
    };
    assert_eq!(
        (c.name.as_str(), c.industry.as_deref()),
        ("acme.example", Some("5"))
    );
}

#[test]
fn text_is_cleaned_and_capped() {
    let long = "x".repeat(30_000);
    let json = format!(
        r#"{{"id":"9","properties":{{"hs_note_body":"{long}","hs_timestamp":"1714557600000","hubspot_owner_id":" 12 "}}}}"#
    );
    let r = map::parse(Shape::Engagement(ActivityType::Note), raw(&json))
        .build(Some(Links::default()))
        .expect("maps");
    assert_eq!(r.external_id, "note:9");
    let RecordData::Activity(a) = r.data else {
        panic!("not an activity")
    };
    assert_eq!(a.body.map(|b| b.len()), Some(20_000));
    assert_eq!(a.subject, None);
    assert_eq!(a.occurred_at, Some(1_714_557_600));
    assert_eq!(a.owner.as_deref(), Some("12"));
}

#[test]
fn engagements_map_their_type_specific_fields() {
    let call = r#"{"id":"5","properties":{"hs_call_title":"Intro","hs_call_body":"Hello\u0000",
        "hs_call_duration":"125400","hs_call_direction":"INBOUND",
        "hs_call_disposition":"f240bbac-87c9-4f6e-bf70-924b57d47db7","hs_timestamp":"2025-05-01T10:00:00Z"}}"#;
    let links = Links {
        deals: vec![Link {
            id: "30".into(),
            primary: false,
        }],
        contacts: vec![Link {
            id: "20".into(),
            primary: false,
        }],
        companies: vec![
            Link {
                id: "10".into(),
                primary: false,
            },
            Link {
                id: "11".into(),
                primary: true,
            },
        ],
    };
    let r = map::parse(Shape::Engagement(ActivityType::Call), raw(call))
        .build(Some(links))
        .expect("maps");
    assert_eq!(r.external_id, "call:5");
    let RecordData::Activity(a) = r.data else {
        panic!("not an activity")
    };
    assert_eq!(a.direction, Some(Direction::Inbound));
    assert_eq!(a.duration_secs, Some(125));
    assert_eq!(a.outcome.as_deref(), Some("Connected"));
    assert_eq!(a.body.as_deref(), Some("Hello"));
    assert_eq!(
        (
            a.deal.as_deref(),
            a.contact.as_deref(),
            a.company.as_deref()
        ),
        (Some("30"), Some("20"), Some("11"))
    );
    let meeting = r#"{"id":"6","properties":{"hs_meeting_title":"Demo","hs_meeting_start_time":"2025-05-01T10:00:00Z",
        "hs_meeting_end_time":"2025-05-01T10:45:00Z","hs_meeting_outcome":"COMPLETED"}}"#;
    let r = map::parse(Shape::Engagement(ActivityType::Meeting), raw(meeting))
        .build(None)
        .expect("maps");
    let RecordData::Activity(a) = r.data else {
        panic!("not an activity")
    };
    assert_eq!(
        (a.duration_secs, a.outcome.as_deref()),
        (Some(2700), Some("COMPLETED"))
    );
    let email = r#"{"id":"7","properties":{"hs_email_subject":"Re: pricing","hs_email_direction":"EMAIL"}}"#;
    let r = map::parse(Shape::Engagement(ActivityType::Email), raw(email))
        .build(None)
        .expect("maps");
    let RecordData::Activity(a) = r.data else {
        panic!("not an activity")
    };
    assert_eq!(
        (a.direction, a.subject.as_deref()),
        (Some(Direction::Outbound), Some("Re: pricing"))
    );
}

#[test]
fn owners_and_pipelines() {
    let o = small::map_owner(
        raw(r#"{"id":"41629779","email":"Rep@Acme.Example","firstName":"Ada","lastName":"Byron","archived":false,"updatedAt":"2020-01-01T00:00:00Z"}"#),
        false,
    )
    .expect("maps");
    let RecordData::Owner(owner) = o.data else {
        panic!("not an owner")
    };
    assert_eq!(
        (owner.name.as_str(), owner.email.as_deref(), owner.active),
        ("Ada Byron", Some("rep@acme.example"), true)
    );
    let gone = small::map_owner(raw(r#"{"id":"1","email":"x@y.example"}"#), true).expect("maps");
    assert!(matches!(gone.data, RecordData::Owner(ref o) if !o.active && o.name == "x@y.example"));

    let p = small::map_pipeline(raw(
        r#"{"id":"default","label":"Sales Pipeline","displayOrder":0,"archived":false,"stages":[
        {"id":"closedwon","label":"Closed won","displayOrder":5,"metadata":{"isClosed":"true","probability":"1.0"}},
        {"id":"appointmentscheduled","label":"Appointment","displayOrder":0,"metadata":{"isClosed":"false","probability":"0.2"}},
        {"id":"closedlost","label":"Closed lost","displayOrder":6,"metadata":{"isClosed":"true","probability":"0.0"}},
        {"id":"old","label":"Old","displayOrder":1,"archived":true,"metadata":{}}]}"#,
    ))
    .expect("maps");
    let RecordData::Pipeline(p) = p.data else {
        panic!("not a pipeline")
    };
    let stages: Vec<(&str, Option<f64>, bool, bool)> = p
        .stages
        .iter()
        .map(|s| (s.external_id.as_str(), s.probability, s.is_closed, s.is_won))
        .collect();
    assert_eq!(
        stages,
        vec![
            ("appointmentscheduled", Some(20.0), false, false),
            ("closedwon", Some(100.0), true, true),
            ("closedlost", Some(0.0), true, false),
        ]
    );
}

#[test]
fn search_windows_advance_through_ties_without_loss_or_loops() {
    let w = Window::parse(None, 1_000);
    assert_eq!(w, Window::From { lo: 1_000 });
    // A page ending later moves the lower bound there (that instant is read again).
    assert_eq!(
        w.after_page(true, Some((1_000, 5_000)), Some(9)).ok(),
        Some(Some(Window::From { lo: 5_000 }))
    );
    // A full page of one instant steps through it by id, then past it.
    for span in [(1_000, 1_000), (999, 1_000)] {
        let tie = w.after_page(true, Some(span), Some(9)).ok().flatten();
        assert_eq!(
            tie,
            Some(Window::Tie {
                at: 1_000,
                after_id: 0
            }),
            "{span:?}"
        );
    }
    assert_eq!(
        w.after_page(true, Some((4_000, 4_000)), Some(9)).ok(),
        Some(Some(Window::Tie {
            at: 4_000,
            after_id: 0
        }))
    );
    let tie = Window::Tie {
        at: 1_000,
        after_id: 0,
    };
    assert_eq!(
        tie.after_page(true, Some((1_000, 1_000)), Some(700)).ok(),
        Some(Some(Window::Tie {
            at: 1_000,
            after_id: 700
        }))
    );
    assert_eq!(
        tie.after_page(false, Some((1_000, 1_000)), Some(900)).ok(),
        Some(Some(Window::From { lo: 1_001 }))
    );
    assert!(
        Window::Tie {
            at: 1,
            after_id: 700
        }
        .after_page(true, Some((1, 1)), Some(700))
        .is_err()
    );
    assert_eq!(
        w.after_page(false, Some((1_000, 9_999)), None).ok(),
        Some(None)
    );
    for w in [
        Window::From { lo: -5 },
        Window::Tie {
            at: 7,
            after_id: 12,
        },
    ] {
        assert_eq!(Window::parse(Some(&w.encode()), 0), w);
    }
    assert_eq!(Window::parse(Some("garbage"), 42), Window::From { lo: 42 });
    let body = Window::Tie {
        at: 7,
        after_id: 12,
    }
    .body(&DEALS)
    .to_string();
    assert!(
        body.contains(r#""operator":"EQ""#) && body.contains(r#""propertyName":"hs_object_id""#)
    );
    assert!(body.len() < 3_000);
    for t in ENGAGEMENTS {
        assert!(Window::From { lo: 1 }.body(&t).to_string().len() < 3_000);
    }
}

#[test]
fn times_come_in_three_shapes() {
    assert_eq!(
        values::millis("2025-05-01T10:12:13.456Z"),
        Some(1_746_094_333_456)
    );
    assert_eq!(values::millis("1714557600000"), Some(1_714_557_600_000));
    assert_eq!(values::millis("2024-10-04"), Some(1_728_000_000_000));
    assert_eq!(values::millis("soon"), None);
    assert_eq!(values::millis("99999999999999999999999"), None);
}
