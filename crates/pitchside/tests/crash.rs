//! Crash safety of CRM sync (SECURITY.md F1, S3, S6): `pitchside serve` is killed with
//! SIGKILL at random points of a full sync five times and restarted each time; the
//! final mirror must equal that of an uninterrupted sync of the same CRM, row for row,
//! with no duplicates. On SQLite always, and on PostgreSQL when reachable.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mockcrm::{MockOptions, WorldSpec};
use serde_json::{Value, json};
use testkit::{Backend, TestDb, backends};

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn env(db: &TestDb, port: u16, mock: &str) -> Vec<(String, String)> {
    let mut vars = vec![
        ("PITCHSIDE_DATABASE_URL".to_owned(), db.url.clone()),
        (
            "PITCHSIDE_PUBLIC_URL".to_owned(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("PITCHSIDE_BIND".to_owned(), format!("127.0.0.1:{port}")),
        (
            "PITCHSIDE_JWT_SECRET".to_owned(),
            vault::sealed::generate_fernet_key(),
        ),
        ("PITCHSIDE_AUTH_RATE_PER_MINUTE".to_owned(), "0".to_owned()),
        ("PITCHSIDE_API_RATE_PER_SECOND".to_owned(), "0".to_owned()),
        ("PITCHSIDE_LOG".to_owned(), "error".to_owned()),
        ("PITCHSIDE_HUBSPOT_API_URL".to_owned(), mock.to_owned()),
        ("PITCHSIDE_SYNC_WORKERS".to_owned(), "1".to_owned()),
        // A killed worker's lease lapses quickly, so the restarted one takes over.
        ("PITCHSIDE_SYNC_LEASE_SECONDS".to_owned(), "3".to_owned()),
    ];
    for (domain, key) in &db.key_texts {
        vars.push((domain.env_var(), key.clone()));
    }
    vars
}

fn command(vars: &[(String, String)], arg: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pitchside"));
    c.arg(arg)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

async fn start(vars: &[(String, String)], port: u16) -> Server {
    let server = Server {
        child: command(vars, "serve").spawn().expect("serve"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("serve did not come up");
}

/// Sign up, connect HubSpot by token; the organization id.
async fn connect(server: &Server) -> String {
    let http = reqwest::Client::new();
    let r: Value = http
        .post(format!("{}/api/v1/auth/signup", server.base))
        .json(
            &json!({"organization_name": "Crash Co", "name": "Cara Crash",
            "email": "cara@crash.example", "password": testkit::PASSWORD, "confirm_over_18": true}),
        )
        .send()
        .await
        .expect("signup")
        .json()
        .await
        .expect("json");
    let token = r["access_token"].as_str().expect("token");
    let created = http
        .post(format!("{}/api/v1/integrations", server.base))
        .bearer_auth(token)
        .json(&json!({"provider": "hubspot", "access_token": "static-test-token"}))
        .send()
        .await
        .expect("connect");
    assert_eq!(created.status(), 201);
    r["organization"]["id"].as_str().expect("org").to_owned()
}

async fn store_on(db: &TestDb) -> store::Store {
    store::Store::connect(
        store::StoreOptions::new(db.url.clone()),
        store::Clock::system(),
    )
    .await
    .expect("store")
}

async fn count_succeeded(store: &store::Store, org: &str) -> i64 {
    let pool = store.raw_pool_for_tests();
    let mut tx = pool.begin().await.expect("begin");
    if store.dialect() == store::Dialect::Postgres {
        sqlx::query("SELECT set_config('app.org_id', $1, true)")
            .bind(org.to_owned())
            .execute(&mut *tx)
            .await
            .expect("context");
    }
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM crm_sync_runs WHERE status = 'succeeded'")
            .fetch_one(&mut *tx)
            .await
            .unwrap_or(0);
    tx.commit().await.ok();
    n
}

async fn wait_for_success(store: &store::Store, org: &str) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while count_succeeded(store, org).await == 0 {
        assert!(Instant::now() < deadline, "the sync never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A full sync of the mock's world on a fresh database, killed `kills` times; its
/// mirror's checksum.
async fn sync_with_kills(backend: Backend, mock: &str, kills: u64, seed: u64) -> String {
    let db = TestDb::create(backend).await;
    let port = free_port();
    let vars = env(&db, port, mock);
    assert!(
        command(&vars, "migrate")
            .status()
            .expect("migrate")
            .success()
    );
    let mut server = start(&vars, port).await;
    let org = connect(&server).await;
    let store = store_on(&db).await;
    for k in 0..kills {
        // A random point of the sync: 150 to 900 ms after (re)start.
        let wait = 150 + mockcrm::world::hash(seed, 5, k) % 750;
        tokio::time::sleep(Duration::from_millis(wait)).await;
        assert_eq!(
            count_succeeded(&store, &org).await,
            0,
            "{backend:?}: the sync finished before kill {}; the world is too small",
            k + 1
        );
        drop(server); // SIGKILL, then wait
        server = start(&vars, port).await;
    }
    wait_for_success(&store, &org).await;
    let sum = store.mirror_checksum(&org).await.expect("checksum");
    drop(server);
    store.close().await;
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_killed_five_times_ends_equal_to_an_uninterrupted_one() {
    web::tls::install_crypto_provider();
    let mock = mockcrm::hubspot::start(
        WorldSpec::sized(400, 1_500, 800, 3_000),
        MockOptions {
            // Slow enough that every kill lands mid-sync.
            latency: Duration::from_millis(40),
            ..MockOptions::default()
        },
    )
    .await
    .expect("mock");
    for backend in backends() {
        let reference = sync_with_kills(backend, &mock.url(), 0, 0).await;
        let interrupted = sync_with_kills(backend, &mock.url(), 5, 17).await;
        assert_eq!(interrupted, reference, "{backend:?}");
        let rows: u64 = reference
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(rows >= 5_700, "{reference}: every record mirrored");
    }
}
