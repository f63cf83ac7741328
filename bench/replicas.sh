#!/usr/bin/env bash
# Measures, on this machine, where two Tally replicas on one PostgreSQL lose throughput (CPU
# sharing or row-lock waits between their journals) and what the cluster's synchronous
# replication costs per transfer; the numbers are in docs/design.md (Many replicas).
#
#   bench/replicas.sh [replicas|syncrep|all]      (default all)
#
# replicas: two `tally serve` on the private PostgreSQL (scripts/postgres), the same total
#   clients through one of them or split over both, uniform and hot-10 traffic;
# syncrep: one `tally serve` on the private PostgreSQL and one on the Patroni cluster's write
#   port (scripts/cluster up), uniform traffic.
# bench/replicas.py runs the arms alternately (BENCH_REPEATS times, default 2), BENCH_DURATION
# seconds each (default 15) with BENCH_CLIENTS clients (default 64), sampling pg_stat_activity
# every 100 ms and the processes' CPU from /proc. BENCH_USERS seeded users (default 10000, as
# scripts/bench). The release binary is built unless TALLY_BINARY names one. Raw outputs in
# bench/tmp/replicas-<timestamp>/ (git-ignored). Traffic goes to 127.0.0.1 only.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

mode=${1:-all}
case "$mode" in replicas | syncrep | all) ;; *) echo "usage: bench/replicas.sh [replicas|syncrep|all]" >&2; exit 2 ;; esac
users=${BENCH_USERS:-10000}
[[ "$users" =~ ^[0-9]+$ ]] && [ "$users" -ge 11 ] && [ "$users" -le 100000 ] || { echo "BENCH_USERS: 11..100000" >&2; exit 2; }
database=tally_replicas
port_a=26590 port_b=26591 port_cluster=26592
say() { echo "replicas: $*" >&2; }

command -v wrk >/dev/null || { echo "replicas: wrk is missing (apt-get install wrk)" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
binary=${TALLY_BINARY:-}
if [ -z "$binary" ]; then
  cargo build --release --locked --bin tally
  binary="$CARGO_TARGET_DIR/release/tally"
fi
run_dir="$repo/bench/tmp/replicas-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run_dir"
say "raw outputs in ${run_dir#"$repo"/}"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

# prepare ADMIN_URL DB_URL NAME: a fresh database, migrated and seeded; NAME.tsv for wrk.
prepare() {
  psql -X -q "$1" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database OWNER tally"
  TALLY_DATABASE__URL="$2" "$binary" migrate >"$run_dir/$3.migrate.log" 2>&1
  TALLY_DATABASE__URL="$2" TALLY_AUTH__BCRYPT_COST=4 "$binary" seed --users "$users" \
    --balance 1000000000000 --currency USD --token-ttl 2h --out "$run_dir/$3.json" >/dev/null 2>&1
  psql -X -q "$2" -c ANALYZE 2>/dev/null
  python3 -c "import json,sys
for u in json.load(open(sys.argv[1])): print(f\"{u['account_id']}\t{u['currency']}\t{u['access_token']}\")" \
    "$run_dir/$3.json" >"$run_dir/$3.tsv"
}

# serve PORT DB_URL NAME: starts `tally serve`; its pid in $served.
serve() {
  # The auditor's first, full pass would land in a run: one a day, as in production.
  TALLY_DATABASE__URL="$2" TALLY_HTTP__ADDR="127.0.0.1:$1" TALLY_LOG__LEVEL=warn TALLY_AUTH__BCRYPT_COST=4 \
    TALLY_ENGINE__AUDIT_INTERVAL=24h RUST_LOG="" "$binary" serve --no-migrate >"$run_dir/$3.log" 2>&1 &
  served=$!
  pids+=("$served")
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "replicas: tally $3 did not start; see $run_dir/$3.log" >&2
  exit 1
}

scripts/postgres start
pg_port=${TALLY_PG_PORT:-25432}
single_admin="postgres://postgres@127.0.0.1:$pg_port/postgres"
single_db="postgres://tally@127.0.0.1:$pg_port/$database"
single_postmaster=$(head -n 1 "$repo/.tally/pg/postmaster.pid")
prepare "$single_admin" "$single_db" single
serve "$port_a" "$single_db" a
pid_a=$served

if [ "$mode" != syncrep ]; then
  serve "$port_b" "$single_db" b
  pid_b=$served
  say "two replicas on one PostgreSQL"
  python3 bench/replicas.py replicas "$run_dir" "http://127.0.0.1:$port_a" "http://127.0.0.1:$port_b" \
    "$single_db" "$run_dir/single.tsv" "$single_postmaster" "$pid_a" "$pid_b" | tee "$run_dir/replicas.md"
  kill "$pid_b"
fi

if [ "$mode" != replicas ]; then
  scripts/cluster up
  cluster_base=$(readlink -f "$repo/.tally/cluster")
  cluster_admin="postgres://postgres@127.0.0.1:26500/postgres"
  cluster_db="postgres://tally@127.0.0.1:26500/$database"
  postmasters=$(for node in node1 node2 node3; do head -n 1 "$cluster_base/$node/postmaster.pid"; done | paste -sd,)
  prepare "$cluster_admin" "$cluster_db" cluster
  serve "$port_cluster" "$cluster_db" cluster
  pid_cluster=$served
  say "one replica: a single PostgreSQL against the cluster's write port (synchronous replication)"
  python3 bench/replicas.py syncrep "$run_dir" "http://127.0.0.1:$port_a" "$single_db" "$run_dir/single.tsv" \
    "$single_postmaster" "$pid_a" "http://127.0.0.1:$port_cluster" "$cluster_db" "$run_dir/cluster.tsv" \
    "$postmasters" "$pid_cluster" "$(cat "$cluster_base/run/haproxy.pid")" | tee "$run_dir/syncrep.md"
  psql -X -q "$cluster_admin" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
fi
cleanup
pids=()
psql -X -q "$single_admin" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" || true
