#!/usr/bin/env bash
# Benchmark a release build of Pitchside on SQLite and on PostgreSQL.
# Usage: scripts/bench.sh [sqlite|postgres|both]   (default both)
# Needs a PostgreSQL server at PITCHSIDE_TEST_POSTGRES_URL (default local, trust auth).
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-both}"
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh

run() {
    local name=$1 url=$2
    echo "== $name"
    PITCHSIDE_DATABASE_URL=$url "$bin" migrate >/dev/null
    PITCHSIDE_DATABASE_URL=$url "$bin" serve >"$work/$name.log" 2>&1 &
    server=$!
    for _ in $(seq 1 50); do curl -fs "$PITCHSIDE_PUBLIC_URL/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
    sleep 2
    "$bench" "$PITCHSIDE_PUBLIC_URL" "$server"
    # PostgreSQL: how many statements answered the session checks (batching).
    curl -fs "$PITCHSIDE_PUBLIC_URL/metrics" | grep -E '^pitchside_session_check' || true
    kill "$server"; wait "$server" 2>/dev/null || true
}

if [ "$which" = sqlite ] || [ "$which" = both ]; then
    run sqlite "sqlite://$work/bench.db"
fi
if [ "$which" = postgres ] || [ "$which" = both ]; then
    db="pitchside_bench_$$"
    psql "$admin_url" -qc "CREATE DATABASE $db" >/dev/null
    run postgres "${admin_url%/*}/$db"
    psql "$admin_url" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
fi
