#!/usr/bin/env bash
# Re-encryption under load: N sealed coaching notes (default 100,000) written under key K1,
# then the instance restarts with the ring [K2, K1] and `pitchside keys reencrypt
# coaching_notes` runs while a reader fetches pages of 50 notes at 50 requests/s.
# Reports the re-encryption time and rows/s and the readers' latencies.
# Usage: scripts/bench-reencrypt.sh [sqlite|postgres|both] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-both}"
n="${2:-100000}"
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
export PITCHSIDE_PUBLIC_URL=http://127.0.0.1:18081
export PITCHSIDE_BIND=127.0.0.1:18081
export PITCHSIDE_AUTH_RATE_PER_MINUTE=0
export PITCHSIDE_API_RATE_PER_SECOND=0
export PITCHSIDE_LOG=warn
key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_'; }
for domain in CRM_TOKENS AI_INSIGHTS TRANSCRIPTS; do export "PITCHSIDE_KEYS_$domain=$(key)"; done
k1=$(key)
k2=$(key)
admin_url="${PITCHSIDE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

start_server() {
    "$bin" serve >>"$work/server.log" 2>&1 &
    server=$!
    for _ in $(seq 1 50); do curl -fs "$PITCHSIDE_PUBLIC_URL/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
}

run() {
    local name=$1
    export PITCHSIDE_DATABASE_URL=$2
    echo "== $name: $n notes"
    "$bin" migrate >/dev/null
    PITCHSIDE_KEYS_COACHING_NOTES=$k1 start_server
    read -r token subject < <("$bench" notes-seed "$PITCHSIDE_PUBLIC_URL" "$n")
    kill "$server"; wait "$server" 2>/dev/null || true
    export PITCHSIDE_KEYS_COACHING_NOTES="$k2,$k1"
    start_server
    rm -f "$work/stop"
    "$bench" notes-read "$PITCHSIDE_PUBLIC_URL" "$token" "$subject" 50 "$work/stop" &
    reader=$!
    sleep 2
    local t0 t1
    t0=$(date +%s.%N)
    "$bin" keys reencrypt coaching_notes
    t1=$(date +%s.%N)
    sleep 2
    touch "$work/stop"
    wait "$reader"
    awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "re-encrypted %d rows in %.1f s: %.0f rows/s\n", n, b - a, n / (b - a) }'
    "$bin" keys status | sed -n '/coaching_notes/,/^[a-z]/p' | head -4
    kill "$server"; wait "$server" 2>/dev/null || true
    unset PITCHSIDE_KEYS_COACHING_NOTES
}

if [ "$which" = sqlite ] || [ "$which" = both ]; then
    run sqlite "sqlite://$work/reencrypt.db"
fi
if [ "$which" = postgres ] || [ "$which" = both ]; then
    db="pitchside_reencrypt_$$"
    psql "$admin_url" -qc "CREATE DATABASE $db" >/dev/null
    run postgres "${admin_url%/*}/$db"
    psql "$admin_url" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
fi
