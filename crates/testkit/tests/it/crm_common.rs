//! What the CRM tests share: an app pointed at a mock CRM, a world whose CRM users are
//! the fixture's people (so owners map to them by email), and JSON checks.

use domain::crm::Provider;
use mockcrm::{Mock, MockOptions, WorldSpec};
use serde_json::Value;
use testkit::{Backend, Fixture, TestApp};

/// A world whose owners are r1, r2, r3 and m1 of the fixture tagged `tag`, plus one
/// CRM user who is nobody in Pitchside.
pub(crate) fn world(tag: &str) -> WorldSpec {
    let owners = ["r1", "r2", "r3", "m1"]
        .iter()
        .map(|p| (format!("CRM {p}"), format!("{p}@{tag}.example")))
        .chain([(
            "Unmapped Owner".to_owned(),
            "stranger@elsewhere.example".to_owned(),
        )])
        .collect();
    WorldSpec::small().with_owners(owners)
}

/// A Salesforce mock over `spec`.
pub(crate) async fn salesforce(spec: WorldSpec, options: MockOptions) -> Mock {
    mockcrm::salesforce::start(spec, options)
        .await
        .expect("mock starts")
}

/// An app whose Salesforce (and HubSpot, for mix-up tests) point at `mock`.
pub(crate) async fn app_for(backend: Backend, mock: &Mock) -> TestApp {
    let url = mock.url();
    TestApp::spawn_with_crm(backend, move |crm, base| {
        testkit::crm::point_at(crm, Provider::Salesforce, &url, base);
        testkit::crm::point_at(crm, Provider::Hubspot, &url, base);
    })
    .await
}

/// A seeded org with Salesforce connected through OAuth and synced once; returns the
/// integration id.
pub(crate) async fn connected(app: &TestApp, f: &Fixture) -> String {
    let id = app
        .connect_oauth(&f.exec.email, &f.exec.token, Provider::Salesforce)
        .await;
    let reports = app.run_sync().await;
    assert!(
        reports
            .iter()
            .any(|r| r.connection_id == id && r.status == "succeeded"),
        "{reports:?}"
    );
    id
}

/// Every object key anywhere in `v` (lower-cased).
pub(crate) fn keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.to_ascii_lowercase());
                keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| keys(i, out)),
        _ => {}
    }
}

/// Assert a response body names no token: no `*token*` key, no token value the mocks
/// issue, no sealed value.
pub(crate) fn assert_no_tokens(body: &Value) {
    let mut found = Vec::new();
    keys(body, &mut found);
    assert!(
        !found
            .iter()
            .any(|k| k.contains("token") || k.contains("secret")),
        "token-like keys in {body}"
    );
    let text = body.to_string();
    for marker in [
        "access-",
        "refresh-",
        "gAAAAA",
        testkit::crm::MOCK_STATIC_TOKEN,
        testkit::crm::MOCK_CLIENT_SECRET,
    ] {
        assert!(!text.contains(marker), "{marker} in {text}");
    }
}

/// GET `path` as `token` and parse JSON, asserting `status`.
pub(crate) async fn get_json(app: &TestApp, token: &str, path: &str, status: u16) -> Value {
    let r = app.get(token, path).await;
    assert_eq!(r.status(), status, "GET {path}");
    r.json().await.unwrap_or(Value::Null)
}

/// Every item of a cursor list, walking pages of `limit`.
pub(crate) async fn all_items(app: &TestApp, token: &str, path: &str, limit: u32) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = get_json(app, token, &url, 200).await;
        let items = page["items"].as_array().expect("items").clone();
        assert!(items.len() <= limit as usize);
        out.extend(items);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
    panic!("{path}: paging does not end");
}

/// Invite `email` with `seat` as `admin_token`, accept, and return (id, access token).
pub(crate) async fn join(
    app: &TestApp,
    admin_token: &str,
    email: &str,
    seat: &str,
) -> (String, String) {
    let r = app
        .post_json(
            admin_token,
            "/api/v1/invitations",
            serde_json::json!({"email": email, "seat": seat}),
        )
        .await;
    assert_eq!(r.status(), 201, "invite {email}");
    let invitation: Value = r.json().await.expect("invitation");
    let token = invitation["token"].as_str().expect("token");
    let r = app
        .http
        .post(app.url(&format!("/api/v1/invitations/{token}/accept")))
        .json(&serde_json::json!({"name": "Joiner", "password": testkit::PASSWORD, "confirm_over_18": true}))
        .send()
        .await
        .expect("accept");
    assert_eq!(r.status(), 201, "accept {email}");
    let body: Value = r.json().await.expect("account");
    (
        body["user"]["id"].as_str().expect("id").to_owned(),
        body["access_token"].as_str().expect("token").to_owned(),
    )
}

/// A HubSpot mock over `spec`.
pub(crate) async fn hubspot(spec: WorldSpec, options: MockOptions) -> Mock {
    mockcrm::hubspot::start(spec, options)
        .await
        .expect("mock starts")
}

/// A Pipedrive mock over `spec`.
pub(crate) async fn pipedrive(spec: WorldSpec, options: MockOptions) -> Mock {
    mockcrm::pipedrive::start(spec, options)
        .await
        .expect("mock starts")
}

/// An app with each listed provider pointed at its mock.
pub(crate) async fn app_with(backend: Backend, mocks: &[(Provider, &Mock)]) -> TestApp {
    let urls: Vec<(Provider, String)> = mocks.iter().map(|(p, m)| (*p, m.url())).collect();
    TestApp::spawn_with_crm(backend, move |crm, base| {
        for (provider, url) in &urls {
            testkit::crm::point_at(crm, *provider, url, base);
        }
    })
    .await
}
