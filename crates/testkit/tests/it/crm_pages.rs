//! The CRM pages: Settings → Integrations (admins and executives only; its forms carry
//! CSRF tokens and work), the rep page's pipeline, activity and stale-deal panels, the
//! team page's pipeline per member, and HTML escaping of whatever names a CRM sends.

use domain::crm::{Activity, ActivityType, Amount, Deal, Owner, Pipeline, RecordData, Stage};
use mockcrm::MockOptions;
use serde_json::Value;
use testkit::crm::{location, record};
use testkit::{Browser, Fixture, TestApp, backends};

use crate::crm_common::{all_items, app_for, connected, get_json, salesforce, world};

async fn page(app: &TestApp, browser: &Browser, path: &str) -> (u16, String) {
    let r = app
        .http
        .get(app.url(path))
        .header("cookie", &browser.cookie)
        .send()
        .await
        .expect("page");
    (r.status().as_u16(), r.text().await.expect("html"))
}

async fn post(
    app: &TestApp,
    browser: &Browser,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let mut fields: Vec<(&str, &str)> = vec![("csrf_token", browser.csrf.as_str())];
    fields.extend_from_slice(form);
    app.http
        .post(app.url(path))
        .headers(browser.headers(false))
        .form(&fields)
        .send()
        .await
        .expect("post")
}

#[tokio::test]
async fn the_integrations_page_and_the_rep_panels_show_the_synced_crm() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let id = connected(&app, &f).await;
        let admin = app.browser(&f.exec.email).await;

        let (status, html) = page(&app, &admin, "/settings/integrations").await;
        assert_eq!(status, 200);
        for text in [
            "Salesforce",
            "Active",
            "Last runs",
            "Sync now",
            "Full re-sync",
            "CRM r1",
            "Unmapped Owner",
            "Also delete the data",
        ] {
            assert!(html.contains(text), "{text} missing");
        }
        let forms = html.matches("<form").count();
        assert!(forms >= 6);
        assert_eq!(
            html.matches("name=\"csrf_token\"").count(),
            forms,
            "every form has its token"
        );
        assert!(
            !html.contains("access-") && !html.contains("refresh-"),
            "no token on the page"
        );
        for who in [&f.m1.email, &f.r1.email] {
            let b = app.browser(who).await;
            assert_eq!(page(&app, &b, "/settings/integrations").await.0, 404);
        }

        // A manager looks at their rep.
        let deals = all_items(&app, &f.exec.token, "/api/v1/deals", 200).await;
        let open_of_r1: Vec<&Value> = deals
            .iter()
            .filter(|d| d["owner"]["user_id"] == f.r1.id.as_str() && d["is_closed"] == false)
            .collect();
        let manager = app.browser(&f.m1.email).await;
        let (status, html) = page(&app, &manager, &format!("/reps/{}", f.r1.id)).await;
        assert_eq!(status, 200);
        let noun = if open_of_r1.len() == 1 {
            "deal"
        } else {
            "deals"
        };
        assert!(
            html.contains(&format!(
                "<strong>{}</strong> open {noun}",
                open_of_r1.len()
            )),
            "pipeline count"
        );
        assert!(html.contains("Deals without activity for 14+ days"));
        if let Some(first) = open_of_r1.first() {
            assert!(html.contains(first["stage"]["label"].as_str().expect("label")));
        }
        assert!(html.contains("Recent activity") && html.contains("class=\"badge\""));
        let (status, html) = page(&app, &manager, &format!("/teams/{}", f.t1)).await;
        assert_eq!(status, 200);
        assert!(html.contains("Open pipeline") && html.contains("Quiet 14+ days"));

        // The forms work.
        let r = post(
            &app,
            &admin,
            &format!("/settings/integrations/{id}/sync"),
            &[],
        )
        .await;
        assert_eq!(location(&r), "/settings/integrations?done=sync_requested");
        let r = post(
            &app,
            &admin,
            &format!("/settings/integrations/{id}/sync"),
            &[("full", "on")],
        )
        .await;
        assert_eq!(
            location(&r),
            "/settings/integrations?done=full_sync_requested"
        );
        // The schedule form: shown with the current values, saved, refused when out of
        // range with a readable message (and nothing changed).
        let (_, html) = page(&app, &admin, "/settings/integrations").await;
        assert!(
            html.contains("name=\"sync_interval_minutes\"") && html.contains("value=\"15\""),
            "the schedule form shows the current interval"
        );
        let r = post(
            &app,
            &admin,
            &format!("/settings/integrations/{id}/settings"),
            &[
                ("sync_interval_minutes", "30"),
                ("quota_share_percent", "25"),
            ],
        )
        .await;
        assert_eq!(
            location(&r),
            "/settings/integrations?done=integration_settings_saved"
        );
        let shown = get_json(
            &app,
            &f.exec.token,
            &format!("/api/v1/integrations/{id}"),
            200,
        )
        .await;
        assert_eq!(
            (
                &shown["sync_interval_minutes"],
                &shown["quota_share_percent"]
            ),
            (&serde_json::json!(30), &serde_json::json!(25))
        );
        let r = post(
            &app,
            &admin,
            &format!("/settings/integrations/{id}/settings"),
            &[
                ("sync_interval_minutes", "2"),
                ("quota_share_percent", "lots"),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.expect("html");
        assert!(
            html.contains("Minutes between syncs must be from 5 to 1440."),
            "{html}"
        );
        assert!(html.contains("Share of the daily API budget must be a whole number."));
        let shown = get_json(
            &app,
            &f.exec.token,
            &format!("/api/v1/integrations/{id}"),
            200,
        )
        .await;
        assert_eq!(shown["sync_interval_minutes"], 30);
        let owners = get_json(
            &app,
            &f.exec.token,
            &format!("/api/v1/integrations/{id}/owners"),
            200,
        )
        .await;
        let r1_owner = owners["items"]
            .as_array()
            .expect("owners")
            .iter()
            .find(|o| o["user_id"] == f.r1.id.as_str())
            .expect("r1's owner")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let r = post(
            &app,
            &admin,
            &format!("/settings/integrations/{id}/owners"),
            &[("owner_id", &r1_owner), ("mapping", f.r4.id.as_str())],
        )
        .await;
        assert_eq!(location(&r), "/settings/integrations?done=owner_mapped");
        assert!(
            all_items(&app, &f.r1.token, "/api/v1/deals", 200)
                .await
                .is_empty()
        );
        let r = post(
            &app,
            &admin,
            "/settings/integrations",
            &[
                ("provider", "salesforce"),
                ("access_token", "pasted-secret-value"),
            ],
        )
        .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.expect("html");
        assert!(html.contains("OAuth only") && !html.contains("pasted-secret-value"));
        let r = post(
            &app,
            &admin,
            &format!("/settings/integrations/{id}/disconnect"),
            &[("delete_data", "on")],
        )
        .await;
        assert_eq!(
            location(&r),
            "/settings/integrations?done=integration_deleted"
        );
        assert_eq!(mock.state.revoked().len(), 1);
        assert!(
            all_items(&app, &f.exec.token, "/api/v1/deals", 200)
                .await
                .is_empty()
        );
        let (_, html) = page(
            &app,
            &admin,
            "/settings/integrations?done=integration_deleted",
        )
        .await;
        assert!(html.contains("No CRM connected") && html.contains("data synced from it deleted"));
    }
}

