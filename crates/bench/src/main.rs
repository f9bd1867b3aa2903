//! `pitchside-bench BASE_URL [SERVER_PID]`: benchmark a running Pitchside instance.
//! `pitchside-bench seal`: seal/open throughput of 1 KiB values on one core.
//! `pitchside-bench sync full|rate|kill [--db sqlite|POSTGRES_URL] [--deals N …]`: CRM
//! sync end to end against the HubSpot mock (see `sync_bench`).
//! `pitchside-bench notes-seed BASE_URL N`: sign up an organization and write N coaching
//! notes of 1 KiB through the API; prints `TOKEN SUBJECT_ID`.
//! `pitchside-bench notes-read BASE_URL TOKEN SUBJECT_ID RATE STOP_FILE`: read pages of 50
//! notes at RATE requests/s until STOP_FILE exists; prints the latencies (used while
//! `pitchside keys reencrypt` runs, see scripts/bench-reencrypt.sh).
//!
//! Seeds an organization with 60 members through the public API, then measures:
//! 1. `/healthz`, closed loop (the server's own ceiling);
//! 2. `GET /api/v1/users?limit=50` authenticated, closed loop;
//! 3. the same at a fixed 500 requests/s (open loop, latency percentiles);
//! 4. `/healthz` at a fixed 500 requests/s while 20 logins/s hammer bcrypt.
//!
//! Given the server's pid, its resident memory when idle.
//!
//! The load generator shares the machine with the server, so figures are a floor.

mod sync_bench;

/// The allocator the `pitchside` binary uses; here it serves the mock CRM, whose CPU
/// shares the machine with the server under test.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

const PASSWORD: &str = "bench-password-horse-battery";
const SECS: u64 = 10;
const CONNECTIONS: usize = 32;

#[tokio::main]
async fn main() -> Result<()> {
    // Built together with the binary, reqwest has rustls without a default provider.
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .context("usage: pitchside-bench BASE_URL [SERVER_PID] | pitchside-bench seal")?;
    if base == "sync" {
        return sync_bench::run(sync_bench::parse(&mut args)?).await;
    }
    if base == "seal" {
        seal_throughput();
        return Ok(());
    }
    if base == "notes-seed" {
        let base = args.next().context("BASE_URL")?;
        let n: usize = args.next().context("N")?.parse().context("N")?;
        return notes_seed(&base, n).await;
    }
    if base == "notes-read" {
        let (base, token, subject, rate, stop) = (
            args.next().context("BASE_URL")?,
            args.next().context("TOKEN")?,
            args.next().context("SUBJECT_ID")?,
            args.next()
                .context("RATE")?
                .parse::<u64>()
                .context("RATE")?,
            args.next().context("STOP_FILE")?,
        );
        return notes_read(&base, &token, &subject, rate, &stop).await;
    }
    let pid = args.next();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;

    if let Some(pid) = &pid {
        println!("idle RSS before load: {:.1} MiB", rss_mib(pid)?);
    }
    let token = seed(&client, &base).await?;
    let users = format!("{base}/api/v1/users?limit=50");
    let health = format!("{base}/healthz");

    let h = closed_loop(&client, &health, None, CONNECTIONS, SECS).await;
    h.print("healthz, closed loop");
    let u = closed_loop(&client, &users, Some(&token), CONNECTIONS, SECS).await;
    u.print("users?limit=50, closed loop");
    println!(
        "  users/healthz throughput ratio: {:.0}%",
        100.0 * u.throughput() / h.throughput().max(1.0)
    );
    open_loop(&client, &users, Some(&token), 500, SECS)
        .await
        .print("users?limit=50 at 500 req/s");

    let stop = Arc::new(AtomicBool::new(false));
    let storm = tokio::spawn(login_storm(client.clone(), base.clone(), 20, stop.clone()));
    let during = open_loop(&client, &health, None, 500, SECS).await;
    stop.store(true, Ordering::Relaxed);
    let (logins, failures) = storm.await?;
    during.print("healthz at 500 req/s during a 20 logins/s storm");
    println!("  logins completed: {logins}, failed: {failures}");
    if let Some(pid) = &pid {
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("RSS after load: {:.1} MiB", rss_mib(pid)?);
    }
    Ok(())
}

