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
BENCH_PORT=18081
# shellcheck source=scripts/bench-common.sh
source scripts/bench-common.sh
unset PITCHSIDE_KEYS_COACHING_NOTES
k1=$(key)
k2=$(key)

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
