//! The 404-not-403 walk (SECURITY.md AC-04, AC-05): every route of the router, API and
//! HTML, is called with an id from another organization, with an id the seat may not
//! see, and with an id that does not exist. All three must answer 404 with the same
//! body. Routes come from the OpenAPI document and the page route table, so a new route
//! is walked without anyone editing this test; a new kind of id fails the test until
//! it is taught here. CRM ids are real: both organizations connect the Salesforce mock
//! and sync, so there are integrations, deals and owners of another organization and
//! ones the viewing rep may not see. A second path id (`{owner_id}`) is walked with
//! the owner of the integration the first names.

use mockcrm::MockOptions;
use reqwest::Method;
use serde_json::json;
use testkit::{Browser, Fixture, TestApp, backends};

use crate::crm_common::{app_for, connected, get_json, salesforce, world};

/// Every (method, path) the application serves.
pub(crate) fn all_routes() -> Vec<(Method, String)> {
    let doc = web::api::openapi();
    let mut routes = Vec::new();
    for (path, item) in &doc.paths.paths {
        let ops = [
            (Method::GET, item.get.is_some()),
            (Method::POST, item.post.is_some()),
            (Method::PUT, item.put.is_some()),
            (Method::PATCH, item.patch.is_some()),
            (Method::DELETE, item.delete.is_some()),
        ];
        for (method, present) in ops {
            if present {
                routes.push((method, path.clone()));
            }
        }
    }
    for (method, path) in web::pages::PAGE_ROUTES {
        routes.push((method.parse().expect("method"), (*path).to_owned()));
    }
    routes
}

/// The kind of object an `{id}` names, from the path segment before it.
fn id_kind(path: &str) -> &'static str {
    let before = path.split("/{id}").next().unwrap_or_default();
    match before.rsplit('/').next().unwrap_or_default() {
        "users" | "reps" | "members" => "user",
        "teams" => "team",
        "sessions" => "session",
        "notes" => "note",
        "integrations" => "integration",
        "deals" => "deal",
        other => panic!("route {path}: teach the tenancy walk what a `{other}` id is"),
    }
}

struct Ids {
    foreign: String,
    invisible: String,
}

