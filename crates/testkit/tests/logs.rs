//! Logs carry a request id on every request line and never a password or token —
//! including CRM credentials: pasted tokens, OAuth codes, states, access and refresh
//! tokens, client secrets (SECURITY.md OA-04, AUD-02). A separate test binary, because
//! it installs the process-wide log subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use testkit::{PASSWORD, TestApp};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_have_request_ids_and_no_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter("debug,sqlx=warn,hyper=warn,reqwest=warn,mockcrm=off")
        .with_writer(move || writer.clone())
        .init();

    let app = TestApp::spawn(testkit::Backend::Sqlite).await;
    let ada = app.signup("Acme", "Ada", "ada@example.com").await;
    let inv: Value = app
        .post_json(
            &ada.access_token,
            "/api/v1/invitations",
            json!({"email": "rep@example.com", "seat": "rep"}),
        )
        .await
        .json()
        .await
        .expect("invitation");
    let invite_token = inv["token"].as_str().expect("token").to_owned();
    let r = app
        .http
        .post(app.url(&format!("/api/v1/invitations/{invite_token}/accept")))
        .json(&json!({"name": "Rep", "password": PASSWORD, "confirm_over_18": true}))
        .send()
        .await
        .expect("accept");
    assert_eq!(r.status(), 201);
    let login = app.login("ada@example.com", PASSWORD).await;
    app.login_raw("ada@example.com", "a-wrong-password-123")
        .await;

    let crm = crm_flows().await;

    let text = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    for secret in crm.iter().map(String::as_str).chain([
        testkit::crm::MOCK_STATIC_TOKEN,
        testkit::crm::MOCK_CLIENT_SECRET,
        "gAAAAA",
    ]) {
        assert!(!text.contains(secret), "a CRM secret reached the logs");
    }
    // Tokens the mocks issue look like `access-12-…` and `refresh-13-…`.
    for prefix in ["access-", "refresh-"] {
        assert!(
            text.match_indices(prefix)
                .all(|(i, _)| !text[i + prefix.len()..].starts_with(|c: char| c.is_ascii_digit())),
            "a {prefix} token reached the logs"
        );
    }
    assert!(text.contains("integration connected through OAuth"));
    for secret in [
        PASSWORD,
        "a-wrong-password-123",
        &ada.access_token,
        &ada.refresh_token,
        &login.access_token,
    ] {
        assert!(!text.contains(secret), "a secret reached the logs");
    }
    // The invitation token appears in the accept URL path; request lines log the route
    // template, never the concrete path.
    assert!(
        !text.contains(&invite_token),
        "an invitation token reached the logs"
    );
    let finished: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "request finished")
        .collect();
    assert!(finished.len() >= 5, "{} request lines", finished.len());
    for line in &finished {
        let id = line["span"]["request_id"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "request line without a request id: {line}");
    }
    assert!(
        finished
            .iter()
            .any(|l| l["span"]["route"] == "/api/v1/invitations/{token}/accept")
    );
}

/// Connect HubSpot with a pasted token and Salesforce through OAuth, sync both and
/// disconnect both; returns the OAuth code and state the flow used.
async fn crm_flows() -> Vec<String> {
    use domain::crm::Provider;
    use testkit::crm::{MOCK_STATIC_TOKEN, location, point_at};

    let hs = mockcrm::hubspot::start(mockcrm::WorldSpec::small(), Default::default())
        .await
        .expect("hubspot");
    let sf = mockcrm::salesforce::start(mockcrm::WorldSpec::small(), Default::default())
        .await
        .expect("salesforce");
    let (hs_url, sf_url) = (hs.url(), sf.url());
    let app = TestApp::spawn_with_crm(testkit::Backend::Sqlite, move |crm, base| {
        point_at(crm, Provider::Hubspot, &hs_url, base);
        point_at(crm, Provider::Salesforce, &sf_url, base);
    })
    .await;
    let eve = app.signup("Crm Co", "Eve", "eve@crm.example").await;
    let r = app
        .post_json(
            &eve.access_token,
            "/api/v1/integrations",
            json!({"provider": "hubspot", "access_token": MOCK_STATIC_TOKEN}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let browser = app.browser("eve@crm.example").await;
    let start = app.oauth_start(&browser, Provider::Salesforce).await;
    let back = app.oauth_approve(&location(&start)).await;
    let q: Vec<(String, String)> = reqwest::Url::parse(&back)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(app.oauth_callback(&browser, &back).await.status(), 303);
    let reports = app.run_sync().await;
    assert!(
        reports.iter().all(|r| r.status == "succeeded"),
        "{reports:?}"
    );
    let list: Value = app
        .get(&eve.access_token, "/api/v1/integrations")
        .await
        .json()
        .await
        .expect("list");
    for item in list["items"].as_array().expect("items") {
        let id = item["id"].as_str().expect("id");
        let r = app
            .delete(&eve.access_token, &format!("/api/v1/integrations/{id}"))
            .await;
        assert_eq!(r.status(), 204);
    }
    assert_eq!(sf.state.revoked().len(), 1);
    q.into_iter().map(|(_, v)| v).collect()
}
