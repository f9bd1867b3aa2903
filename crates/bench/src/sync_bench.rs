//! `pitchside-bench sync …`: benchmark CRM sync end to end. This process runs the
//! HubSpot mock (so its CPU is not the server's) and drives a real `pitchside serve`
//! child process through the public API, reading run results from the database.
//!
//! Modes:
//! - `full`: one full sync of a world of the given size (rate limiting off), then an
//!   incremental sync after 1% of records changed; records/s, requests, peak RSS.
//! - `rate`: a full sync with HubSpot's burst limit (110 requests per 10 s) switched on
//!   in the mock and in the client; the share of the allowed rate used, and 429s met.
//! - `kill`: a full sync during which the server is SIGKILLed five times at random
//!   points and restarted; the final mirror's checksum must equal that of an
//!   uninterrupted sync of the same world, with no duplicates.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mockcrm::{Mock, MockOptions, WorldSpec};
use serde_json::{Value, json};
use sqlx::Row;

const PORT: u16 = 18_181;

/// Options of a sync benchmark.
pub struct Opts {
    pub mode: String,
    pub bin: PathBuf,
    /// `sqlite` or a PostgreSQL admin URL.
    pub db: String,
    pub spec: WorldSpec,
}

pub fn parse(args: &mut impl Iterator<Item = String>) -> Result<Opts> {
    let mode = args.next().context("mode: full | rate | kill")?;
    let mut bin = PathBuf::from("target/release/pitchside");
    let mut db = "sqlite".to_owned();
    let (mut companies, mut contacts, mut deals, mut activities) = (300u64, 2_000, 1_000, 5_000);
    while let Some(flag) = args.next() {
        let mut value = || args.next().context("flag value");
        match flag.as_str() {
            "--bin" => bin = PathBuf::from(value()?),
            "--db" => db = value()?,
            "--companies" => companies = value()?.parse()?,
            "--contacts" => contacts = value()?.parse()?,
            "--deals" => deals = value()?.parse()?,
            "--activities" => activities = value()?.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(Opts {
        mode,
        bin,
        db,
        spec: WorldSpec::sized(companies, contacts, deals, activities),
    })
}

pub async fn run(opts: Opts) -> Result<()> {
    let total = opts.spec.companies + opts.spec.contacts + opts.spec.deals + opts.spec.activities;
    println!(
        "world: {} companies, {} contacts, {} deals, {} activities ({total} records); database {}",
        opts.spec.companies,
        opts.spec.contacts,
        opts.spec.deals,
        opts.spec.activities,
        if opts.db == "sqlite" {
            "SQLite"
        } else {
            "PostgreSQL"
        }
    );
    match opts.mode.as_str() {
        "full" => full(&opts).await,
        "rate" => rate(&opts).await,
        "kill" => kill(&opts).await,
        other => bail!("unknown mode {other}"),
    }
}

/// A database for one server: a SQLite file or a fresh PostgreSQL database.
struct Db {
    url: String,
    admin: Option<(String, String)>,
    _dir: Option<PathBuf>,
}

impl Db {
    async fn create(kind: &str) -> Result<Self> {
        if kind == "sqlite" {
            let dir = std::env::temp_dir().join(format!("pitchside-sync-bench-{}", uuid()));
            std::fs::create_dir_all(&dir)?;
            Ok(Self {
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                admin: None,
                _dir: Some(dir),
            })
        } else {
            use sqlx::Connection;
            let name = format!("pitchside_syncbench_{}", uuid());
            let mut conn = sqlx::PgConnection::connect(kind).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await?;
            let base = kind.rsplit_once('/').map(|(b, _)| b).unwrap_or(kind);
            Ok(Self {
                url: format!("{base}/{name}"),
                admin: Some((kind.to_owned(), name)),
                _dir: None,
            })
        }
    }

    async fn drop_db(&self) {
        use sqlx::Connection;
        if let Some((admin, name)) = &self.admin
            && let Ok(mut conn) = sqlx::PgConnection::connect(admin).await
        {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut conn)
            .await;
        }
        if let Some(dir) = &self._dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    async fn pool(&self) -> Result<sqlx::AnyPool> {
        sqlx::any::install_default_drivers();
        Ok(sqlx::any::AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.url)
            .await?)
    }
}

fn uuid() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

fn key() -> String {
    vault::sealed::generate_fernet_key()
}

/// The environment every server of one benchmark shares (same keys across restarts).
struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    fn new(db: &Db, mock: &Mock, rate_limit: bool) -> Self {
        let mut vars = vec![
            ("PITCHSIDE_DATABASE_URL".to_owned(), db.url.clone()),
            (
                "PITCHSIDE_PUBLIC_URL".to_owned(),
                format!("http://127.0.0.1:{PORT}"),
            ),
            ("PITCHSIDE_BIND".to_owned(), format!("127.0.0.1:{PORT}")),
            ("PITCHSIDE_JWT_SECRET".to_owned(), key()),
            ("PITCHSIDE_AUTH_RATE_PER_MINUTE".to_owned(), "0".to_owned()),
            ("PITCHSIDE_API_RATE_PER_SECOND".to_owned(), "0".to_owned()),
            ("PITCHSIDE_LOG".to_owned(), "warn".to_owned()),
            ("PITCHSIDE_HUBSPOT_API_URL".to_owned(), mock.url()),
            ("PITCHSIDE_SYNC_WORKERS".to_owned(), "1".to_owned()),
            // A killed server's lease lapses soon, so its restart takes the sync over.
            ("PITCHSIDE_SYNC_LEASE_SECONDS".to_owned(), "5".to_owned()),
            (
                "PITCHSIDE_SYNC_RATE_LIMIT".to_owned(),
                if rate_limit { "on" } else { "off" }.to_owned(),
            ),
        ];
        for domain in vault::sealed::Domain::ALL {
            vars.push((domain.env_var(), key()));
        }
        Self { vars }
    }

    fn command(&self, bin: &PathBuf, arg: &str) -> Command {
        let mut c = Command::new(bin);
        c.arg(arg)
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        c
    }
}

