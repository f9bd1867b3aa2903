//! CRM helpers for black-box tests: point an app's provider endpoints and OAuth app at
//! a mock CRM ([`point_at`]), run due sync jobs synchronously ([`TestApp::run_sync`]),
//! walk the OAuth connect flow as a browser would ([`TestApp::oauth_connect`] and its
//! steps), and, where a test needs records no mock generates (hostile names, recent
//! activity), write a page of records through the store as a sync would
//! ([`TestApp::seed_crm`]).

use std::time::Duration;

use connectors::{Endpoints, HttpOptions};
use domain::crm::{ObjectKind, Provider, Record, RecordData};
use reqwest::header::LOCATION;
use serde_json::Value;
use store::Scope;
use store::crm::{AuthKind, NewConnection, PageWrite, QuotaUse, RunStats, SyncOutcome, Tokens};
use web::CrmSettings;

use crate::{Browser, TestApp};

/// The OAuth client every mock knows by default (`mockcrm::MockOptions::default()`).
pub const MOCK_CLIENT_ID: &str = "mock-client-id";
pub const MOCK_CLIENT_SECRET: &str = "mock-client-secret";
/// The static token mocks accept by default (private-app / API tokens).
pub const MOCK_STATIC_TOKEN: &str = "static-test-token";

/// The mock's OAuth authorize and token paths for `provider`.
pub fn oauth_paths(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::Salesforce => ("/services/oauth2/authorize", "/services/oauth2/token"),
        Provider::Hubspot => ("/oauth/authorize", "/oauth/v1/token"),
        Provider::Pipedrive => ("/oauth/authorize", "/oauth/token"),
    }
}

/// Point `provider` at a mock listening on `mock_url`, with the mock's OAuth client
/// registered for the app at `app_base`.
pub fn point_at(crm: &mut CrmSettings, provider: Provider, mock_url: &str, app_base: &str) {
    let (auth, token) = oauth_paths(provider);
    crm.set_endpoints(
        provider,
        Endpoints {
            api: mock_url.to_owned(),
            auth: format!("{mock_url}{auth}"),
            token: format!("{mock_url}{token}"),
        },
    );
    crm.oauth_apps.insert(
        provider,
        connectors::oauth::OAuthApp {
            client_id: MOCK_CLIENT_ID.to_owned(),
            client_secret: MOCK_CLIENT_SECRET.to_owned(),
            redirect_uri: web::crm::redirect_uri(app_base, provider),
        },
    );
    // Tests should not wait on backoff.
    crm.verify_options.max_retries = 0;
}

/// What a sync worker of this app would run with, with fast retries and no pacing.
pub fn sync_config(crm: &CrmSettings) -> sync::SyncConfig {
    sync::SyncConfig {
        endpoints: crm.endpoints.clone(),
        oauth_apps: crm.oauth_apps.clone(),
        http: HttpOptions {
            rate_limit: false,
            max_retries: 1,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
            max_wait: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
            client: None,
        },
        page_attempts: 2,
        page_backoff: Duration::from_millis(10),
        daily_budgets: crm.daily_budgets.clone(),
        ..sync::SyncConfig::default()
    }
}

/// A record to write with [`TestApp::seed_crm`].
pub fn record(external_id: &str, updated_at_ms: i64, data: RecordData) -> Record {
    Record {
        external_id: external_id.to_owned(),
        updated_at_ms,
        data,
        raw: serde_json::value::RawValue::from_string("{}".to_owned()).expect("raw"),
    }
}

impl TestApp {
    /// Run every due sync job now, as a worker would, until none is due.
    pub async fn run_sync(&self) -> Vec<sync::RunReport> {
        let engine = sync::Engine::new(self.store().clone(), sync_config(&self.state.crm));
        engine.run_until_idle().await.expect("job queue")
    }

    /// The store scope of an access token's session.
    pub async fn scope_of(&self, access_token: &str) -> Scope {
        let claims = self
            .state
            .keys
            .verify(access_token, vault::Purpose::Access)
            .expect("access token");
        self.store()
            .authenticate(&claims.org, &claims.sub, &claims.sid, None)
            .await
            .expect("scope")
    }

    /// `GET /integrations/{provider}/connect` in `browser`.
    pub async fn oauth_start(&self, browser: &Browser, provider: Provider) -> reqwest::Response {
        self.http
            .get(self.url(&format!("/integrations/{provider}/connect")))
            .header("cookie", &browser.cookie)
            .send()
            .await
            .expect("connect")
    }

    /// The person approves at the provider: follow the authorize URL to the mock and
    /// return where it sends the browser back (our callback, with code and state).
    pub async fn oauth_approve(&self, authorize_url: &str) -> String {
        let r = self
            .http
            .get(authorize_url)
            .send()
            .await
            .expect("authorize");
        assert!(r.status().is_redirection(), "authorize: {}", r.status());
        location(&r)
    }

