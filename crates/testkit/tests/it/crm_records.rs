//! Deals, contacts, companies and activities by seat, after a real sync from the
//! Salesforce mock: the executive sees every record, a manager their people's, a rep
//! their own; records of a CRM user who is nobody here are the executive's only;
//! another organization's records never show. Filters, cursor paging, the deal shape,
//! and 422 for bad parameters.

use std::collections::BTreeSet;

use mockcrm::MockOptions;
use serde_json::Value;
use testkit::{Fixture, backends};

use crate::crm_common::{all_items, app_for, connected, get_json, salesforce, world};

const KINDS: [&str; 4] = ["deals", "contacts", "companies", "activities"];

fn ids(items: &[Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
        .collect()
}

fn owned_by(items: &[Value], users: &[&str]) -> BTreeSet<String> {
    ids(&items
        .iter()
        .filter(|i| {
            i["owner"]["user_id"]
                .as_str()
                .is_some_and(|u| users.contains(&u))
        })
        .cloned()
        .collect::<Vec<_>>())
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

#[tokio::test]
async fn records_are_seen_by_seat_and_never_across_organizations() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let other = Fixture::seed(&app, "other").await;
        connected(&app, &f).await;
        connected(&app, &other).await;
        for kind in KINDS {
            let path = format!("/api/v1/{kind}");
            let all = all_items(&app, &f.exec.token, &path, 200).await;
            let total = match kind {
                "deals" => 30,
                "contacts" => 40,
                "companies" => 20,
                _ => 60,
            };
            assert_eq!(all.len(), total, "{kind}: the executive sees all");
            let theirs = all_items(&app, &other.exec.token, &path, 200).await;
            assert!(
                ids(&all).is_disjoint(&ids(&theirs)),
                "{kind}: organizations mix"
            );
            let unmapped = all
                .iter()
                .filter(|i| i["owner"]["user_id"].is_null())
                .count();
            assert!(unmapped > 0, "{kind}: the stranger owns some");
            // (viewer, whose records they see)
            let m1_sees = [
                f.m1.id.as_str(),
                f.r1.id.as_str(),
                f.r2.id.as_str(),
                f.m2.id.as_str(),
                f.r3.id.as_str(),
            ];
            let cases: [(&str, &[&str]); 6] = [
                (f.r1.token.as_str(), &[f.r1.id.as_str()]),
                (f.r2.token.as_str(), &[f.r2.id.as_str()]),
                (f.r4.token.as_str(), &[]),
                (f.m1.token.as_str(), &m1_sees),
                (f.m2.token.as_str(), &[f.m2.id.as_str(), f.r3.id.as_str()]),
                (f.m3.token.as_str(), &[f.m3.id.as_str(), f.r4.id.as_str()]),
            ];
            for (token, users) in cases {
                let seen = all_items(&app, token, &path, 200).await;
                assert_eq!(ids(&seen), owned_by(&all, users), "{kind}");
            }
            for item in &all {
                assert_eq!(item["provider"], "salesforce", "{kind}");
                assert!(item["external_id"].is_string(), "{kind}");
            }
            // Paging: small pages add up to the whole, without repeats.
            let paged = all_items(&app, &f.exec.token, &path, 7).await;
            assert_eq!(paged.len(), total, "{kind}");
            assert_eq!(ids(&paged), ids(&all), "{kind}");
        }
        // One deal: visible to its owner's manager, not to another rep.
        let deals = all_items(&app, &f.exec.token, "/api/v1/deals", 200).await;
        let of_r2 = deals
            .iter()
            .find(|d| d["owner"]["user_id"] == f.r2.id.as_str())
            .expect("a deal of r2");
        let path = format!("/api/v1/deals/{}", of_r2["id"].as_str().expect("id"));
        assert_eq!(get_json(&app, &f.m1.token, &path, 200).await, *of_r2);
        get_json(&app, &f.r1.token, &path, 404).await;
        get_json(&app, &other.exec.token, &path, 404).await;
    }
}