async fn send(
    app: &TestApp,
    method: &Method,
    path: &str,
    token: Option<&str>,
    browser: Option<&Browser>,
) -> (u16, String) {
    let mut req = app.http.request(method.clone(), app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = browser {
        req = req.headers(b.headers(true));
    }
    if *method != Method::GET && *method != Method::DELETE {
        req = if path.starts_with("/api/") {
            req.json(&json!({}))
        } else {
            req.header("content-type", "application/x-www-form-urlencoded")
                .body(format!(
                    "csrf_token={}",
                    browser.map(|b| b.csrf.as_str()).unwrap_or_default()
                ))
        };
    }
    let r = req.send().await.expect("request");
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

#[tokio::test]
async fn every_route_answers_the_same_404_for_foreign_invisible_and_missing_ids() {
    for backend in backends() {
        let mock = salesforce(world("alpha"), MockOptions::default()).await;
        let app = app_for(backend, &mock).await;
        let a = Fixture::seed(&app, "alpha").await;
        let b = Fixture::seed(&app, "beta").await;
        let a_integration = connected(&app, &a).await;
        let b_integration = connected(&app, &b).await;
        let first_owner = |token: String, integration: String| {
            let app = &app;
            async move {
                let owners = get_json(
                    app,
                    &token,
                    &format!("/api/v1/integrations/{integration}/owners"),
                    200,
                )
                .await;
                owners["items"][0]["id"].as_str().expect("owner").to_owned()
            }
        };
        let a_owner = first_owner(a.exec.token.clone(), a_integration.clone()).await;
        let b_owner = first_owner(b.exec.token.clone(), b_integration.clone()).await;
        let deal_of = |token: String, user: Option<String>| {
            let app = &app;
            async move {
                let deals = get_json(app, &token, "/api/v1/deals?limit=200", 200).await;
                deals["items"]
                    .as_array()
                    .expect("deals")
                    .iter()
                    .find(|d| user.as_deref().is_none_or(|u| d["owner"]["user_id"] == u))
                    .and_then(|d| d["id"].as_str())
                    .expect("a deal")
                    .to_owned()
            }
        };
        let foreign_deal = deal_of(b.exec.token.clone(), None).await;
        let invisible_deal = deal_of(a.exec.token.clone(), Some(a.r2.id.clone())).await;
        // The viewer is rep r1 of org A, in the browser and through the API.
        let viewer = &a.r1;
        let browser = app.browser(&viewer.email).await;
        let b_session = app.login(&b.r1.email, testkit::PASSWORD).await;
        let a_other_session = app.login(&a.r2.email, testkit::PASSWORD).await;
        let session_id = |token: String| {
            let app = &app;
            async move {
                let v: serde_json::Value = app
                    .get(&token, "/api/v1/sessions")
                    .await
                    .json()
                    .await
                    .expect("sessions");
                v["items"][0]["id"].as_str().expect("session id").to_owned()
            }
        };
        let ids = |kind: &str| -> Ids {
            match kind {
                "user" => Ids {
                    foreign: b.r1.id.clone(),
                    invisible: a.r2.id.clone(),
                },
                "team" => Ids {
                    foreign: b.t1.clone(),
                    invisible: a.t3.clone(),
                },
                "integration" => Ids {
                    foreign: b_integration.clone(),
                    invisible: a_integration.clone(),
                },
                "deal" => Ids {
                    foreign: foreign_deal.clone(),
                    invisible: invisible_deal.clone(),
                },
                _ => Ids {
                    foreign: String::new(),
                    invisible: String::new(),
                },
            }
        };
        let note = |token: String, subject: String, visibility: &'static str| {
            let app = &app;
            async move {
                let r = app
                    .post_json(&token, "/api/v1/notes", json!({"subject_user_id": subject, "body": "note", "visibility": visibility}))
                    .await;
                assert_eq!(r.status(), 201);
                let v: serde_json::Value = r.json().await.expect("note");
                v["id"].as_str().expect("note id").to_owned()
            }
        };
        // Another org's shared note, and a private note about the viewer by their manager.
        let foreign_note = note(b.exec.token.clone(), b.r1.id.clone(), "shared").await;
        let invisible_note = note(a.m1.token.clone(), a.r1.id.clone(), "private").await;
        let foreign_session = session_id(b_session.access_token.clone()).await;
        let invisible_session = session_id(a_other_session.access_token.clone()).await;
        let mut walked = 0;
        for (method, template) in all_routes() {
            if !template.contains("{id}") {
                continue;
            }
            let kind = id_kind(&template);
            let Ids { foreign, invisible } = match kind {
                "session" => Ids {
                    foreign: foreign_session.clone(),
                    invisible: invisible_session.clone(),
                },
                "note" => Ids {
                    foreign: foreign_note.clone(),
                    invisible: invisible_note.clone(),
                },
                k => ids(k),
            };
            let missing = uuid::Uuid::now_v7().to_string();
            let is_api = template.starts_with("/api/");
            let mut bodies = Vec::new();
            // The owner named beside each integration id: its own, where it has one.
            let owners = [
                uuid::Uuid::now_v7().to_string(),
                b_owner.clone(),
                a_owner.clone(),
                "not-a-uuid".to_owned(),
            ];
            for (id, owner) in [&missing, &foreign, &invisible, &"not-a-uuid".to_owned()]
                .into_iter()
                .zip(&owners)
            {
                let path = template.replace("{id}", id).replace("{owner_id}", owner);
                let (status, body) = if is_api {
                    send(&app, &method, &path, Some(&viewer.token), None).await
                } else {
                    send(&app, &method, &path, None, Some(&browser)).await
                };
                assert_eq!(
                    status, 404,
                    "{method} {template} with {id} ({backend:?}): {body}"
                );
                bodies.push(body);
            }
            assert!(
                bodies.windows(2).all(|w| w[0] == w[1]),
                "{method} {template}: 404 bodies differ"
            );
            walked += 1;
        }
        assert!(walked >= 19, "walked only {walked} routes with ids");
        // An admin of A cannot reach B's integration, deal or owner either, not even
        // through an integration of A's own.
        for path in [
            format!("/api/v1/integrations/{b_integration}"),
            format!("/api/v1/deals/{foreign_deal}"),
        ] {
            get_json(&app, &a.exec.token, &path, 404).await;
        }
        let r = app
            .send_json(
                Method::PUT,
                &a.exec.token,
                &format!("/api/v1/integrations/{a_integration}/owners/{b_owner}"),
                json!({"mapping": "nobody"}),
            )
            .await;
        assert_eq!(r.status(), 404);
        // The objects still exist for their owners: the 404s were not a broken route.
        assert_eq!(
            app.get(&b.exec.token, &format!("/api/v1/users/{}", b.r1.id))
                .await
                .status(),
            200
        );
        assert_eq!(
            app.get(&a.exec.token, &format!("/api/v1/teams/{}", a.t3))
                .await
                .status(),
            200
        );
    }
}

#[tokio::test]
async fn unauthenticated_requests_get_401_or_a_login_redirect() {
    let app = TestApp::spawn(testkit::Backend::Sqlite).await;
    let public_api = [
        "/api/v1/auth/signup",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/invitations/{token}/accept",
        "/api/v1/openapi.json",
    ];
    let public_pages = ["/login", "/signup", "/invite/{token}"];
    for (method, template) in all_routes() {
        let path = template
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{owner_id}", &uuid::Uuid::now_v7().to_string())
            .replace("{provider}", "hubspot")
            .replace("{token}", "bogus");
        let (status, body) = send(&app, &method, &path, None, None).await;
        if public_api.contains(&template.as_str()) {
            assert!(
                matches!(status, 400 | 401 | 404 | 422),
                "{method} {template}: {status} {body}"
            );
        } else if template.starts_with("/api/") {
            assert_eq!(status, 401, "{method} {template}: {body}");
        } else if public_pages.contains(&template.as_str()) {
            assert!(status < 500, "{method} {template}: {status}");
        } else if method == Method::GET {
            assert_eq!(status, 303, "{method} {template} should redirect to /login");
        } else {
            // A form post without a session has no valid CSRF token either.
            assert!(matches!(status, 303 | 403), "{method} {template}: {status}");
        }
    }
}
