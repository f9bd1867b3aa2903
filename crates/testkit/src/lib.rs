//! Helpers shared by Pitchside's tests: spawn the real application on a random
//! loopback port against a fresh database (a SQLite file, or a new PostgreSQL database
//! when a server is reachable), and talk to it over HTTP like a client would.

pub mod crm;
pub mod fixture;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use store::{Clock, Store, StoreOptions};
use vault::{PasswordHasher, SigningKey};
use web::{AppState, CrmSettings, WebConfig};

pub use fixture::{Fixture, Person};

/// The password every test user gets.
pub const PASSWORD: &str = "test-password-correct-horse";

/// Which database a test app runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests use: `PITCHSIDE_TEST_POSTGRES_URL`, default the local
/// server.
pub fn postgres_admin_url() -> String {
    std::env::var("PITCHSIDE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// SQLite always; PostgreSQL when reachable. Under `CI=true` PostgreSQL is mandatory:
/// an unreachable server fails the test instead of skipping it.
pub fn backends() -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite];
    if postgres_reachable() {
        out.push(Backend::Postgres);
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but PostgreSQL at {} is not reachable",
            postgres_admin_url()
        );
    } else {
        eprintln!("note: PostgreSQL not reachable; running on SQLite only");
    }
    out
}

fn postgres_reachable() -> bool {
    let url = postgres_admin_url();
    let host_port = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432");
    let addr = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .is_some_and(|a| std::net::TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
}

/// A database made for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    /// Sealing keys, made once per database and shared by every instance on it (as
    /// production instances share their key configuration).
    pub keys: std::sync::Arc<vault::sealed::Keys>,
    /// The Fernet key behind each domain's ring in `keys`.
    pub key_texts: std::collections::BTreeMap<vault::sealed::Domain, String>,
    pub backend: Backend,
    _dir: Option<tempdir::TempDir>,
    pg_name: Option<String>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> Self {
        Self::create_bare(backend).await.with_keys()
    }

    async fn create_bare(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempdir::TempDir::new();
                let url = format!("sqlite://{}", dir.path().join("pitchside.db").display());
                Self {
                    url,
                    keys: Default::default(),
                    key_texts: Default::default(),
                    backend,
                    _dir: Some(dir),
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                use sqlx::Connection;
                let admin = postgres_admin_url();
                let name = format!("pitchside_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = sqlx::PgConnection::connect(&admin)
                    .await
                    .expect("connect to PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                conn.close().await.ok();
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                Self {
                    url: format!("{base}/{name}"),
                    keys: Default::default(),
                    key_texts: Default::default(),
                    backend,
                    _dir: None,
                    pg_name: Some(name),
                }
            }
        }
    }
}

impl TestDb {
    /// Give every domain a fresh key (kept in `key_texts`).
    fn with_keys(mut self) -> Self {
        let mut keys = vault::sealed::Keys::default();
        for domain in vault::sealed::Domain::ALL {
            if let Some(text) = keys.fill_missing(domain) {
                self.key_texts.insert(domain, text);
            }
        }
        self.keys = std::sync::Arc::new(keys);
        self
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = postgres_admin_url();
            // Drop from a separate thread with its own runtime: Drop cannot await.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async move {
                    use sqlx::Connection;
                    if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                        )))
                        .execute(&mut conn)
                        .await;
                    }
                });
            })
            .join();
        }
    }
}