#[tokio::test]
async fn deals_have_their_documented_shape_and_filters() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let integration = connected(&app, &f).await;
        let exec = f.exec.token.as_str();
        let deals = all_items(&app, exec, "/api/v1/deals", 200).await;
        for d in &deals {
            assert_eq!(d["integration_id"], integration.as_str());
            let amount = d["amount"].as_str().expect("amount is a decimal string");
            assert!(amount.parse::<f64>().is_ok(), "{amount}");
            assert!(d["currency"].as_str().is_some_and(|c| c.len() == 3), "{d}");
            assert_eq!(d["pipeline"]["id"], "default");
            assert!(
                d["stage"]["id"].is_string() && d["stage"]["label"].is_string(),
                "{d}"
            );
            assert!(d["is_closed"].is_boolean() && d["is_won"].is_boolean());
            assert!(
                d["close_date"].as_str().is_some_and(|c| c.len() == 10),
                "{d}"
            );
            assert!(d["owner"]["external_id"].is_string() && d["owner"]["name"].is_string());
            assert!(d["owner"].get("user_id").is_some());
            assert!(
                is_rfc3339(&d["created_at"]) && is_rfc3339(&d["updated_at"]),
                "{d}"
            );
            assert!(d.get("last_activity_at").is_some());
        }
        // owner_id, status, stage and close dates.
        let r1 = all_items(
            &app,
            exec,
            &format!("/api/v1/deals?owner_id={}", f.r1.id),
            200,
        )
        .await;
        assert_eq!(ids(&r1), owned_by(&deals, &[f.r1.id.as_str()]));
        let open = all_items(&app, exec, "/api/v1/deals?status=open", 200).await;
        let closed = all_items(&app, exec, "/api/v1/deals?status=closed", 200).await;
        assert!(open.iter().all(|d| d["is_closed"] == false));
        assert!(closed.iter().all(|d| d["is_closed"] == true));
        assert_eq!(open.len() + closed.len(), deals.len());
        let stage = deals[0]["stage"]["id"].as_str().expect("stage");
        let staged = all_items(&app, exec, &format!("/api/v1/deals?stage={stage}"), 200).await;
        assert!(!staged.is_empty() && staged.iter().all(|d| d["stage"]["id"] == stage));
        let mut dates: Vec<&str> = deals
            .iter()
            .filter_map(|d| d["close_date"].as_str())
            .collect();
        dates.sort_unstable();
        let (from, to) = (dates[5], dates[20]);
        let window = all_items(
            &app,
            exec,
            &format!("/api/v1/deals?close_from={from}&close_to={to}"),
            200,
        )
        .await;
        let expected = deals
            .iter()
            .filter(|d| {
                d["close_date"]
                    .as_str()
                    .is_some_and(|c| c >= from && c <= to)
            })
            .count();
        assert_eq!(window.len(), expected);

        // Activities: times as the CRM stated them, type, deal and time window.
        let activities = all_items(&app, exec, "/api/v1/activities", 200).await;
        let year_ago = time::OffsetDateTime::now_utc() - time::Duration::days(500);
        for a in &activities {
            let at = a["occurred_at"].as_str().expect("occurred_at");
            let at =
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .expect("RFC 3339");
            assert!(at > year_ago && at < time::OffsetDateTime::now_utc(), "{a}");
        }
        let t = activities[0]["type"].as_str().expect("type").to_owned();
        let typed = all_items(&app, exec, &format!("/api/v1/activities?type={t}"), 200).await;
        assert!(!typed.is_empty() && typed.iter().all(|a| a["type"] == t.as_str()));
        let with_deal = activities
            .iter()
            .find(|a| a["deal_external_id"].is_string())
            .expect("an activity on a deal");
        let deal = deals
            .iter()
            .find(|d| d["external_id"] == with_deal["deal_external_id"])
            .expect("its deal");
        let on_deal = all_items(
            &app,
            exec,
            &format!(
                "/api/v1/activities?deal_id={}",
                deal["id"].as_str().expect("id")
            ),
            200,
        )
        .await;
        assert!(on_deal.iter().any(|a| a["id"] == with_deal["id"]));
        assert!(
            on_deal
                .iter()
                .all(|a| a["deal_external_id"] == deal["external_id"])
        );
        let future = all_items(&app, exec, "/api/v1/activities?from=2999-01-01", 200).await;
        assert!(future.is_empty());
        let past = all_items(
            &app,
            exec,
            "/api/v1/activities?to=2999-01-01T00:00:00Z",
            200,
        )
        .await;
        assert_eq!(
            past.len(),
            activities
                .iter()
                .filter(|a| a["occurred_at"].is_string())
                .count()
        );

        // Bad parameters are 422 naming them.
        for (path, field) in [
            ("/api/v1/deals?status=maybe", "status"),
            ("/api/v1/deals?owner_id=someone", "owner_id"),
            ("/api/v1/deals?close_from=2024-13-01", "close_from"),
            ("/api/v1/deals?close_to=soon", "close_to"),
            ("/api/v1/deals?limit=201", "limit"),
            ("/api/v1/contacts?limit=0", "limit"),
            ("/api/v1/companies?cursor=zz", "cursor"),
            ("/api/v1/activities?type=fax", "type"),
            ("/api/v1/activities?from=yesterday", "from"),
            ("/api/v1/activities?limit=many", "limit"),
        ] {
            let problem = get_json(&app, exec, path, 422).await;
            assert_eq!(problem["errors"][0]["field"], field, "{path}: {problem}");
        }
    }
}
