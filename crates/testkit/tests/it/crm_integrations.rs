//! The integrations API: who sees and manages integrations (admins manage, executives
//! look, everyone else gets 404), Sync now and Full re-sync (202, and the job runs),
//! disconnect (tokens revoked at the provider; synced data kept or deleted), token
//! connect input checks, and owner mapping.

use mockcrm::MockOptions;
use reqwest::Method;
use serde_json::{Value, json};
use testkit::{Fixture, backends};

use crate::crm_common::{
    all_items, app_for, assert_no_tokens, connected, get_json, join, salesforce, world,
};

#[tokio::test]
async fn admins_manage_executives_look_and_everyone_else_gets_404() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let id = connected(&app, &f).await;
        let (_, viewer) = join(&app, &f.exec.token, "viewer@acme.example", "executive").await;
        let item = format!("/api/v1/integrations/{id}");

        // A non-admin executive sees everything, changes nothing.
        let shown = get_json(&app, &viewer, &item, 200).await;
        assert_eq!(shown["id"], id.as_str());
        assert_no_tokens(&shown);
        let owners = get_json(&app, &viewer, &format!("{item}/owners"), 200).await;
        let owner = owners["items"][0]["id"].as_str().expect("owner").to_owned();
        for (method, path, body) in [
            (Method::POST, format!("{item}/sync"), json!({})),
            (
                Method::PATCH,
                item.clone(),
                json!({"sync_interval_minutes": 30}),
            ),
            (Method::DELETE, item.clone(), json!({})),
            (
                Method::PUT,
                format!("{item}/owners/{owner}"),
                json!({"mapping": "nobody"}),
            ),
            (
                Method::POST,
                "/api/v1/integrations".to_owned(),
                json!({"provider": "hubspot", "access_token": "x"}),
            ),
        ] {
            let r = app.send_json(method.clone(), &viewer, &path, body).await;
            assert_eq!(r.status(), 403, "{method} {path}");
        }

        // Managers and reps: the list is empty and every integration is missing.
        for person in [&f.m1, &f.m2, &f.r1] {
            let list = get_json(&app, &person.token, "/api/v1/integrations", 200).await;
            assert_eq!(list["items"], json!([]));
            assert_eq!(list["next_cursor"], Value::Null);
            for (method, path) in [
                (Method::GET, item.clone()),
                (Method::GET, format!("{item}/owners")),
                (Method::POST, format!("{item}/sync")),
                (Method::PATCH, item.clone()),
                (Method::PUT, format!("{item}/owners/{owner}")),
                (Method::DELETE, item.clone()),
            ] {
                let r = app
                    .send_json(
                        method.clone(),
                        &person.token,
                        &path,
                        json!({"mapping": "nobody", "sync_interval_minutes": 30}),
                    )
                    .await;
                assert_eq!(r.status(), 404, "{method} {path}");
            }
        }
        // Nothing changed on the way.
        let shown = get_json(&app, &f.exec.token, &item, 200).await;
        assert_eq!(shown["status"], "active");
    }
}