mod tempdir {
    //! A temporary directory removed on drop (no extra dependency).
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            let path = std::env::temp_dir()
                .join(format!("pitchside-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&path).expect("create temp dir");
            Self(path)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A running application.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub state: AppState,
    pub backend: Backend,
    pub http: reqwest::Client,
    db: std::sync::Arc<TestDb>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A signed-up or logged-in person, as the tests hold them.
#[derive(Clone, Debug)]
pub struct Account {
    pub user_id: String,
    pub org_id: String,
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
}

impl TestApp {
    /// A fresh app on a fresh database.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A fresh app, with its web settings adjusted first.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut WebConfig)) -> Self {
        let db = std::sync::Arc::new(TestDb::create(backend).await);
        Self::start(db, 4, adjust).await
    }

    /// A fresh app whose CRM settings `crm` adjusts, given the app's base URL (to build
    /// OAuth callback URLs): e.g. [`crm::point_at`] a mock.
    pub async fn spawn_with_crm(
        backend: Backend,
        crm: impl FnOnce(&mut CrmSettings, &str),
    ) -> Self {
        let db = std::sync::Arc::new(TestDb::create(backend).await);
        let keys = SigningKey::from_base64(&SigningKey::generate_base64()).expect("key");
        let sealing = db.keys.clone();
        Self::start_full(db, 4, keys, sealing, |_| {}, crm).await
    }

    /// A fresh app hashing with the production bcrypt cost.
    pub async fn spawn_production_cost(backend: Backend) -> Self {
        let db = std::sync::Arc::new(TestDb::create(backend).await);
        Self::start(db, vault::password::PRODUCTION_COST, |_| {}).await
    }

    /// A second instance on the same database (another process in production): shares
    /// nothing with `self` but the database and the signing key.
    pub async fn another_instance(&self) -> Self {
        self.another_instance_with(|_| {}).await
    }

    /// Another instance on the same database, with its web settings adjusted first.
    pub async fn another_instance_with(&self, adjust: impl FnOnce(&mut WebConfig)) -> Self {
        let keys = self.state.keys.clone();
        let mut app = Self::start_with_keys(self.db.clone(), 4, keys, adjust).await;
        app.backend = self.backend;
        app
    }

    async fn start(
        db: std::sync::Arc<TestDb>,
        cost: u32,
        adjust: impl FnOnce(&mut WebConfig),
    ) -> Self {
        let keys = SigningKey::from_base64(&SigningKey::generate_base64()).expect("key");
        Self::start_with_keys(db, cost, keys, adjust).await
    }

    /// Another instance on the same database whose sealing key rings are `sealing`
    /// (a key rotation in progress).
    pub async fn another_instance_with_sealing_keys(
        &self,
        sealing: std::sync::Arc<vault::sealed::Keys>,
    ) -> Self {
        let keys = self.state.keys.clone();
        let mut app = Self::start_full(self.db.clone(), 4, keys, sealing, |_| {}, |_, _| {}).await;
        app.backend = self.backend;
        app
    }

    async fn start_with_keys(
        db: std::sync::Arc<TestDb>,
        cost: u32,
        keys: SigningKey,
        adjust: impl FnOnce(&mut WebConfig),
    ) -> Self {
        let sealing = db.keys.clone();
        Self::start_full(db, cost, keys, sealing, adjust, |_, _| {}).await
    }

    async fn start_full(
        db: std::sync::Arc<TestDb>,
        cost: u32,
        keys: SigningKey,
        sealing: std::sync::Arc<vault::sealed::Keys>,
        adjust: impl FnOnce(&mut WebConfig),
        crm: impl FnOnce(&mut CrmSettings, &str),
    ) -> Self {
        let store = Store::connect(StoreOptions::new(db.url.clone()), Clock::system())
            .await
            .expect("connect store")
            .with_keys(sealing);
        store.migrate().await.expect("migrate");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let base = format!("http://{addr}");
        let mut config = WebConfig::local(base.clone());
        config.auth_rate_per_minute = 10_000;
        config.api_rate_per_second = 10_000;
        adjust(&mut config);
        let mut crm_settings = CrmSettings::default();
        crm(&mut crm_settings, &base);
        let state = AppState::with_crm(
            store,
            PasswordHasher::new(cost, 4),
            keys,
            config,
            crm_settings,
        );
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = web::serve(listener, serve_state, async {
                let _ = rx.await;
            })
            .await;
        });
        // When the workspace builds with reqwest's rustls (the binary's outgoing HTTPS),
        // every client needs the process's crypto provider.
        web::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            addr,
            base,
            state,
            backend: db.backend,
            http,
            db,
            shutdown: Some(tx),
        }
    }

    pub fn store(&self) -> &Store {
        &self.state.store
    }

    pub fn db_url(&self) -> &str {
        &self.db.url
    }

    /// A PostgreSQL connection to the test database as its owner (the login role, not
    /// `pitchside_app`): for reading behind the application's back, or for `SET ROLE`.
    pub async fn owner_connection(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        sqlx::PgConnection::connect(self.db_url())
            .await
            .expect("connect")
    }

    /// The Fernet key each domain's ring holds (for rotation tests).
    pub fn key_text(&self, domain: vault::sealed::Domain) -> &str {
        self.db
            .key_texts
            .get(&domain)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The SQLite file, if this app runs on SQLite.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.db.url.strip_prefix("sqlite://").map(PathBuf::from)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sign up a new organization; returns its admin-executive.
    pub async fn signup(&self, org: &str, name: &str, email: &str) -> Account {
        let response = self
            .http
            .post(self.url("/api/v1/auth/signup"))
            .json(&json!({
                "organization_name": org, "name": name, "email": email,
                "password": PASSWORD, "confirm_over_18": true
            }))
            .send()
            .await
            .expect("signup request");
        assert_eq!(response.status(), 201, "signup of {email}");
        let body: Value = response.json().await.expect("signup json");
        Account {
            user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
            org_id: body["organization"]["id"]
                .as_str()
                .expect("org id")
                .to_owned(),
            email: email.to_owned(),
            access_token: body["access_token"].as_str().expect("token").to_owned(),
            refresh_token: body["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    /// POST /auth/login as JSON.
    pub async fn login_raw(&self, email: &str, password: &str) -> reqwest::Response {
        self.http
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await
            .expect("login request")
    }

    /// Log in and return the tokens; panics unless 200.
    pub async fn login(&self, email: &str, password: &str) -> Account {
        let response = self.login_raw(email, password).await;
        assert_eq!(response.status(), 200, "login of {email}");
        let body: Value = response.json().await.expect("login json");
        let access = body["access_token"].as_str().expect("token").to_owned();
        let me = self.get(&access, "/api/v1/me").await;
        let me: Value = me.json().await.expect("me json");
        Account {
            user_id: me["id"].as_str().expect("id").to_owned(),
            org_id: me["organization_id"].as_str().expect("org").to_owned(),
            email: email.to_owned(),
            access_token: access,
            refresh_token: body["refresh_token"].as_str().expect("refresh").to_owned(),
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Value,
    ) -> reqwest::Response {
        self.http
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, token, path, body)
            .await
    }

    pub async fn patch_json(&self, token: &str, path: &str, body: Value) -> reqwest::Response {
        self.send_json(reqwest::Method::PATCH, token, path, body)
            .await
    }

    pub async fn delete(&self, token: &str, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("DELETE")
    }

    /// A browser session: log in as `email` through the API and keep the cookie and
    /// CSRF token, as the web pages would.
    pub async fn browser(&self, email: &str) -> Browser {
        let response = self.login_raw(email, PASSWORD).await;
        assert_eq!(response.status(), 200);
        let cookie_name = self.state.config.session_cookie();
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{cookie_name}=")))
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_owned();
        let me: Value = self
            .http
            .get(self.url("/api/v1/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("me json");
        Browser {
            cookie,
            csrf: me["csrf_token"].as_str().expect("csrf").to_owned(),
            origin: self.base.clone(),
        }
    }
}

/// A logged-in browser: its session cookie and CSRF token.
#[derive(Clone, Debug)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    pub origin: String,
}

impl Browser {
    /// Headers a same-origin browser request carries.
    pub fn headers(&self, with_csrf: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            HeaderValue::from_str(&self.cookie).expect("cookie"),
        );
        h.insert(
            "origin",
            HeaderValue::from_str(&self.origin).expect("origin"),
        );
        if with_csrf {
            h.insert(
                "x-csrf-token",
                HeaderValue::from_str(&self.csrf).expect("csrf"),
            );
        }
        h
    }
}
