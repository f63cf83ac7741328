#!/usr/bin/env bash
# What the change stream's consumers cost per event, measured on a backlog rather than beside a
# load (on a shared machine a throughput ratio measures the neighbours): one webhook delivering
# to a local keep-alive receiver (bench/webhook-receiver.py), one event per POST, and `tally
# publish` sending the same events to the local RabbitMQ (scripts/rabbitmq, port
# TALLY_RABBITMQ_PORT), to an exchange with no queue bound (RabbitMQ's storage is not Tally's).
#
#   bench/consumer-cost.sh            (TALLY_PG_PORT: the private PostgreSQL)
#
# Recreates the database tally_consumer_cost (never the dev database), seeds BENCH_COST_USERS
# users (default 5,000: an account.opened and a deposit's transfer.posted each), starts `tally
# serve` (BENCH_BINARY, default the release binary of CARGO_TARGET_DIR or target). Then, each
# within 300 s: makes a webhook, rewinds its cursor to 0 and times the cursor to the newest
# event; runs `tally publish` from 0 until its cursor is there. For each it prints events/s, the
# CPU seconds per 1,000 events of the consumer's process (the server's, for the webhook) and of
# PostgreSQL (bench/cpu.py), and PostgreSQL transactions per event; both include what an idle
# server costs meanwhile (the numbering's ticks), printed first. Traffic stays on 127.0.0.1.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
say() { echo "consumer-cost: $*"; }
users=${BENCH_COST_USERS:-5000}
[[ "$users" =~ ^[0-9]+$ ]] && [ "$users" -ge 1 ] && [ "$users" -le 100000 ] ||
  { say "BENCH_COST_USERS must be 1..100000" >&2; exit 2; }
