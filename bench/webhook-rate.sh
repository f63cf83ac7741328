#!/usr/bin/env bash
# How fast one webhook delivers: events per second from a backlog to a local keep-alive
# receiver (bench/webhook-receiver.py), one event per POST, in order, as in production.
#
#   bench/webhook-rate.sh            (TALLY_PG_PORT: the private PostgreSQL)
#
# Recreates the database tally_webhook_rate (never the dev database), seeds BENCH_WEBHOOK_USERS
# users (default 2,000: an account.opened and a deposit's transfer.posted each), starts `tally
# serve` (BENCH_BINARY, default the release binary of CARGO_TARGET_DIR or target), makes a
# webhook and rewinds its cursor to 0, then times how long it takes the cursor to reach the
# newest event (at most 300 s). Prints events, seconds, events/s, and the PostgreSQL statements
# the server ran meanwhile per event (pg_stat_statements is not needed: xact and tuple counters
# of the database). Traffic goes to 127.0.0.1 only.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
users=${BENCH_WEBHOOK_USERS:-2000}
[[ "$users" =~ ^[0-9]+$ ]] && [ "$users" -ge 1 ] && [ "$users" -le 100000 ] ||
  { echo "webhook-rate: BENCH_WEBHOOK_USERS must be 1..100000" >&2; exit 2; }
target_dir=${CARGO_TARGET_DIR:-target}
[[ "$target_dir" == /* ]] || target_dir="$repo/$target_dir"
binary=${BENCH_BINARY:-$target_dir/release/tally}
[ -x "$binary" ] || { echo "webhook-rate: no binary at $binary" >&2; exit 2; }

scripts/postgres start 9>&- >/dev/null
port=${TALLY_PG_PORT:-25432}
db=tally_webhook_rate
psql_as() { psql -X -q -h 127.0.0.1 -p "$port" -U "$1" -d "$2" -v ON_ERROR_STOP=1 "${@:3}"; }
psql_as postgres postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
psql_as postgres postgres -c "CREATE DATABASE $db OWNER tally"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  psql_as postgres postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export TALLY_ENV=development TALLY_LOG__LEVEL=warn TALLY_AUTH__BCRYPT_COST=4
export TALLY_DATABASE__URL="postgres://tally@127.0.0.1:$port/$db" TALLY_HTTP__ADDR=127.0.0.1:0
unset RUST_LOG
"$binary" migrate >/dev/null
"$binary" seed --users "$users" --balance 1000 --currency USD --token-ttl 1h --out "$work/users.json" >/dev/null
printf 'rate-banker-password\n' | "$binary" user create --username rate_banker --full-name Rate \
  --email rate@example.com --role banker >/dev/null

"$binary" serve --no-migrate 2>"$work/tally.log" 9>&- &
pids+=($!)
url=""
for _ in $(seq 1 200); do
  url=$(grep -o 'serving on http://127\.0\.0\.1:[0-9]*' "$work/tally.log" | head -n 1 | sed 's/serving on //') || true
  [ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/tally.log" >&2; echo "webhook-rate: the server did not start" >&2; exit 1; }
python3 bench/webhook-receiver.py "$work/receiver.port" "$work/receiver.count" 9>&- &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
token=$(curl -fsS "$url/users/login" -H 'Content-Type: application/json' \
  -d '{"username": "rate_banker", "password": "rate-banker-password"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
newest() { curl -fsS "$url/events?after=9007199254740991" -H "Authorization: Bearer $token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["last_id"])'; }
# Wait until every seeded change is numbered.
events=0
for _ in $(seq 1 100); do
  events=$(newest)
  [ "$events" -ge $((2 * users)) ] && break
  sleep 0.1
done
webhook=$(curl -fsS "$url/webhooks" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"url\": \"http://127.0.0.1:$(cat "$work/receiver.port")/hook\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
counters() { psql_as tally "$db" -tA -F ' ' -c "SELECT xact_commit + xact_rollback, tup_returned + tup_fetched
  FROM pg_stat_database WHERE datname = current_database()"; }
read -r xacts_before tuples_before < <(counters)
start=$(date +%s.%N)
psql_as tally "$db" -c "UPDATE webhooks SET delivered_id = 0 WHERE id = $webhook"
delivered=0
for _ in $(seq 1 3000); do
  delivered=$(psql_as tally "$db" -tAc "SELECT delivered_id FROM webhooks WHERE id = $webhook")
  [ "$delivered" -ge "$events" ] && break
  sleep 0.1
done
end=$(date +%s.%N)
read -r xacts_after tuples_after < <(counters)
python3 - "$events" "$delivered" "$start" "$end" "$((xacts_after - xacts_before))" "$((tuples_after - tuples_before))" <<'EOF'
import sys
events, delivered = int(sys.argv[1]), int(sys.argv[2])
seconds = float(sys.argv[4]) - float(sys.argv[3])
xacts, tuples = int(sys.argv[5]), int(sys.argv[6])
print(f"webhook-rate: {delivered} of {events} events delivered in {seconds:.1f} s: "
      f"{delivered / seconds:.0f} events/s; {xacts / max(delivered, 1):.2f} transactions "
      f"and {tuples / max(delivered, 1):.1f} tuples read in PostgreSQL per event (this script's "
      f"polling included)")
EOF