async fn start_server(env: &Env, bin: &PathBuf) -> Result<Child> {
    let child = env.command(bin, "serve").spawn().context("spawn serve")?;
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if client
            .get(format!("http://127.0.0.1:{PORT}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(child);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the server did not come up")
}

/// Sign up and connect HubSpot with the mock's private-app token: (access token,
/// integration id, organization id).
async fn connect(client: &reqwest::Client) -> Result<(String, String, String)> {
    let base = format!("http://127.0.0.1:{PORT}");
    let r = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(
            &json!({"organization_name": "Bench Sync Co", "name": "Bench Admin",
            "email": "admin@syncbench.example", "password": "bench-password-horse-battery",
            "confirm_over_18": true}),
        )
        .send()
        .await?;
    if r.status() != 201 {
        bail!("signup: {} {}", r.status(), r.text().await?);
    }
    let body = r.json::<Value>().await?;
    let token = body["access_token"].as_str().context("token")?.to_owned();
    let org = body["organization"]["id"]
        .as_str()
        .context("organization id")?
        .to_owned();
    let r = client
        .post(format!("{base}/api/v1/integrations"))
        .bearer_auth(&token)
        .json(&json!({"provider": "hubspot", "access_token": "static-test-token"}))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("connect: {} {}", r.status(), r.text().await?);
    }
    let id = r.json::<Value>().await?["id"]
        .as_str()
        .context("integration id")?
        .to_owned();
    Ok((token, id, org))
}

/// A finished run: status and stats.
struct Finished {
    status: String,
    stats: Value,
    requests: i64,
    throttled: i64,
    /// The run's own duration by the server's clock (whole seconds).
    secs: i64,
}

