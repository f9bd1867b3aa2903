//! Each provider through the web layer against its mock: a HubSpot private-app token
//! and a Pipedrive API token are checked with one read, saved and synced (a refused
//! token is a 422 on `access_token`, an unreachable CRM a 502); HubSpot OAuth with PKCE
//! and a granted write scope flagged; Pipedrive OAuth without PKCE; a HubSpot code
//! brought to the Pipedrive callback refused; disconnect revokes at each provider.

use std::collections::HashMap;

use connectors::Endpoints;
use domain::crm::Provider;
use mockcrm::MockOptions;
use serde_json::{Value, json};
use testkit::crm::{MOCK_STATIC_TOKEN, location};
use testkit::{Fixture, TestApp, backends};

use crate::crm_common::{
    all_items, app_with, assert_no_tokens, get_json, hubspot, pipedrive, world,
};

fn query(url: &str) -> HashMap<String, String> {
    reqwest::Url::parse(url)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect()
}

#[tokio::test]
async fn pasted_tokens_are_checked_with_one_read_then_synced() {
    for backend in backends() {
        let hs = hubspot(world("acme"), MockOptions::default()).await;
        let pd = pipedrive(world("acme"), MockOptions::default()).await;
        let app = app_with(
            backend,
            &[(Provider::Hubspot, &hs), (Provider::Pipedrive, &pd)],
        )
        .await;
        let f = Fixture::seed(&app, "acme").await;

        let r = app
            .post_json(
                &f.exec.token,
                "/api/v1/integrations",
                json!({"provider": "hubspot", "access_token": "not-a-real-token"}),
            )
            .await;
        assert_eq!(r.status(), 422);
        let problem: Value = r.json().await.expect("problem");
        assert_eq!(problem["errors"][0]["field"], "access_token", "{problem}");
        assert!(!problem.to_string().contains("not-a-real-token"));
        hs.state.clear_requests();

        let r = app
            .post_json(
                &f.exec.token,
                "/api/v1/integrations",
                json!({"provider": "hubspot", "access_token": MOCK_STATIC_TOKEN,
                       "sync_interval_minutes": 30, "quota_share_percent": 40}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let created: Value = r.json().await.expect("integration");
        assert_no_tokens(&created);
        assert_eq!(created["provider"], "hubspot");
        assert_eq!(created["auth_kind"], "token");
        assert_eq!(created["status"], "active");
        assert_eq!(created["sync_interval_minutes"], 30);
        assert_eq!(created["quota_share_percent"], 40);
        assert_eq!(created["api_base"], hs.url());
        let checks = hs.state.requests();
        assert_eq!(checks.len(), 1, "one read checks the token: {checks:?}");
        assert_eq!(checks[0].method, "GET");

        let r = app
            .post_json(
                &f.exec.token,
                "/api/v1/integrations",
                json!({"provider": "pipedrive", "access_token": MOCK_STATIC_TOKEN}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let reports = app.run_sync().await;
        assert!(reports.len() >= 2, "{reports:?}");
        assert!(
            reports.iter().all(|r| r.status == "succeeded"),
            "{reports:?}"
        );
        let deals = all_items(&app, &f.exec.token, "/api/v1/deals", 200).await;
        for provider in ["hubspot", "pipedrive"] {
            assert_eq!(
                deals.iter().filter(|d| d["provider"] == provider).count(),
                30,
                "{provider}"
            );
        }
        // Token integrations have nothing to revoke; disconnecting forgets the token.
        let id = created["id"].as_str().expect("id");
        let r = app
            .delete(&f.exec.token, &format!("/api/v1/integrations/{id}"))
            .await;
        assert_eq!(r.status(), 204);
        assert!(hs.state.revoked().is_empty());

        // An unreachable CRM: 502, nothing saved.
        let down = TestApp::spawn_with_crm(backend, |crm, _| {
            crm.set_endpoints(
                Provider::Hubspot,
                Endpoints {
                    api: "http://127.0.0.1:9".into(),
                    auth: "http://127.0.0.1:9/oauth/authorize".into(),
                    token: "http://127.0.0.1:9/oauth/v1/token".into(),
                },
            );
            crm.verify_options.max_retries = 0;
        })
        .await;
        let ada = down.signup("Down Corp", "Ada", "ada@down.example").await;
        let r = down
            .post_json(
                &ada.access_token,
                "/api/v1/integrations",
                json!({"provider": "hubspot", "access_token": MOCK_STATIC_TOKEN}),
            )
            .await;
        assert_eq!(r.status(), 502);
        let list = get_json(&down, &ada.access_token, "/api/v1/integrations", 200).await;
        assert_eq!(list["items"], json!([]));
    }
}

#[tokio::test]
async fn hubspot_and_pipedrive_connect_through_oauth_and_revoke_on_disconnect() {
    for backend in backends() {
        let hs = hubspot(
            world("acme"),
            MockOptions {
                granted_scope: Some("oauth crm.objects.deals.read crm.objects.deals.write".into()),
                ..MockOptions::default()
            },
        )
        .await;
        let pd = pipedrive(world("acme"), MockOptions::default()).await;
        let app = app_with(
            backend,
            &[(Provider::Hubspot, &hs), (Provider::Pipedrive, &pd)],
        )
        .await;
        let f = Fixture::seed(&app, "acme").await;
        let admin = app.browser(&f.exec.email).await;

        // HubSpot asks for its read scopes with PKCE S256.
        let start = app.oauth_start(&admin, Provider::Hubspot).await;
        let authorize = location(&start);
        let q = query(&authorize);
        assert!(authorize.starts_with(&format!("{}/oauth/authorize?", hs.url())));
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        let profile = connectors::oauth::Profile::for_provider(Provider::Hubspot);
        assert_eq!(q["scope"], profile.scopes.join(" "));
        assert!(!q["scope"].contains("write"));
        // A HubSpot code brought to the Pipedrive callback is refused.
        let back = app.oauth_approve(&authorize).await;
        let mixed = back.replace("/integrations/hubspot/", "/integrations/pipedrive/");
        let r = app.oauth_callback(&admin, &mixed).await;
        assert_eq!(r.status(), 400);
        let list = get_json(&app, &f.exec.token, "/api/v1/integrations", 200).await;
        assert_eq!(list["items"], json!([]), "nothing stored");

        // The real flow: connected, the write scope flagged, and it syncs.
        let done = app.oauth_connect(&admin, Provider::Hubspot).await;
        assert_eq!(
            location(&done),
            "/settings/integrations?done=integration_flagged"
        );
        let list = get_json(&app, &f.exec.token, "/api/v1/integrations", 200).await;
        assert_no_tokens(&list);
        let hs_id = list["items"][0]["id"].as_str().expect("id").to_owned();
        assert_eq!(
            list["items"][0]["extra_scopes"],
            json!(["crm.objects.deals.write"])
        );

        // Pipedrive: scopes live on the app, no PKCE.
        let start = app.oauth_start(&admin, Provider::Pipedrive).await;
        let authorize = location(&start);
        let q = query(&authorize);
        assert!(
            !q.contains_key("code_challenge") && !q.contains_key("scope"),
            "{authorize}"
        );
        let back = app.oauth_approve(&authorize).await;
        let done = app.oauth_callback(&admin, &back).await;
        assert_eq!(
            location(&done),
            "/settings/integrations?done=integration_connected"
        );
        let reports = app.run_sync().await;
        assert!(
            reports.len() >= 2 && reports.iter().all(|r| r.status == "succeeded"),
            "{reports:?}"
        );
        let list = get_json(&app, &f.exec.token, "/api/v1/integrations", 200).await;
        let pd_id = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["provider"] == "pipedrive")
            .and_then(|i| i["id"].as_str())
            .expect("pipedrive")
            .to_owned();

        for (id, mock) in [(&hs_id, &hs), (&pd_id, &pd)] {
            let r = app
                .delete(
                    &f.exec.token,
                    &format!("/api/v1/integrations/{id}?delete_data=true"),
                )
                .await;
            assert_eq!(r.status(), 204);
            assert_eq!(mock.state.revoked().len(), 1, "revoked at the provider");
        }
        assert!(
            all_items(&app, &f.exec.token, "/api/v1/deals", 200)
                .await
                .is_empty()
        );
    }
}
