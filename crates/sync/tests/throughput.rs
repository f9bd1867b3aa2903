//! A measurement, not a check (`--ignored`): a full sync through the engine and store
//! against the HubSpot mock in this process. Size with `PITCHSIDE_SYNC_BENCH_SCALE`
//! (1.0 = 100,000 deals, 200,000 contacts, 30,000 companies, 500,000 activities).
//! Run in release: `cargo test --release -p pitchside-sync --test throughput -- --ignored --nocapture`.

mod common;

/// The allocator of the `pitchside` binary, so the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use common::Harness;
use mockcrm::{MockOptions, WorldSpec};
use testkit::backends;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run in release with --ignored"]
async fn full_sync_throughput() {
    let scale: f64 = std::env::var("PITCHSIDE_SYNC_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.1);
    let n = |v: f64| (v * scale) as u64;
    for backend in backends() {
        let spec = WorldSpec::sized(n(30_000.0), n(200_000.0), n(100_000.0), n(500_000.0));
        let total = spec.companies + spec.contacts + spec.deals + spec.activities;
        let h = Harness::new(backend, spec, MockOptions::default()).await;
        let mut h = h;
        h.config.http.rate_limit = false;
        h.connect_token().await;
        let start = Instant::now();
        let reports = h.engine().run_until_idle().await.expect("run");
        let secs = start.elapsed().as_secs_f64();
        let read = reports[0].stats.total().read;
        println!(
            "{backend:?}: {total} records ({read} read) in {secs:.1} s = {:.0} records/s, {} requests; {}",
            read as f64 / secs,
            reports[0].stats.requests,
            reports[0].status
        );
        for (kind, k) in &reports[0].stats.kinds {
            println!("  {kind}: {k:?}");
        }
    }
}