#[tokio::test]
async fn admins_change_the_sync_interval_and_quota_share() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let id = connected(&app, &f).await;
        let item = format!("/api/v1/integrations/{id}");
        app.run_sync().await;
        let before = get_json(&app, &f.exec.token, &item, 200).await;
        assert_eq!(before["sync_interval_minutes"], 15);
        let last = iso_secs(&before["last_success_at"]);
        assert_eq!(
            iso_secs(&before["next_sync_at"]),
            last + 15 * 60,
            "{before}"
        );

        // Longer: the sync already due keeps its time; the new interval follows it.
        let r = app
            .send_json(
                Method::PATCH,
                &f.exec.token,
                &item,
                json!({"sync_interval_minutes": 60}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["sync_interval_minutes"], 60);
        assert_eq!(body["quota_share_percent"], before["quota_share_percent"]);
        assert_eq!(body["next_sync_at"], before["next_sync_at"]);
        assert_no_tokens(&body);

        // Shorter: the next sync comes forward; the share changes alone when asked.
        let r = app
            .send_json(
                Method::PATCH,
                &f.exec.token,
                &item,
                json!({"sync_interval_minutes": 5, "quota_share_percent": 20}),
            )
            .await;
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("json");
        assert_eq!(
            (&body["sync_interval_minutes"], &body["quota_share_percent"]),
            (&json!(5), &json!(20))
        );
        assert_eq!(iso_secs(&body["next_sync_at"]), last + 5 * 60, "{body}");
        let shown = get_json(&app, &f.exec.token, &item, 200).await;
        assert_eq!(shown["quota_share_percent"], 20);

        // Bad input names the field and changes nothing.
        for (bad, field) in [
            (json!({"sync_interval_minutes": 4}), "sync_interval_minutes"),
            (
                json!({"sync_interval_minutes": 1441}),
                "sync_interval_minutes",
            ),
            (json!({"quota_share_percent": 0}), "quota_share_percent"),
            (json!({"quota_share_percent": 101}), "quota_share_percent"),
            (
                json!({"quota_share_percent": "half"}),
                "quota_share_percent",
            ),
        ] {
            let r = app
                .send_json(Method::PATCH, &f.exec.token, &item, bad.clone())
                .await;
            assert_eq!(r.status(), 422, "{bad}");
            let problem: Value = r.json().await.expect("json");
            assert!(problem.to_string().contains(field), "{bad}: {problem}");
        }
        let r = app
            .send_json(Method::PATCH, &f.exec.token, &item, json!({"interval": 5}))
            .await;
        assert_eq!(r.status(), 422, "nothing to change is refused");
        let after = get_json(&app, &f.exec.token, &item, 200).await;
        assert_eq!(
            (
                &after["sync_interval_minutes"],
                &after["quota_share_percent"]
            ),
            (&json!(5), &json!(20))
        );

        // A disconnected integration has nothing to schedule.
        let r = app.delete(&f.exec.token, &item).await;
        assert_eq!(r.status(), 204);
        let r = app
            .send_json(
                Method::PATCH,
                &f.exec.token,
                &item,
                json!({"quota_share_percent": 50}),
            )
            .await;
        assert_eq!(r.status(), 409);
    }
}

/// Epoch seconds of an RFC 3339 timestamp in a JSON value.
fn iso_secs(v: &Value) -> i64 {
    let text = v.as_str().unwrap_or_else(|| panic!("a timestamp, got {v}"));
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .expect("RFC 3339")
        .unix_timestamp()
}

#[tokio::test]
async fn sync_now_is_accepted_and_the_job_runs() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let id = connected(&app, &f).await;
        let item = format!("/api/v1/integrations/{id}");
        let before = get_json(&app, &f.exec.token, &item, 200).await["runs"]
            .as_array()
            .expect("runs")
            .len();
        // No body at all is fine.
        let r = app
            .http
            .post(app.url(&format!("{item}/sync")))
            .bearer_auth(&f.exec.token)
            .send()
            .await
            .expect("sync");
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.expect("json");
        assert_no_tokens(&body);
        assert_eq!(body["full_resync_pending"], false);
        let reports = app.run_sync().await;
        assert!(
            !reports.is_empty() && reports.iter().all(|r| r.status == "succeeded"),
            "{reports:?}"
        );
        let shown = get_json(&app, &f.exec.token, &item, 200).await;
        let runs = shown["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), before + reports.len());
        assert_eq!(runs[0]["trigger"], "scheduled");
        assert_eq!(runs[0]["totals"]["created"], 0, "nothing new upstream");

        // A full re-sync reads everything again.
        let r = app
            .post_json(
                &f.exec.token,
                &format!("{item}/sync"),
                json!({"full": true}),
            )
            .await;
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.expect("json");
        assert_eq!(body["full_resync_pending"], true);
        app.run_sync().await;
        let shown = get_json(&app, &f.exec.token, &item, 200).await;
        let resync = shown["runs"]
            .as_array()
            .expect("runs")
            .iter()
            .find(|r| r["trigger"] == "resync")
            .expect("a resync run")
            .clone();
        assert_eq!(resync["kinds"]["deal"]["read"], 30, "{resync}");
        assert_eq!(shown["full_resync_pending"], false);
        // Bad input is 422, never 500.
        let r = app
            .post_json(
                &f.exec.token,
                &format!("{item}/sync"),
                json!({"full": "yes"}),
            )
            .await;
        assert_eq!(r.status(), 422);
    }
}

