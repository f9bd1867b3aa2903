#!/usr/bin/env bash
# Benchmark CRM sync end to end (issue 4): release builds of `pitchside` and
# `pitchside-bench`; the bench process runs the HubSpot mock and drives a real
# `pitchside serve` through the public API, on SQLite and on PostgreSQL.
# Usage: scripts/bench-sync.sh [sqlite|postgres|both] [scale]   (default both, 1.0)
# scale 1.0 = 30,000 companies, 200,000 contacts, 100,000 deals, 500,000 activities.
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-both}"
scale="${2:-1.0}"
cargo build --release -p pitchside
cargo build --release -p pitchside-bench
bench=target/release/pitchside-bench
admin_url="${PITCHSIDE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
n() { python3 -c "print(int($1 * $scale))"; }
size() { echo --companies "$(n "$1")" --contacts "$(n "$2")" --deals "$(n "$3")" --activities "$(n "$4")"; }
big=$(size 30000 200000 100000 500000)
quarter=$(size 7500 50000 25000 125000)
half=$(size 15000 100000 50000 250000)
# The rate test needs a world that takes ~30 s at HubSpot's 110 requests per 10 s.
rate="--companies 2000 --contacts 10000 --deals 6000 --activities 22000"
dbs=()
if [ "$which" = sqlite ] || [ "$which" = both ]; then dbs+=(sqlite); fi
if [ "$which" = postgres ] || [ "$which" = both ]; then dbs+=("$admin_url"); fi
for db in "${dbs[@]}"; do
    echo "== full sync and 1% incremental, large world"
    # shellcheck disable=SC2086
    "$bench" sync full --db "$db" $big
    echo "== the same at a quarter of the size (peak RSS at a second size)"
    # shellcheck disable=SC2086
    "$bench" sync full --db "$db" $quarter
    echo "== HubSpot's burst limit on in the mock and the client"
    # shellcheck disable=SC2086
    "$bench" sync rate --db "$db" $rate
    echo "== SIGKILL five times during a full sync"
    # shellcheck disable=SC2086
    "$bench" sync kill --db "$db" $half
done
