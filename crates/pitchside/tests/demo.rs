//! `pitchside demo` from an empty data directory: it seeds the organization, fills it
//! from its embedded HubSpot through the real connector (owners are the demo team), and
//! comes back on the same data after a restart without duplicating anything.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const PASSWORD: &str = "coach-the-pipeline-2026";

struct Demo {
    child: Child,
    url: String,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Demo {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pitchside"))
        .args(["demo", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PITCHSIDE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn demo");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut url = None;
    let mut crm = false;
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(rest) = line.strip_prefix("Pitchside demo is running at ") {
            url = Some(rest.trim().to_owned());
        }
        crm |= line.starts_with("CRM: HubSpot");
        if line.starts_with("Press Ctrl+C") {
            break;
        }
    }
    assert!(crm, "the banner names the synced CRM");
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Demo {
        child,
        url: url.expect("the demo printed its URL"),
    }
}

async fn login(http: &reqwest::Client, demo: &Demo, email: &str) -> String {
    let r: Value = http
        .post(format!("{}/api/v1/auth/login", demo.url))
        .json(&serde_json::json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    r["access_token"].as_str().expect("token").to_owned()
}

async fn get(http: &reqwest::Client, demo: &Demo, token: &str, path: &str) -> Value {
    http.get(format!("{}{path}", demo.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn the_demo_syncs_its_crm_through_the_real_connector_and_restarts_cleanly() {
    let dir = std::env::temp_dir().join(format!(
        "pitchside-demo-test-{}",
        uuid::Uuid::new_v4().simple()
    ));
    web::tls::install_crypto_provider();
    let http = reqwest::Client::new();
    let deals_before;
    {
        let demo = start(&dir);
        let exec = login(&http, &demo, "danielle.okafor@northwind.example").await;
        let integrations = get(&http, &demo, &exec, "/api/v1/integrations").await;
        let items = integrations["items"].as_array().expect("items");
        assert_eq!(items.len(), 1, "{integrations}");
        assert_eq!(items[0]["provider"], "hubspot");
        assert_eq!(items[0]["status"], "active");
        let all = get(&http, &demo, &exec, "/api/v1/deals?limit=200").await;
        assert_eq!(all["items"].as_array().map(Vec::len), Some(200), "{all}");
        deals_before = all["items"][0]["id"].clone();

        // A rep sees their own deals only, owned through the CRM owner mapped by email.
        let rep = login(&http, &demo, "hannah.kowalski@northwind.example").await;
        let me = get(&http, &demo, &rep, "/api/v1/me").await;
        let mine = get(&http, &demo, &rep, "/api/v1/deals?limit=200").await;
        let mine = mine["items"].as_array().expect("items");
        assert!(!mine.is_empty(), "the rep owns some demo deals");
        for d in mine {
            assert_eq!(d["owner"]["user_id"], me["id"], "{d}");
        }
        let activities = get(&http, &demo, &rep, "/api/v1/activities?limit=5").await;
        assert!(!activities["items"].as_array().expect("items").is_empty());
    }
    // Restarted on the same data: the connection follows the mock to its new port and
    // nothing is duplicated.
    let demo = start(&dir);
    let exec = login(&http, &demo, "danielle.okafor@northwind.example").await;
    let integrations = get(&http, &demo, &exec, "/api/v1/integrations").await;
    assert_eq!(integrations["items"].as_array().map(Vec::len), Some(1));
    let all = get(&http, &demo, &exec, "/api/v1/deals?limit=200").await;
    assert_eq!(all["items"][0]["id"], deals_before);
    let mut total = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/deals?limit=200&cursor={c}"),
            None => "/api/v1/deals?limit=200".to_owned(),
        };
        let page = get(&http, &demo, &exec, &path).await;
        total += page["items"].as_array().map_or(0, Vec::len);
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(total, 260, "the demo world's deals, once each");
    drop(demo);
    std::fs::remove_dir_all(&dir).ok();
}