#[tokio::test]
async fn names_from_the_crm_are_escaped_and_quiet_deals_are_flagged() {
    for backend in backends() {
        let app = TestApp::spawn(backend).await;
        let f = Fixture::seed(&app, "acme").await;
        let now_ms = app.store().clock().now() * 1000;
        let day = 86_400;
        let owner = record(
            "o1",
            now_ms,
            RecordData::Owner(Owner {
                email: Some(f.r1.email.clone()),
                name: "<script>alert('owner')</script>".into(),
                active: true,
            }),
        );
        let pipeline = record(
            "p1",
            now_ms,
            RecordData::Pipeline(Pipeline {
                label: "<img src=x onerror=alert(1)>".into(),
                display_order: 0,
                stages: vec![Stage {
                    external_id: "s1".into(),
                    label: "\"><script>stage</script>".into(),
                    display_order: 0,
                    probability: Some(20.0),
                    is_closed: false,
                    is_won: false,
                }],
            }),
        );
        let deal = |id: &str, name: &str, amount: &str| {
            record(
                id,
                now_ms,
                RecordData::Deal(Deal {
                    name: name.into(),
                    amount: Some(amount.parse::<Amount>().expect("amount")),
                    currency: Some("USD".into()),
                    pipeline: Some("p1".into()),
                    stage: Some("s1".into()),
                    close_date: Some("2030-01-31".into()),
                    owner: Some("o1".into()),
                    created_at: Some(now_ms / 1000 - 30 * day),
                    closed_at: None,
                    is_closed: None,
                    is_won: None,
                    next_step: None,
                    forecast_category: None,
                    contacts: Vec::new(),
                    company: None,
                    stage_history: Vec::new(),
                    stage_history_kept: false,
                }),
            )
        };
        let activity = record(
            "a1",
            now_ms,
            RecordData::Activity(Activity {
                activity_type: ActivityType::Call,
                direction: None,
                occurred_at: Some(now_ms / 1000 - day),
                owner: Some("o1".into()),
                duration_secs: Some(300),
                outcome: None,
                subject: Some("<b onmouseover=alert(1)>call</b>".into()),
                body: Some("body text".into()),
                deal: Some("d2".into()),
                contact: None,
                company: None,
            }),
        );
        app.seed_crm(
            &f.exec.token,
            &[
                owner,
                pipeline,
                deal("d1", "<script>deal</script>", "1234.5"),
                deal("d2", "Busy deal", "100"),
                activity,
            ],
        )
        .await;
        let admin = app.browser(&f.exec.email).await;
        for path in [
            format!("/reps/{}", f.r1.id),
            format!("/teams/{}", f.t1),
            "/settings/integrations".to_owned(),
        ] {
            let (status, html) = page(&app, &admin, &path).await;
            assert_eq!(status, 200, "{path}");
            for raw in ["<script", "<img", "<b "] {
                assert!(!html.contains(raw), "{path}: raw {raw}");
            }
            assert!(
                !html.contains(" onerror=alert") || html.contains("&#60;img"),
                "{path}"
            );
        }
        let (_, rep) = page(&app, &admin, &format!("/reps/{}", f.r1.id)).await;
        assert!(
            rep.contains("&#60;script&#62;deal&#60;/script&#62;"),
            "the quiet deal is listed, escaped"
        );
        assert!(
            !rep.contains("Busy deal"),
            "a deal with recent activity is not quiet"
        );
        assert!(rep.contains("<strong>2</strong> open deals") && rep.contains("USD 1,334.50"));
        assert!(rep.contains("&#60;b onmouseover=alert(1)&#62;call&#60;/b&#62;"));
        let (_, settings) = page(&app, &admin, "/settings/integrations").await;
        assert!(
            settings.contains("&#60;script&#62;alert(&#39;owner&#39;)&#60;/script&#62;"),
            "owner name escaped"
        );
        // The API returns the same names as data, untouched.
        let deals = all_items(&app, &f.exec.token, "/api/v1/deals", 200).await;
        assert!(deals.iter().any(|d| d["name"] == "<script>deal</script>"));
    }
}