/// Sign up an org and invite 59 members (60 users in all); return the admin's token.
async fn seed(client: &reqwest::Client, base: &str) -> Result<String> {
    let tag = std::process::id();
    let r = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"organization_name": "Bench Co", "name": "Bench Admin",
            "email": format!("admin{tag}@bench.example"), "password": PASSWORD, "confirm_over_18": true}))
        .send()
        .await?;
    if r.status() != 201 {
        bail!("signup failed: {} {}", r.status(), r.text().await?);
    }
    let body: Value = r.json().await?;
    let token = body["access_token"].as_str().context("token")?.to_owned();
    for i in 0..59 {
        let r = client
            .post(format!("{base}/api/v1/invitations"))
            .bearer_auth(&token)
            .json(&json!({"email": format!("rep{i}.{tag}@bench.example"), "seat": "rep"}))
            .send()
            .await?;
        let inv: Value = r.json().await?;
        let invite = inv["token"].as_str().context("invitation token")?;
        let r = client
            .post(format!("{base}/api/v1/invitations/{invite}/accept"))
            .json(
                &json!({"name": format!("Rep {i}"), "password": PASSWORD, "confirm_over_18": true}),
            )
            .send()
            .await?;
        if r.status() != 201 {
            bail!("accept failed: {}", r.status());
        }
    }
    Ok(token)
}

struct Run {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Run {
    fn throughput(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn pct(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let idx = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[idx].as_secs_f64() * 1000.0
    }

    fn print(&self, name: &str) {
        println!(
            "{name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, {} ok, {} errors",
            self.throughput(),
            self.pct(0.50),
            self.pct(0.99),
            self.pct(1.0),
            self.latencies.len(),
            self.errors
        );
    }
}

async fn one(client: &reqwest::Client, url: &str, token: Option<&str>) -> Option<Duration> {
    let start = Instant::now();
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) if r.status().is_success() => r.bytes().await.ok().map(|_| start.elapsed()),
        _ => None,
    }
}