#[tokio::test]
async fn disconnect_revokes_at_the_provider_and_deletes_data_when_asked() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let id = connected(&app, &f).await;
        let item = format!("/api/v1/integrations/{id}");
        assert!(mock.state.revoked().is_empty());

        let r = app
            .delete(&f.exec.token, &format!("{item}?delete_data=maybe"))
            .await;
        assert_eq!(r.status(), 422);
        // Disconnect, keeping the data.
        assert_eq!(app.delete(&f.exec.token, &item).await.status(), 204);
        assert_eq!(
            mock.state.revoked().len(),
            1,
            "the refresh token is revoked"
        );
        let shown = get_json(&app, &f.exec.token, &item, 200).await;
        assert_eq!(shown["status"], "disconnected");
        assert_eq!(shown["next_sync_at"], Value::Null);
        assert_eq!(
            all_items(&app, &f.exec.token, "/api/v1/deals", 200)
                .await
                .len(),
            30,
            "synced data stays"
        );
        let r = app
            .post_json(&f.exec.token, &format!("{item}/sync"), json!({}))
            .await;
        assert_eq!(r.status(), 409);
        assert!(app.run_sync().await.is_empty(), "no more syncs");

        // Delete it with its data (asked in the body this time).
        let r = app
            .send_json(
                Method::DELETE,
                &f.exec.token,
                &item,
                json!({"delete_data": true}),
            )
            .await;
        assert_eq!(r.status(), 204);
        get_json(&app, &f.exec.token, &item, 404).await;
        for kind in ["deals", "contacts", "companies", "activities"] {
            let items = all_items(&app, &f.exec.token, &format!("/api/v1/{kind}"), 200).await;
            assert!(items.is_empty(), "{kind} left behind");
        }

        // Connect again, disconnect with the data in one go.
        let id = connected(&app, &f).await;
        let r = app
            .delete(
                &f.exec.token,
                &format!("/api/v1/integrations/{id}?delete_data=true"),
            )
            .await;
        assert_eq!(r.status(), 204);
        assert_eq!(mock.state.revoked().len(), 2);
        assert!(
            all_items(&app, &f.exec.token, "/api/v1/deals", 200)
                .await
                .is_empty()
        );
    }
}

#[tokio::test]
async fn token_connect_checks_its_input_before_calling_anyone() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let cases = [
            (
                json!({"provider": "salesforce", "access_token": "t"}),
                "provider",
            ),
            (json!({"provider": "zoho", "access_token": "t"}), "provider"),
            (json!({"provider": "hubspot"}), "access_token"),
            (
                json!({"provider": "hubspot", "access_token": "  "}),
                "access_token",
            ),
            (
                json!({"provider": "hubspot", "access_token": "two words"}),
                "access_token",
            ),
            (
                json!({"provider": "pipedrive", "access_token": "t", "sync_interval_minutes": 1}),
                "sync_interval_minutes",
            ),
            (
                json!({"provider": "pipedrive", "access_token": "t", "quota_share_percent": 101}),
                "quota_share_percent",
            ),
            (json!({"access_token": "t"}), "provider"),
            (json!({"provider": 7, "access_token": "t"}), "provider"),
        ];
        for (body, field) in cases {
            let r = app
                .post_json(&f.exec.token, "/api/v1/integrations", body.clone())
                .await;
            assert_eq!(r.status(), 422, "{body}");
            let problem: Value = r.json().await.expect("problem");
            assert!(
                problem["errors"]
                    .as_array()
                    .expect("errors")
                    .iter()
                    .any(|e| e["field"] == field),
                "{body}: {problem}"
            );
        }
        let r = app
            .post_json(
                &f.m1.token,
                "/api/v1/integrations",
                json!({"provider": "hubspot", "access_token": "t"}),
            )
            .await;
        assert_eq!(r.status(), 403, "managers cannot connect");
        let list = get_json(&app, &f.exec.token, "/api/v1/integrations", 200).await;
        assert_eq!(list["items"], json!([]));
    }
}

