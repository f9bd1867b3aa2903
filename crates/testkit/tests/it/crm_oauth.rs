//! OAuth connect end to end against the Salesforce mock (SECURITY.md OA-01..OA-04):
//! the authorize URL carries PKCE S256, our exact callback and the read-only scopes;
//! the callback stores a connection that syncs; a missing, foreign-session, replayed or
//! expired state, a code brought to another provider's callback, and a refusal at the
//! provider all answer 4xx and store nothing; a broader grant than asked is flagged.

use std::collections::HashMap;

use domain::crm::Provider;
use mockcrm::MockOptions;
use serde_json::Value;
use testkit::crm::location;
use testkit::{Fixture, TestApp, backends};

use crate::crm_common::{app_for, assert_no_tokens, get_json, salesforce, world};

fn query(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

async fn count(app: &TestApp, token: &str) -> usize {
    get_json(app, token, "/api/v1/integrations", 200).await["items"]
        .as_array()
        .expect("items")
        .len()
}

#[tokio::test]
async fn an_admin_connects_salesforce_through_oauth_and_it_syncs() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let browser = app.browser(&f.exec.email).await;

        let start = app.oauth_start(&browser, Provider::Salesforce).await;
        assert_eq!(start.status(), 303);
        let authorize = location(&start);
        assert!(authorize.starts_with(&format!("{}/services/oauth2/authorize?", mock.url())));
        let q = query(&authorize);
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert!(q["state"].len() >= 22, "state carries at least 128 bits");
        assert_eq!(q["scope"], "api refresh_token");
        assert_eq!(
            q["redirect_uri"],
            format!("{}/integrations/salesforce/callback", app.base)
        );
        assert!(!authorize.contains(testkit::crm::MOCK_CLIENT_SECRET));

        let back = app.oauth_approve(&authorize).await;
        let done = app.oauth_callback(&browser, &back).await;
        assert_eq!(done.status(), 303);
        assert_eq!(
            location(&done),
            "/settings/integrations?done=integration_connected"
        );

        let list = get_json(&app, &f.exec.token, "/api/v1/integrations", 200).await;
        assert_no_tokens(&list);
        let item = &list["items"][0];
        assert_eq!(item["provider"], "salesforce");
        assert_eq!(item["auth_kind"], "oauth");
        assert_eq!(item["status"], "active");
        assert_eq!(
            item["api_base"],
            mock.url(),
            "the token response's instance_url"
        );
        assert_eq!(item["scopes_flagged"], false);
        let id = item["id"].as_str().expect("id").to_owned();

        let reports = app.run_sync().await;
        assert_eq!(reports.len(), 1, "the first sync ran, once");
        assert!(
            reports.iter().all(|r| r.status == "succeeded"),
            "{reports:?}"
        );
        assert_eq!(reports[0].stats.kinds["deal"].created, 30, "{reports:?}");
        let shown = get_json(
            &app,
            &f.exec.token,
            &format!("/api/v1/integrations/{id}"),
            200,
        )
        .await;
        assert_no_tokens(&shown);
        assert!(shown["last_success_at"].is_string(), "{shown}");
        let runs = shown["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), reports.len());
        let run = runs.last().expect("the first run");
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["kinds"]["deal"]["read"], 30, "{run}");
        assert_eq!(run["kinds"]["deal"]["created"], 30, "{run}");
        assert_eq!(run["totals"]["created"], 156, "{run}");
        assert!(run["requests"].as_u64().expect("requests") > 0);
        assert!(
            shown["quota"]["used"].as_u64().expect("quota") > 0,
            "{shown}"
        );
        let deals = get_json(&app, &f.exec.token, "/api/v1/deals?limit=200", 200).await;
        assert_eq!(deals["items"].as_array().expect("deals").len(), 30);
        assert_eq!(deals["items"][0]["provider"], "salesforce");
        // Stage history from OpportunityHistory: it ends in the deal's stage, and a
        // closed deal closed when it entered that stage.
        for deal in deals["items"].as_array().expect("deals") {
            let history = deal["stage_history"].as_array().expect("stage_history");
            let last = history
                .last()
                .expect("at least the stage it was created in");
            assert_eq!(last["stage"], deal["stage"]["id"], "{deal}");
            assert!(last["entered_at"].is_string(), "{deal}");
            if deal["is_closed"] == true {
                assert_eq!(deal["closed_at"], last["entered_at"], "{deal}");
            } else {
                assert!(deal["closed_at"].is_null(), "{deal}");
            }
        }
    }
}