target_dir=${CARGO_TARGET_DIR:-target}
[[ "$target_dir" == /* ]] || target_dir="$repo/$target_dir"
binary=${BENCH_BINARY:-$target_dir/release/tally}
[ -x "$binary" ] || { say "no binary at $binary" >&2; exit 2; }

scripts/postgres start 9>&- >/dev/null
port=${TALLY_PG_PORT:-25432}
postmaster=$(head -n 1 "$repo/.tally/pg/postmaster.pid")
db=tally_consumer_cost
psql_as() { psql -X -q -h 127.0.0.1 -p "$port" -U "$1" -d "$2" -v ON_ERROR_STOP=1 "${@:3}"; }
psql_as postgres postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)"
psql_as postgres postgres -c "CREATE DATABASE $db OWNER tally"
scripts/rabbitmq start 9>&- >/dev/null
amqp_url=$(scripts/rabbitmq url)

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
printf 'cost-banker-password\n' | "$binary" user create --username cost_banker --full-name Cost \
  --email cost@example.com --role banker >/dev/null

"$binary" serve --no-migrate 2>"$work/tally.log" 9>&- &
tally_pid=$!
pids+=("$tally_pid")
url=""
for _ in $(seq 1 200); do
  url=$(grep -o 'serving on http://127\.0\.0\.1:[0-9]*' "$work/tally.log" | head -n 1 | sed 's/serving on //') || true
  [ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  url=""
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/tally.log" >&2; say "the server did not start" >&2; exit 1; }
python3 bench/webhook-receiver.py "$work/receiver.port" "$work/receiver.count" 9>&- &
pids+=($!)
for _ in $(seq 1 50); do [ -s "$work/receiver.port" ] && break; sleep 0.1; done
token=$(curl -fsS "$url/users/login" -H 'Content-Type: application/json' \
  -d '{"username": "cost_banker", "password": "cost-banker-password"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
newest() { curl -fsS "$url/events?after=9007199254740991" -H "Authorization: Bearer $token" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["last_id"])'; }
events=0
for _ in $(seq 1 300); do
  events=$(newest)
  [ "$events" -ge $((2 * users)) ] && break
  sleep 0.1
done

# "PID_CPU_S POSTGRES_CPU_S POSTGRES_TRANSACTIONS" now.
sample() {
  local cpu xacts
  cpu=$(python3 bench/cpu.py --pid "$1" --postmaster "$postmaster" |
    python3 -c "import json, sys; c = json.load(sys.stdin); print(c['pids']['$1'], c['postgres'])")
  xacts=$(psql_as tally "$db" -tAc "SELECT xact_commit + xact_rollback FROM pg_stat_database
    WHERE datname = current_database()")
  echo "$cpu $xacts"
}
# report NAME EVENTS SECONDS BEFORE(3) AFTER(3)
report() {
  python3 - "$@" <<'EOF'
import sys
name, events, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
before, after = [float(v) for v in sys.argv[4:7]], [float(v) for v in sys.argv[7:10]]
idle = [float(v) for v in sys.argv[10:13]]
process, postgres, xacts = (a - b for a, b in zip(after, before))
# What an idle server would have cost meanwhile (its process only when it is the consumer).
net = [process - idle[0] * seconds * (name.startswith("webhook")), postgres - idle[1] * seconds,
       xacts - idle[2] * seconds]
per_k = 1000 / max(events, 1)
print(f"consumer-cost: {name}: {events} events in {seconds:.1f} s, {events / seconds:.0f} events/s; "
      f"CPU s per 1,000 events: {process * per_k:.3f} its process, {postgres * per_k:.3f} "
      f"PostgreSQL; {xacts / max(events, 1):.3f} PostgreSQL transactions per event; net of an "
      f"idle server: {net[0] * per_k:.3f}, {net[1] * per_k:.3f}, {net[2] / max(events, 1):.3f}")
EOF
}
seconds_since() { python3 -c "import sys, time; print(time.time() - float(sys.argv[1]))" "$1"; }

read -r -a before < <(sample "$tally_pid")
sleep 5
read -r -a after < <(sample "$tally_pid")
read -r -a idle < <(python3 - "${before[@]}" "${after[@]}" <<'EOF'
import sys
b, a = [float(v) for v in sys.argv[1:4]], [float(v) for v in sys.argv[4:7]]
print(" ".join(f"{(x - y) / 5:.4f}" for x, y in zip(a, b)))
EOF
)
say "an idle server: ${idle[0]} CPU s/s Tally, ${idle[1]} PostgreSQL, ${idle[2]} transactions/s"

# The webhook, from the start of the stream.
webhook=$(curl -fsS "$url/webhooks" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"url\": \"http://127.0.0.1:$(cat "$work/receiver.port")/hook\"}" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
read -r -a before < <(sample "$tally_pid")
start=$(date +%s.%N)
psql_as tally "$db" -c "UPDATE webhooks SET delivered_id = 0 WHERE id = $webhook"
delivered=0
for _ in $(seq 1 3000); do
  delivered=$(psql_as tally "$db" -tAc "SELECT delivered_id FROM webhooks WHERE id = $webhook")
  [ "$delivered" -ge "$events" ] && break
  sleep 0.1
done
seconds=$(seconds_since "$start")
read -r -a after < <(sample "$tally_pid")
curl -fsS -X DELETE "$url/webhooks/$webhook" -H "Authorization: Bearer $token" >/dev/null
report "webhook (tally serve)" "$delivered" "$seconds" "${before[@]}" "${after[@]}" "${idle[@]}"

# The publisher, from the start of the stream.
exchange=tally.cost.events
"$binary" publish --amqp "$amqp_url" --exchange "$exchange" 2>"$work/publish.log" 9>&- &
publisher=$!
pids+=("$publisher")
read -r -a before < <(sample "$publisher")
start=$(date +%s.%N)
published=0
for _ in $(seq 1 3000); do
  published=$(psql_as tally "$db" -tAc "SELECT COALESCE(max(published_id), 0) FROM publisher_cursors
    WHERE exchange = '$exchange'")
  [ "$published" -ge "$events" ] && break
  sleep 0.1
done
seconds=$(seconds_since "$start")
read -r -a after < <(sample "$publisher")
report "publisher (tally publish)" "$published" "$seconds" "${before[@]}" "${after[@]}" "${idle[@]}"