async fn closed_loop(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    conns: usize,
    secs: u64,
) -> Run {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (client, url, token) = (client.clone(), url.to_owned(), token.map(str::to_owned));
        tasks.push(tokio::spawn(async move {
            let (mut lat, mut errors) = (Vec::new(), 0);
            while Instant::now() < deadline {
                match one(&client, &url, token.as_deref()).await {
                    Some(d) => lat.push(d),
                    None => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    collect(tasks, start).await
}

async fn open_loop(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    rate: u64,
    secs: u64,
) -> Run {
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for _ in 0..rate * secs {
        ticker.tick().await;
        let (client, url, token) = (client.clone(), url.to_owned(), token.map(str::to_owned));
        tasks.push(tokio::spawn(async move {
            match one(&client, &url, token.as_deref()).await {
                Some(d) => (vec![d], 0),
                None => (Vec::new(), 1),
            }
        }));
    }
    collect(tasks, start).await
}

async fn collect(
    tasks: Vec<tokio::task::JoinHandle<(Vec<Duration>, usize)>>,
    start: Instant,
) -> Run {
    let mut run = Run {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        if let Ok((lat, errors)) = t.await {
            run.latencies.extend(lat);
            run.errors += errors;
        }
    }
    run.elapsed = start.elapsed();
    run.latencies.sort();
    run
}

/// Write `n` 1 KiB notes about the signed-up admin, 32 at a time.
async fn notes_seed(base: &str, n: usize) -> Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(60))
        .build()?;
    let r = client
        .post(format!("{base}/api/v1/auth/signup"))
        .json(
            &json!({"organization_name": "Notes Co", "name": "Nora Notes",
            "email": format!("nora{}@bench.example", std::process::id()), "password": PASSWORD,
            "confirm_over_18": true}),
        )
        .send()
        .await?;
    if r.status() != 201 {
        bail!("signup failed: {} {}", r.status(), r.text().await?);
    }
    let body: Value = r.json().await?;
    let token = body["access_token"].as_str().context("token")?.to_owned();
    let subject = body["user"]["id"].as_str().context("user id")?.to_owned();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (client, base, token, subject, next) = (
            client.clone(),
            base.to_owned(),
            token.clone(),
            subject.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), anyhow::Error>(());
                }
                let body = format!("Note {i}: {}", "call notes, objections, next steps. ".repeat(30));
                let r = client
                    .post(format!("{base}/api/v1/notes"))
                    .bearer_auth(&token)
                    .json(&json!({"subject_user_id": subject, "body": &body[..1024], "visibility": "shared"}))
                    .send()
                    .await?;
                if r.status() != 201 {
                    bail!("note {i}: {}", r.status());
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    eprintln!(
        "wrote {n} notes in {:.1} s ({:.0} notes/s)",
        start.elapsed().as_secs_f64(),
        n as f64 / start.elapsed().as_secs_f64()
    );
    // log-check: allow handing the bench's own throwaway token to the script on stdout
    println!("{token} {subject}");
    Ok(())
}

/// Open-loop reads of a 50-note page until `stop` exists (at most 10 minutes).
async fn notes_read(base: &str, token: &str, subject: &str, rate: u64, stop: &str) -> Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(30))
        .build()?;
    let url = format!("{base}/api/v1/users/{subject}/notes?limit=50");
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    while !std::path::Path::new(stop).exists() && start.elapsed() < Duration::from_secs(600) {
        ticker.tick().await;
        let (client, url, token) = (client.clone(), url.clone(), token.to_owned());
        tasks.push(tokio::spawn(async move {
            match one(&client, &url, Some(&token)).await {
                Some(d) => (vec![d], 0),
                None => (Vec::new(), 1),
            }
        }));
    }
    collect(tasks, start).await.print(&format!(
        "notes page of 50 at {rate} req/s during re-encryption"
    ));
    Ok(())
}

/// Log in `rate` times a second (correct password, so bcrypt runs) until stopped.
async fn login_storm(
    client: reqwest::Client,
    base: String,
    rate: u64,
    stop: Arc<AtomicBool>,
) -> (usize, usize) {
    let tag = std::process::id();
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    let mut tasks = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        ticker.tick().await;
        let (client, base) = (client.clone(), base.clone());
        let email = format!("rep{}.{tag}@bench.example", i % 59);
        i += 1;
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }));
    }
    let (mut ok, mut failed) = (0, 0);
    for t in tasks {
        if t.await.unwrap_or(false) {
            ok += 1;
        } else {
            failed += 1;
        }
    }
    (ok, failed)
}

/// Seal and open 1 KiB values on one thread (one core) for ~3 s each.
fn seal_throughput() {
    use vault::sealed::{Domain, KeyRing, SealContext, generate_fernet_key};
    let (k1, k2) = (generate_fernet_key(), generate_fernet_key());
    let ring = KeyRing::new(Domain::CoachingNotes, [k1.as_str(), k2.as_str()]).expect("ring");
    let old = KeyRing::new(Domain::CoachingNotes, [k2.as_str()]).expect("ring");
    let ctx = SealContext {
        org: "0193a6b2-0000-7000-8000-000000000001",
        table: "notes",
        column: "body",
        row: "0193a6b2-0000-7000-8000-0000000000aa",
    };
    let value = vec![b'x'; 1024];
    let run = |name: &str, f: &mut dyn FnMut()| {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < Duration::from_secs(3) {
            for _ in 0..100 {
                f();
            }
            n += 100;
        }
        let per_sec = n as f64 / start.elapsed().as_secs_f64();
        println!(
            "{name}: {per_sec:.0} values/s on one core ({:.1} µs each)",
            1e6 / per_sec
        );
    };
    let token = ring.seal(ctx, &value).expect("seal").token;
    let old_token = old.seal(ctx, &value).expect("seal").token;
    run("seal 1 KiB", &mut || {
        std::hint::black_box(ring.seal(ctx, &value).expect("seal"));
    });
    run("open 1 KiB (primary key)", &mut || {
        std::hint::black_box(ring.open(ctx, &token).expect("open"));
    });
    run("open 1 KiB (second key of the ring)", &mut || {
        std::hint::black_box(ring.open(ctx, &old_token).expect("open"));
    });
    run("reseal 1 KiB (rotation)", &mut || {
        std::hint::black_box(ring.reseal(ctx, &old_token).expect("reseal"));
    });
}

fn rss_mib(pid: &str) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .context("VmRSS")?;
    Ok(kb / 1024.0)
}