    /// Land on a callback URL in `browser`.
    pub async fn oauth_callback(&self, browser: &Browser, callback_url: &str) -> reqwest::Response {
        self.http
            .get(callback_url)
            .header("cookie", &browser.cookie)
            .send()
            .await
            .expect("callback")
    }

    /// The whole flow in `browser` (an admin's); returns the callback's answer.
    pub async fn oauth_connect(&self, browser: &Browser, provider: Provider) -> reqwest::Response {
        let start = self.oauth_start(browser, provider).await;
        assert_eq!(start.status(), 303, "connect {provider}");
        let back = self.oauth_approve(&location(&start)).await;
        self.oauth_callback(browser, &back).await
    }

    /// Connect `provider` through OAuth as `admin_email` and return the new
    /// integration's id (the newest one `admin_token` lists).
    pub async fn connect_oauth(
        &self,
        admin_email: &str,
        admin_token: &str,
        provider: Provider,
    ) -> String {
        let browser = self.browser(admin_email).await;
        let r = self.oauth_connect(&browser, provider).await;
        assert_eq!(
            r.status(),
            303,
            "callback: {}",
            r.text().await.unwrap_or_default()
        );
        let list: Value = self
            .get(admin_token, "/api/v1/integrations?limit=200")
            .await
            .json()
            .await
            .expect("integrations");
        list["items"]
            .as_array()
            .and_then(|a| a.last())
            .and_then(|i| i["id"].as_str())
            .expect("integration id")
            .to_owned()
    }

    /// Write records as a sync of a new token connection would (one page per kind, in
    /// order), through the store's own page writer, as `admin_token`'s user. The
    /// connection's job is parked a year ahead, so [`TestApp::run_sync`] leaves it be.
    /// Returns the integration id.
    pub async fn seed_crm(&self, admin_token: &str, records: &[Record]) -> String {
        let scope = self.scope_of(admin_token).await;
        let store = self.store();
        let connection = store
            .create_connection(
                &scope,
                NewConnection {
                    provider: Provider::Hubspot,
                    auth_kind: AuthKind::Token,
                    api_base: "http://127.0.0.1:9".to_owned(),
                    tokens: Tokens {
                        access_token: "seeded-token".to_owned(),
                        ..Tokens::default()
                    },
                    extra_scopes: Vec::new(),
                    sync_interval_secs: 900,
                    quota_share_pct: 50,
                },
            )
            .await
            .expect("connection");
        let lease = claim_own(store, &connection.id)
            .await
            .expect("the new connection's job is due");
        let run = store.begin_run(&lease, "seed").await.expect("run");
        let mut stats = RunStats::default();
        let pass = uuid::Uuid::now_v7().to_string();
        for kind in ObjectKind::ALL {
            let upserts: Vec<&Record> = records.iter().filter(|r| r.data.kind() == kind).collect();
            let page = PageWrite {
                kind,
                upserts,
                deletes: Vec::new(),
                skipped: 0,
                full_pass: false,
                pass_id: &pass,
                done: true,
                checkpoint: r#"{"pass":"incremental"}"#,
                checkpoint_pass_id: &pass,
                run_id: &run,
                quota: QuotaUse {
                    day: String::new(),
                    ..QuotaUse::default()
                },
                pages: 1,
            };
            store
                .apply_page(&lease, page, &mut stats)
                .await
                .expect("page");
        }
        store
            .end_run(
                &lease,
                &run,
                "succeeded",
                &stats,
                None,
                &QuotaUse::default(),
            )
            .await
            .expect("end run");
        store
            .record_sync_outcome(&lease, SyncOutcome::Succeeded)
            .await
            .expect("outcome");
        let later = store.clock().now() + 365 * 86_400;
        store.finish_job(&lease, later, None).await.expect("park");
        connection.id
    }
}

/// Claim the job of `connection_id` if it is due, putting back any other due job met
/// on the way.
async fn claim_own(store: &store::Store, connection_id: &str) -> Option<store::JobLease> {
    let mut others = Vec::new();
    let mine = loop {
        match store.claim_job("testkit-seed", 600).await.expect("claim") {
            Some(lease) if lease.connection_id().as_deref() == Some(connection_id) => {
                break Some(lease);
            }
            Some(lease) => others.push(lease),
            None => break None,
        }
    };
    let now = store.clock().now();
    for other in others {
        store.finish_job(&other, now, None).await.expect("release");
    }
    mine
}

/// The `Location` of a redirect.
pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a Location header")
        .to_owned()
}