#[tokio::test]
async fn bad_states_codes_and_refusals_store_nothing() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let admin = app.browser(&f.exec.email).await;
        let other_session = app.browser(&f.exec.email).await;
        let callback = format!("{}/integrations/salesforce/callback", app.base);
        let refused = |r: reqwest::Response, what: &'static str| async move {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert!((400..500).contains(&status), "{what}: {status}");
            assert!(body.contains("Settings → Integrations"), "{what}: {body}");
        };
        let approved = |browser: &testkit::Browser| {
            let app = &app;
            let browser = browser.clone();
            async move {
                let start = app.oauth_start(&browser, Provider::Salesforce).await;
                app.oauth_approve(&location(&start)).await
            }
        };

        // No state at all.
        let back = approved(&admin).await;
        let code = query(&back)["code"].clone();
        let r = app
            .oauth_callback(&admin, &format!("{callback}?code={code}"))
            .await;
        refused(r, "missing state").await;

        // Another session of the same admin.
        let back = approved(&admin).await;
        refused(
            app.oauth_callback(&other_session, &back).await,
            "foreign session",
        )
        .await;
        assert_eq!(count(&app, &f.exec.token).await, 0);

        // A code for Salesforce brought to another provider's callback (mix-up).
        let back = approved(&admin).await;
        let mixed = back.replace("/integrations/salesforce/", "/integrations/hubspot/");
        refused(
            app.oauth_callback(&admin, &mixed).await,
            "other provider's callback",
        )
        .await;

        // The provider reports a refusal.
        let start = app.oauth_start(&admin, Provider::Salesforce).await;
        let state = query(&location(&start))["state"].clone();
        let r = app
            .oauth_callback(
                &admin,
                &format!("{callback}?error=access_denied&state={state}"),
            )
            .await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(status, 400);
        assert!(body.contains("not approved"), "{body}");

        // Expired: ten minutes and a second later.
        let back = approved(&admin).await;
        app.store().clock().advance(601);
        refused(app.oauth_callback(&admin, &back).await, "expired state").await;
        assert_eq!(count(&app, &f.exec.token).await, 0, "nothing stored");

        // The real thing works once; replaying it does not.
        let back = approved(&admin).await;
        assert_eq!(app.oauth_callback(&admin, &back).await.status(), 303);
        refused(app.oauth_callback(&admin, &back).await, "replayed state").await;
        assert_eq!(count(&app, &f.exec.token).await, 1);

        // Only admins start a flow; unconfigured providers offer none.
        let manager = app.browser(&f.m1.email).await;
        assert_eq!(
            app.oauth_start(&manager, Provider::Salesforce)
                .await
                .status(),
            403
        );
        assert_eq!(
            app.oauth_start(&admin, Provider::Pipedrive).await.status(),
            404
        );
        let r = app
            .http
            .get(app.url("/integrations/nonsense/connect"))
            .header("cookie", &admin.cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 404);
    }
}

#[tokio::test]
async fn a_broader_grant_than_asked_is_flagged() {
    for backend in backends() {
        let mock = salesforce(
            world("acme"),
            MockOptions {
                granted_scope: Some("api refresh_token full".into()),
                ..MockOptions::default()
            },
        )
        .await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let admin = app.browser(&f.exec.email).await;
        let done = app.oauth_connect(&admin, Provider::Salesforce).await;
        assert_eq!(
            location(&done),
            "/settings/integrations?done=integration_flagged"
        );
        let list: Value = get_json(&app, &f.exec.token, "/api/v1/integrations", 200).await;
        assert_eq!(
            list["items"][0]["extra_scopes"],
            serde_json::json!(["full"])
        );
        assert_eq!(list["items"][0]["scopes_flagged"], true);
        // The dashboard and settings warn the admin.
        for page in ["/", "/settings", "/settings/integrations"] {
            let html = app
                .http
                .get(app.url(page))
                .header("cookie", &admin.cookie)
                .send()
                .await
                .expect("page")
                .text()
                .await
                .expect("html");
            assert!(
                html.contains("A CRM integration needs attention") && html.contains("full"),
                "{page}"
            );
        }
    }
}
