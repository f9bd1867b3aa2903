//! Logs carry a request id on every request line and never a password or token.
//! A separate test binary, because it installs the process-wide log subscriber.

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
        .with_env_filter("debug,sqlx=warn,hyper=warn,reqwest=warn")
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

    let text = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
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