#[tokio::test]
async fn owners_map_by_email_and_by_hand() {
    for backend in backends() {
        let mock = salesforce(world("acme"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let f = Fixture::seed(&app, "acme").await;
        let other = Fixture::seed(&app, "other").await;
        let id = connected(&app, &f).await;
        let owners_path = format!("/api/v1/integrations/{id}/owners");
        let owners = all_items(&app, &f.exec.token, &owners_path, 2).await;
        assert_eq!(owners.len(), 5);
        let by_email = |email: &str| {
            owners
                .iter()
                .find(|o| o["email"] == email)
                .expect("owner")
                .clone()
        };
        let r1 = by_email("r1@acme.example");
        assert_eq!(r1["user_id"], f.r1.id.as_str());
        assert_eq!(r1["mapping"], "automatic");
        let stranger = by_email("stranger@elsewhere.example");
        assert_eq!(stranger["user_id"], Value::Null);
        let put = |owner: &Value, body: Value| {
            let app = &app;
            let path = format!("{owners_path}/{}", owner["id"].as_str().expect("id"));
            let token = f.exec.token.clone();
            async move { app.send_json(Method::PUT, &token, &path, body).await }
        };
        let deals_of = |token: String| {
            let app = &app;
            async move { all_items(app, &token, "/api/v1/deals", 200).await.len() }
        };
        let r1_before = deals_of(f.r1.token.clone()).await;
        assert!(r1_before > 0);
        let stranger_deals = all_items(&app, &f.exec.token, "/api/v1/deals", 200)
            .await
            .iter()
            .filter(|d| d["owner"]["user_id"].is_null())
            .count();
        assert!(stranger_deals > 0);

        // The stranger's records go to r4 by hand.
        let r = put(&stranger, json!({"mapping": "user", "user_id": f.r4.id})).await;
        assert_eq!(r.status(), 200);
        let shown: Value = r.json().await.expect("owner");
        assert_eq!(
            (shown["mapping"].clone(), shown["user_id"].clone()),
            (json!("user"), json!(f.r4.id))
        );
        assert_eq!(deals_of(f.r4.token.clone()).await, stranger_deals);
        // r1's go to nobody: r1 and their manager lose them, the executive keeps them.
        let m1_before = deals_of(f.m1.token.clone()).await;
        let r = put(&r1, json!({"mapping": "nobody"})).await;
        assert_eq!(r.status(), 200);
        assert_eq!(deals_of(f.r1.token.clone()).await, 0);
        assert_eq!(deals_of(f.m1.token.clone()).await, m1_before - r1_before);
        assert_eq!(deals_of(f.exec.token.clone()).await, 30);
        // And back to automatic.
        let r = put(&r1, json!({"mapping": "automatic"})).await;
        let shown: Value = r.json().await.expect("owner");
        assert_eq!(shown["user_id"], f.r1.id.as_str());
        assert_eq!(deals_of(f.r1.token.clone()).await, r1_before);

        // Bad input: 422 naming the field; unknown owners: 404.
        for (body, field) in [
            (json!({}), "mapping"),
            (json!({"mapping": "everyone"}), "mapping"),
            (json!({"mapping": "user"}), "user_id"),
            (json!({"mapping": "user", "user_id": "x"}), "user_id"),
            (
                json!({"mapping": "user", "user_id": other.r1.id}),
                "user_id",
            ),
            (json!({"mapping": "nobody", "user_id": f.r2.id}), "user_id"),
        ] {
            let r = put(&r1, body.clone()).await;
            assert_eq!(r.status(), 422, "{body}");
            let problem: Value = r.json().await.expect("problem");
            assert_eq!(problem["errors"][0]["field"], field, "{body}");
        }
        let missing = json!({"id": uuid::Uuid::now_v7().to_string()});
        assert_eq!(
            put(&missing, json!({"mapping": "nobody"})).await.status(),
            404
        );
    }
}
