//! Mapping tests: bad rows, deletions, links, junk input.

use super::*;

fn raw(s: &str) -> Box<RawValue> {
    RawValue::from_string(s.to_owned()).expect("json")
}

fn deal_of(row: &str) -> Deal {
    match map(Source::Opportunity, raw(row)) {
        Ok((
            Change::Upsert(Record {
                data: RecordData::Deal(d),
                ..
            }),
            _,
        )) => d,
        other => panic!("{:?}", other.map(|_| ())),
    }
}

const OPP: &str = r#"{"attributes":{"type":"Opportunity"},"Id":"006000000000001AAA","SystemModstamp":"2025-05-01T10:12:13.000+0000","Name":" Big deal ","StageName":"Closed Won","CloseDate":"2025-06-30","IsClosed":true,"IsWon":true,"OwnerId":"005000000000001AAA","AccountId":"001000000000001AAA"#;

#[test]
fn opportunities_map_with_or_without_currency_and_contacts() {
    let d = deal_of(&format!(
        r#"{OPP}","Amount":12000.5,"CurrencyIsoCode":"eur","OpportunityContactRoles":{{"totalSize":3,"done":true,"records":[{{"ContactId":"003000000000001AAA"}},{{"ContactId":"003000000000001AAA"}},{{"ContactId":"00Q000000000001AAA"}}]}}}}"#
    ));
    assert_eq!(d.name, "Big deal");
    assert_eq!(d.amount.map(|a| a.to_string()).as_deref(), Some("12000.50"));
    assert_eq!(d.currency.as_deref(), Some("EUR"));
    assert_eq!(d.contacts, vec!["003000000000001AAA".to_owned()]);
    assert_eq!(d.pipeline.as_deref(), Some("default"));
    assert_eq!(d.stage.as_deref(), Some("Closed Won"));
    assert_eq!((d.is_closed, d.is_won), (Some(true), Some(true)));
    // Single-currency org: no CurrencyIsoCode; no contact roles: null.
    let d = deal_of(&format!(
        r#"{OPP}","Amount":null,"OpportunityContactRoles":null}}"#
    ));
    assert_eq!((d.amount, d.currency), (None, None));
    assert!(d.contacts.is_empty());
    // Absurd or unparsable amounts: the deal is kept without an amount.
    for amount in ["1e300", "\"lots\"", "true", "-5e13"] {
        let d = deal_of(&format!(r#"{OPP}","Amount":{amount}}}"#));
        assert_eq!(d.amount, None, "{amount}");
    }
}

#[test]
fn stage_history_comes_from_opportunity_histories() {
    // Rows also record amount and close-date changes (same stage twice in a row), may
    // arrive out of order, and may lack a stage or a readable time.
    let history = r#"{"totalSize":6,"done":true,"records":[
        {"attributes":{"type":"OpportunityHistory"},"StageName":"Prospecting","CreatedDate":"2025-01-02T09:00:00.000+0000"},
        {"attributes":{"type":"OpportunityHistory"},"StageName":"Prospecting","CreatedDate":"2025-01-05T09:00:00.000+0000"},
        {"attributes":{"type":"OpportunityHistory"},"StageName":"Closed Won","CreatedDate":"2025-03-01T12:00:00.000+0000"},
        {"attributes":{"type":"OpportunityHistory"},"StageName":"Negotiation","CreatedDate":"2025-02-10T09:00:00.000+0000"},
        {"attributes":{"type":"OpportunityHistory"},"StageName":null,"CreatedDate":"2025-02-11T09:00:00.000+0000"},
        {"attributes":{"type":"OpportunityHistory"},"StageName":"Negotiation","CreatedDate":"yesterday"}]}"#;
    let d = deal_of(&format!(r#"{OPP}","OpportunityHistories":{history}}}"#));
    let got: Vec<(&str, i64)> = d
        .stage_history
        .iter()
        .map(|c| (c.stage.as_str(), c.at))
        .collect();
    assert_eq!(
        got,
        vec![
            ("Prospecting", 1_735_808_400),
            ("Negotiation", 1_739_178_000),
            ("Closed Won", 1_740_830_400),
        ]
    );
    // Closed: it closed when it entered its last stage.
    assert_eq!(d.closed_at, Some(1_740_830_400));
    // Open deals have no close time; no history (null or absent) is an empty one.
    let open = OPP.replace(r#""IsClosed":true"#, r#""IsClosed":false"#);
    let d = deal_of(&format!(r#"{open}","OpportunityHistories":{history}}}"#));
    assert_eq!((d.closed_at, d.stage_history.len()), (None, 3));
    let d = deal_of(&format!(r#"{OPP}","OpportunityHistories":null}}"#));
    assert_eq!((d.closed_at, d.stage_history.len()), (None, 0));
}

#[test]
fn unmappable_rows_are_skipped_with_stable_reasons() {
    for (row, reason) in [
        (
            r#"{"Name":"x","SystemModstamp":"2025-05-01T10:12:13.000+0000"}"#,
            "missing id",
        ),
        (
            r#"{"Id":"not an id","SystemModstamp":"2025-05-01T10:12:13.000+0000"}"#,
            "missing id",
        ),
        (r#"{"Id":"001000000000001AAA"}"#, "missing SystemModstamp"),
        (
            r#"{"Id":"001000000000001AAA","SystemModstamp":"yesterday"}"#,
            "missing SystemModstamp",
        ),
        (
            r#"{"Id":"001000000000001AAA","SystemModstamp":"2025-05-01T10:12:13Z","Name":42}"#,
            "unexpected shape",
        ),
        (r#"[1,2,3]"#, "unexpected shape"),
        (r#"{"Id":7}"#, "unexpected shape"),
    ] {
        match map(Source::Account, raw(row)) {
            Err(skip) => {
                assert_eq!(skip.reason, reason, "{row}");
                assert!(!skip.reason.contains("42"));
            }
            Ok(_) => panic!("{row} mapped"),
        }
    }
}

#[test]
fn deleted_rows_are_deletions() {
    let row = r#"{"Id":"00T000000000001AAA","IsDeleted":true,"SystemModstamp":"2025-05-01T10:12:13.000+0000","Subject":null}"#;
    match map(Source::Task, raw(row)) {
        Ok((Change::Delete { external_id }, ms)) => {
            assert_eq!(external_id, "00T000000000001AAA");
            assert_eq!(ms, 1_746_094_333_000);
        }
        _ => panic!("not a deletion"),
    }
}

#[test]
fn activities_keep_their_links_by_key_prefix() {
    let row = r#"{"Id":"00T000000000001AAA","SystemModstamp":"2025-05-01T10:12:13.000+0000","TaskSubtype":"Call","CallType":"Inbound","CallDurationInSeconds":90,"WhoId":"00Q000000000001AAA","WhatId":"006000000000001AAA","AccountId":"001000000000002AAA","ActivityDate":"2025-05-01","Description":"  notes\u0000 "}"#;
    let Ok((Change::Upsert(r), _)) = map(Source::Task, raw(row)) else {
        panic!("mapped");
    };
    let RecordData::Activity(a) = r.data else {
        panic!("activity")
    };
    assert_eq!(a.activity_type, ActivityType::Call);
    assert_eq!(a.direction, Some(Direction::Inbound));
    assert_eq!(a.duration_secs, Some(90));
    assert_eq!(a.contact, None, "a Lead is not a contact");
    assert_eq!(a.deal.as_deref(), Some("006000000000001AAA"));
    assert_eq!(a.company.as_deref(), Some("001000000000002AAA"));
    assert_eq!(a.occurred_at, Some(1_746_057_600));
    assert_eq!(a.body.as_deref(), Some("notes"));
    let event = r#"{"Id":"00U000000000001AAA","SystemModstamp":"2025-05-01T10:12:13.000+0000","StartDateTime":"2025-05-01T09:00:00.000+0000","EndDateTime":"2025-05-01T09:45:00.000+0000","WhatId":"001000000000003AAA"}"#;
    let Ok((Change::Upsert(r), _)) = map(Source::Event, raw(event)) else {
        panic!("mapped");
    };
    let RecordData::Activity(a) = r.data else {
        panic!("activity")
    };
    assert_eq!(a.activity_type, ActivityType::Meeting);
    assert_eq!(a.duration_secs, Some(45 * 60));
    assert_eq!(a.company.as_deref(), Some("001000000000003AAA"));
}

#[test]
fn websites_become_domains() {
    let d = |w: &str| domain_of(&Some(Cow::Borrowed(w)));
    assert_eq!(
        d("https://www.Acme.example/about").as_deref(),
        Some("acme.example")
    );
    assert_eq!(d("acme.example").as_deref(), Some("acme.example"));
    assert_eq!(d("http://localhost"), None);
    assert_eq!(d("not a site"), None);
}

#[test]
fn never_panics_on_junk() {
    let mut seed = 7u64;
    let pieces = [
        "{",
        "}",
        "[",
        "]",
        "\"Id\":",
        "\"006000000000001AAA\"",
        ",",
        "null",
        "1e999",
        "\"SystemModstamp\":",
        "\"2025-05-01T10:12:13.000+0000\"",
        "\"Amount\":",
        "-",
        "\"\\u0000\"",
        "true",
        "\"OpportunityContactRoles\":",
        "{\"records\":[{}]}",
    ];
    for _ in 0..3000 {
        let mut s = String::new();
        for _ in 0..12 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            s.push_str(pieces[(seed >> 33) as usize % pieces.len()]);
        }
        if let Ok(r) = RawValue::from_string(s) {
            for source in [
                Source::Opportunity,
                Source::Task,
                Source::Event,
                Source::User,
            ] {
                let _ = map(source, r.clone());
            }
            let _ = stage(&r);
        }
    }
}
