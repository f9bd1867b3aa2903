//! A store on a fresh database with one organization and its admin's scope, a HubSpot
//! mock, and an engine pointed at it.

#![allow(dead_code)]

use std::time::Duration;

use connectors::Endpoints;
use connectors::oauth::OAuthApp;
use domain::Email;
use domain::crm::Provider;
use mockcrm::{Mock, MockOptions, WorldSpec};
use store::crm::{AuthKind, Connection, NewConnection, Tokens};
use store::{Clock, NewSignup, Origin, Scope, Store, StoreOptions};
use sync::{Engine, SyncConfig};
use testkit::{Backend, TestDb};

pub struct Harness {
    pub db: TestDb,
    pub store: Store,
    pub scope: Scope,
    pub mock: Mock,
    pub config: SyncConfig,
    pub provider: Provider,
}

/// Engine settings for tests: the mock's endpoints and OAuth app, short backoffs.
pub fn config_for(mock: &Mock) -> SyncConfig {
    let mut config = SyncConfig::default();
    let base = mock.url();
    config.endpoints.insert(
        Provider::Hubspot,
        Endpoints {
            api: base.clone(),
            auth: format!("{base}/oauth/authorize"),
            token: format!("{base}/oauth/v1/token"),
        },
    );
    config.oauth_apps.insert(
        Provider::Hubspot,
        OAuthApp {
            client_id: "mock-client-id".into(),
            client_secret: "mock-client-secret".into(),
            redirect_uri: "http://127.0.0.1/integrations/hubspot/callback".into(),
        },
    );
    config.http.backoff_base = Duration::from_millis(5);
    config.http.backoff_cap = Duration::from_millis(50);
    config.http.max_retries = 3;
    config.page_backoff = Duration::from_millis(5);
    config.page_attempts = 3;
    config
}

/// A store on `db` with its migrations and sealing keys.
pub async fn store_on(db: &TestDb) -> Store {
    let store = Store::connect(StoreOptions::new(db.url.clone()), Clock::system())
        .await
        .expect("connect")
        .with_keys(db.keys.clone());
    store.migrate().await.expect("migrate");
    store
}

/// Sign up an organization through the store; its admin's scope.
pub async fn admin_scope(store: &Store, tag: &str) -> Scope {
    let (org, user) = store
        .signup(NewSignup {
            organization_name: format!("{tag} Corp"),
            industry: String::new(),
            time_zone: "UTC".into(),
            name: "Ada Admin".into(),
            email: Email::parse(&format!("ada@{tag}.example")).expect("email"),
            password_hash: "not-a-real-hash".into(),
            origin: Origin::default(),
        })
        .await
        .expect("signup");
    let grant = store
        .create_session(org.id, user.id, &Origin::default(), "test")
        .await
        .expect("session");
    store
        .authenticate(
            &org.id.to_string(),
            &user.id.to_string(),
            &grant.session_id.to_string(),
            None,
        )
        .await
        .expect("scope")
}

impl Harness {
    pub async fn new(backend: Backend, spec: WorldSpec, options: MockOptions) -> Self {
        Self::for_provider(backend, Provider::Hubspot, spec, options).await
    }

    /// A harness whose mock is `provider`'s.
    pub async fn for_provider(
        backend: Backend,
        provider: Provider,
        spec: WorldSpec,
        options: MockOptions,
    ) -> Self {
        let db = TestDb::create(backend).await;
        let store = store_on(&db).await;
        let scope = admin_scope(&store, "acme").await;
        let mock = match provider {
            Provider::Hubspot => mockcrm::hubspot::start(spec, options).await,
            Provider::Salesforce => mockcrm::salesforce::start(spec, options).await,
            Provider::Pipedrive => mockcrm::pipedrive::start(spec, options).await,
        }
        .expect("mock");
        let config = config_for(&mock);
        Self {
            db,
            store,
            scope,
            mock,
            config,
            provider,
        }
    }

    /// The id `provider`'s mock gives world record `idx`.
    pub fn external_id(&self, kind: domain::crm::ObjectKind, idx: u64) -> String {
        match self.provider {
            Provider::Hubspot => mockcrm::hubspot::external_id(kind, idx),
            Provider::Salesforce => mockcrm::salesforce::external_id(kind, idx),
            Provider::Pipedrive => mockcrm::pipedrive::external_id(kind, idx),
        }
    }

    pub fn engine(&self) -> Engine {
        Engine::new(self.store.clone(), self.config.clone())
    }

    /// Connect the mock with its static (private-app) token.
    pub async fn connect_token(&self) -> Connection {
        self.connect(
            AuthKind::Token,
            Tokens {
                access_token: "static-test-token".into(),
                refresh_token: None,
                expires_at: None,
            },
        )
        .await
    }

    pub async fn connect(&self, auth_kind: AuthKind, tokens: Tokens) -> Connection {
        // Salesforce takes OAuth only; the mock accepts its static token as a bearer.
        let auth_kind = if self.provider == Provider::Salesforce {
            AuthKind::OAuth
        } else {
            auth_kind
        };
        self.store
            .create_connection(
                &self.scope,
                NewConnection {
                    provider: self.provider,
                    auth_kind,
                    api_base: self.mock.url(),
                    tokens,
                    extra_scopes: Vec::new(),
                    sync_interval_secs: 900,
                    quota_share_pct: 50,
                },
            )
            .await
            .expect("connection")
    }

    /// One value from a query run in the organization's context (PostgreSQL applies
    /// row-level security even to these checks).
    pub async fn scalar(&self, sql: &str) -> i64 {
        scalar_in(&self.store, &self.scope.org_id().to_string(), sql).await
    }

    /// Rows of a mirror table for this organization.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// A checksum over the synced content (not row ids, seals or sync bookkeeping):
    /// equal checksums mean equal mirrors.
    pub async fn checksum(&self) -> String {
        checksum_in(&self.store, &self.scope.org_id().to_string()).await
    }
}

pub async fn scalar_in(store: &Store, org: &str, sql: &str) -> i64 {
    let pool = store.raw_pool_for_tests();
    let mut tx = pool.begin().await.expect("begin");
    if store.dialect() == store::Dialect::Postgres {
        sqlx::query("SELECT set_config('app.org_id', $1, true)")
            .bind(org.to_owned())
            .execute(&mut *tx)
            .await
            .expect("context");
    }
    let v: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_one(&mut *tx)
        .await
        .expect(sql);
    tx.commit().await.expect("commit");
    v
}

/// The mirror's checksum (see `Store::mirror_checksum`).
pub async fn checksum_in(store: &Store, org: &str) -> String {
    store.mirror_checksum(org).await.expect("checksum")
}
