# Shared set-up of the benchmark scripts (sourced, not run): release builds, a work
# directory removed on exit, and the environment `pitchside serve` needs on PORT.
# After sourcing: $bin, $bench, $work, $admin_url, key(), and $server for the trap.
port=${BENCH_PORT:-18080}
# Built one at a time: together, cargo would unify features and hand the load
# generator the binary's HTTPS client stack, which it does not need.
cargo build --release -p pitchside
cargo build --release -p pitchside-bench
bin=target/release/pitchside
bench=target/release/pitchside-bench
work=$(mktemp -d)
trap 'kill "${server:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
key() { head -c 32 /dev/urandom | base64 | tr '+/' '-_'; }
export PITCHSIDE_JWT_SECRET
PITCHSIDE_JWT_SECRET=$(head -c 32 /dev/urandom | base64)
export PITCHSIDE_PUBLIC_URL=http://127.0.0.1:$port
export PITCHSIDE_BIND=127.0.0.1:$port
export PITCHSIDE_AUTH_RATE_PER_MINUTE=0
export PITCHSIDE_API_RATE_PER_SECOND=0
export PITCHSIDE_LOG=warn
for domain in CRM_TOKENS CRM_RECORDS COACHING_NOTES AI_INSIGHTS TRANSCRIPTS; do
    export "PITCHSIDE_KEYS_$domain=$(key)"
done
admin_url="${PITCHSIDE_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
