#!/usr/bin/env bash
# Benchmark a release build of Pitchside on SQLite and on PostgreSQL.
# Usage: scripts/bench.sh [sqlite|postgres|both]   (default both)
# Needs a PostgreSQL server at PITCHSIDE_TEST_POSTGRES_URL (default local, trust auth).
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-both}"
# Built one at a time: together, cargo would unify features and hand the load
# generator the binary's HTTPS client stack, which it does not need.
cargo build --release -p pitchside
cargo build --release -p pitchside-bench
bin=target/release/pitchside
bench=target/release/pitchside-bench
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
export PITCHSIDE_JWT_SECRET
PITCHSIDE_JWT_SECRET=$(head -c 32 /dev/urandom | base64)
export PITCHSIDE_PUBLIC_URL=http://127.0.0.1:18080
export PITCHSIDE_BIND=127.0.0.1:18080
export PITCHSIDE_AUTH_RATE_PER_MINUTE=0
export PITCHSIDE_API_RATE_PER_SECOND=0
export PITCHSIDE_LOG=warn
for domain in CRM_TOKENS COACHING_NOTES AI_INSIGHTS TRANSCRIPTS; do
    export "PITCHSIDE_KEYS_$domain=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_')"
done
admin_url="${PITCHSIDE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

run() {
    local name=$1 url=$2
    echo "== $name"
    PITCHSIDE_DATABASE_URL=$url "$bin" migrate >/dev/null
    PITCHSIDE_DATABASE_URL=$url "$bin" serve >"$work/$name.log" 2>&1 &
    server=$!
    for _ in $(seq 1 50); do curl -fs "$PITCHSIDE_PUBLIC_URL/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
    sleep 2
    "$bench" "$PITCHSIDE_PUBLIC_URL" "$server"
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