/// Wait for the `n`-th finished run (1-based) of the only connection.
async fn wait_run(pool: &sqlx::AnyPool, n: i64, peak: &mut f64, pid: u32) -> Result<Finished> {
    loop {
        if let Ok(rss) = rss_mib(pid) {
            *peak = peak.max(rss);
        }
        let rows = sqlx::query(
            "SELECT status, stats, requests, throttled, started_at, finished_at FROM crm_sync_runs \
             WHERE status <> 'running' AND status <> 'interrupted' ORDER BY started_at, id",
        )
        .fetch_all(pool)
        .await
        .unwrap_or_default();
        if rows.len() as i64 >= n {
            let r = &rows[n as usize - 1];
            let stats: String = r.try_get("stats")?;
            let started: i64 = r.try_get("started_at")?;
            let finished: Option<i64> = r.try_get("finished_at")?;
            return Ok(Finished {
                status: r.try_get("status")?,
                stats: serde_json::from_str(&stats)?,
                requests: r.try_get("requests")?,
                throttled: r.try_get("throttled")?,
                secs: finished.unwrap_or(started) - started,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn records_read(stats: &Value) -> u64 {
    stats["kinds"]
        .as_object()
        .map(|k| k.values().filter_map(|v| v["read"].as_u64()).sum())
        .unwrap_or(0)
}

fn rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .context("VmRSS")?
        .parse()?;
    Ok(kb / 1024.0)
}

fn hwm_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .context("VmHWM")?
        .parse()?;
    Ok(kb / 1024.0)
}

async fn full(opts: &Opts) -> Result<()> {
    let mock = mockcrm::hubspot::start(opts.spec.clone(), MockOptions::default()).await?;
    let db = Db::create(&opts.db).await?;
    let env = Env::new(&db, &mock, false);
    let status = env.command(&opts.bin, "migrate").status()?;
    if !status.success() {
        bail!("migrate failed");
    }
    let mut server = start_server(&env, &opts.bin).await?;
    let pid = server.id();
    println!("idle RSS: {:.1} MiB", rss_mib(pid)?);
    let client = reqwest::Client::new();
    let pool = db.pool().await?;
    let started = Instant::now();
    let (token, id, _) = connect(&client).await?;
    let mut peak = 0.0;
    let run = wait_run(&pool, 1, &mut peak, pid).await?;
    let wall = started.elapsed().as_secs_f64();
    let read = records_read(&run.stats);
    println!(
        "full sync: {} in {wall:.1} s wall (run {} s; {:.0} records/s end to end), {read} records read, {} requests, {} throttled; peak RSS {:.1} MiB (VmHWM {:.1} MiB)",
        run.status,
        run.secs,
        read as f64 / wall,
        run.requests,
        run.throttled,
        peak,
        hwm_mib(pid)?
    );
    // Incremental after 1% changed.
    let (modified, deleted) = mock.state.world.churn(0.008, 0.002, 99);
    mock.state.clear_requests();
    let t = Instant::now();
    let r = client
        .post(format!(
            "http://127.0.0.1:{PORT}/api/v1/integrations/{id}/sync"
        ))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await?;
    if r.status() != 202 {
        bail!("sync now: {}", r.status());
    }
    let inc = wait_run(&pool, 2, &mut peak, pid).await?;
    println!(
        "incremental after {modified} modified + {deleted} deleted: {} in {:.1} s, {} records read, {} requests ({} seen by the mock)",
        inc.status,
        t.elapsed().as_secs_f64(),
        records_read(&inc.stats),
        inc.requests,
        mock.state.requests().len()
    );
    server.kill()?;
    let _ = server.wait();
    pool.close().await;
    db.drop_db().await;
    Ok(())
}

async fn rate(opts: &Opts) -> Result<()> {
    let limit = (110u32, Duration::from_secs(10));
    let mock = mockcrm::hubspot::start(
        opts.spec.clone(),
        MockOptions {
            rate_limit: Some(limit),
            ..MockOptions::default()
        },
    )
    .await?;
    let db = Db::create(&opts.db).await?;
    let env = Env::new(&db, &mock, true);
    env.command(&opts.bin, "migrate").status()?;
    let mut server = start_server(&env, &opts.bin).await?;
    let pid = server.id();
    let client = reqwest::Client::new();
    let pool = db.pool().await?;
    connect(&client).await?;
    // The window that counts: from the first request the mock sees to the run's end.
    let state = mock.state.clone();
    let first = tokio::spawn(async move {
        while state.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Instant::now()
    });
    let mut peak = 0.0;
    let run = wait_run(&pool, 1, &mut peak, pid).await?;
    let secs = first.await?.elapsed().as_secs_f64();
    let served = mock.state.requests();
    let data = served
        .iter()
        .filter(|r| !r.path.starts_with("/oauth"))
        .count();
    let throttled = served.iter().filter(|r| r.status == 429).count();
    // The published rate (110 per 10 s = 11 requests/s) against the rate used. A rolling
    // window that starts empty also allows a full burst in every window begun — the
    // most any client could have sent in `secs`, a bound that jumps by 110 at each
    // 10-s mark — shown beside it.
    let rate = data as f64 / secs;
    let allowed_rate = f64::from(limit.0) / limit.1.as_secs_f64();
    let windows = (secs / limit.1.as_secs_f64()).ceil();
    let bursts = f64::from(limit.0) * windows;
    println!(
        "rate-limited sync: {} in {secs:.1} s from the first request; {data} requests = {rate:.2} requests/s of the {allowed_rate:.0}/s allowed ({:.0}%; {:.0}% of the {bursts:.0} a client sending full bursts at each window could send); 429s met: {throttled} (run counted {}); {} records",
        run.status,
        100.0 * rate / allowed_rate,
        100.0 * data as f64 / bursts,
        run.throttled,
        records_read(&run.stats)
    );
    server.kill()?;
    let _ = server.wait();
    pool.close().await;
    db.drop_db().await;
    Ok(())
}

async fn kill(opts: &Opts) -> Result<()> {
    let mock = mockcrm::hubspot::start(opts.spec.clone(), MockOptions::default()).await?;
    // Reference: an uninterrupted sync.
    let reference = {
        let db = Db::create(&opts.db).await?;
        let env = Env::new(&db, &mock, false);
        env.command(&opts.bin, "migrate").status()?;
        let mut server = start_server(&env, &opts.bin).await?;
        let pool = db.pool().await?;
        let t = Instant::now();
        let (_, _, org) = connect(&reqwest::Client::new()).await?;
        let mut peak = 0.0;
        wait_run(&pool, 1, &mut peak, server.id()).await?;
        let secs = t.elapsed().as_secs_f64();
        let sum = checksum(&db.url, &org).await?;
        println!("uninterrupted: {secs:.1} s, checksum {sum}");
        server.kill()?;
        let _ = server.wait();
        pool.close().await;
        db.drop_db().await;
        (sum, secs)
    };
    let db = Db::create(&opts.db).await?;
    let env = Env::new(&db, &mock, false);
    env.command(&opts.bin, "migrate").status()?;
    let mut server = start_server(&env, &opts.bin).await?;
    let pool = db.pool().await?;
    let (_, _, org) = connect(&reqwest::Client::new()).await?;
    let mut kills = 0;
    let mut seed = std::process::id() as u64;
    while kills < 5 {
        seed = mockcrm::world::hash(seed, 1, kills);
        // Uniform over a fifth of an uninterrupted sync, after the time a restarted
        // server needs to take the sync over (the killed one's lease of 5 s lapsing,
        // then a worker's poll): the five kills land across the sync.
        let takeover = if kills == 0 { 1.0 } else { 6.5 };
        let wait = takeover + 0.2 + (seed % 1000) as f64 / 1000.0 * (reference.1 / 5.0).max(0.2);
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        let done: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM crm_sync_runs WHERE status = 'succeeded'")
                .fetch_one(&pool)
                .await?;
        if done > 0 {
            println!(
                "the sync finished before kill {}; shorten the waits",
                kills + 1
            );
            break;
        }
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crm_checkpoints")
            .fetch_one(&pool)
            .await?;
        server.kill()?; // SIGKILL
        let _ = server.wait();
        kills += 1;
        println!("kill {kills} after {wait:.2} s ({stored} checkpoints stored)");
        server = start_server(&env, &opts.bin).await?;
    }
    let mut peak = 0.0;
    let run = wait_run(&pool, 1, &mut peak, server.id()).await?;
    let sum = checksum(&db.url, &org).await?;
    let dupes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) - COUNT(DISTINCT external_id) FROM crm_activities")
            .fetch_one(&pool)
            .await?;
    println!(
        "after {kills} kills: {}; checksum {sum} ({}); duplicate activities {dupes}",
        run.status,
        if sum == reference.0 {
            "EQUAL to the uninterrupted sync"
        } else {
            "DIFFERENT"
        }
    );
    server.kill()?;
    let _ = server.wait();
    pool.close().await;
    db.drop_db().await;
    if sum != reference.0 || dupes != 0 {
        bail!("the interrupted sync did not converge");
    }
    Ok(())
}

/// The mirror's checksum, through the store (`Store::mirror_checksum`).
async fn checksum(url: &str, org: &str) -> Result<String> {
    let store =
        store::Store::connect(store::StoreOptions::new(url), store::Clock::system()).await?;
    let sum = store.mirror_checksum(org).await?;
    store.close().await;
    Ok(sum)
}
