#!/usr/bin/env bash
# What the change stream's consumers cost per event, measured on a backlog rather than beside a
# load (on a shared machine a throughput ratio measures the neighbours), per process:
#
# 1. one webhook delivering to a local receiver, one event per POST: nginx answering 204 on a
#    kept-alive connection (bench/webhook-receiver.sh), or with BENCH_RECEIVER=python the
#    Python receiver the bench used first (bench/webhook-receiver.py);
# 2. `tally publish` sending the same events to the local RabbitMQ (scripts/rabbitmq, port
#    TALLY_RABBITMQ_PORT) into a durable queue that the AMQP consumer drains
#    (examples/amqp_consume.rs; BENCH_AMQP_CONSUMER, default its release build when there is
#    one, else the debug one).
#
#   bench/consumer-cost.sh            (TALLY_PG_PORT: the private PostgreSQL)
#
# Recreates the database tally_consumer_cost (never the dev database), seeds BENCH_COST_USERS
# users (default 5,000: an account.opened and a deposit's transfer.posted each), starts `tally
# serve` (BENCH_BINARY, default the release binary of CARGO_TARGET_DIR or target). Then, each
# within 300 s: makes a webhook, rewinds its cursor to 0 and times the cursor to the newest
# event; runs `tally publish` from 0 until its cursor is there and the consumer has every event.
# For each it prints events/s, then CPU seconds per 1,000 events of every process that worked
# (bench/cpu.py): the server's (the webhook's share of it), the receiver, `tally publish`,
# RabbitMQ (beam.smp), the AMQP consumer and PostgreSQL, with what an idle server (and an idle
# RabbitMQ) costs meanwhile taken out, and PostgreSQL transactions per event; then the Tally
# side's sum in µs per event. Writes it all as JSON to BENCH_COST_OUT when set. With
# BENCH_COST_PERF=DIR, samples the server (webhook phase) and the publisher with `perf record`
# (cpu-clock, 1,999 Hz; its own cost lands in the CPU columns) and writes each one's flat
# profile, the top symbols by self time, to DIR/webhook.txt and DIR/publish.txt. Traffic stays
# on 127.0.0.1.
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
receiver_kind=${BENCH_RECEIVER:-nginx}
case "$receiver_kind" in
  nginx) bench/webhook-receiver.sh "$work/receiver" 9>&- >/dev/null 2>&1 & ;;
  python) mkdir -p "$work/receiver"
    python3 bench/webhook-receiver.py "$work/receiver/port" "$work/receiver/count" 9>&- & ;;
  *) say "BENCH_RECEIVER must be nginx or python" >&2; exit 2 ;;
esac
receiver_pid=$!
pids+=("$receiver_pid")
for _ in $(seq 1 50); do [ -s "$work/receiver/port" ] && break; sleep 0.1; done
receiver_url="http://127.0.0.1:$(cat "$work/receiver/port")/hook"
for _ in $(seq 1 50); do curl -fsS -o /dev/null -X POST "$receiver_url" 2>/dev/null && break; sleep 0.1; done
consumer_bin=${BENCH_AMQP_CONSUMER:-}
if [ -z "$consumer_bin" ]; then
  consumer_bin="$target_dir/release/examples/amqp_consume"
  [ -x "$consumer_bin" ] || consumer_bin="$target_dir/debug/examples/amqp_consume"
fi
[ -x "$consumer_bin" ] || { say "no AMQP consumer at $consumer_bin (cargo build --release --example amqp_consume)" >&2; exit 2; }
beam_pid=$(cat "$repo/.tally/rabbitmq-${TALLY_RABBITMQ_PORT:-25672}/rabbitmq.pid")
say "receiver: $receiver_kind (pid $receiver_pid); AMQP consumer: ${consumer_bin#"$target_dir"/}; RabbitMQ pid $beam_pid"
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

# sample FILE: CPU seconds of every process (bench/cpu.py) and PostgreSQL's transaction count.
sample() {
  local xacts
  xacts=$(psql_as tally "$db" -tAc "SELECT xact_commit + xact_rollback FROM pg_stat_database
    WHERE datname = current_database()")
  python3 bench/cpu.py --postmaster "$postmaster" |
    python3 -c "import json, sys; c = json.load(sys.stdin); c['xacts'] = $xacts; print(json.dumps(c))" >"$1"
}
seconds_since() { python3 -c "import sys, time; print(time.time() - float(sys.argv[1]))" "$1"; }
# wait_for WHAT SQL TARGET: polls SQL (one number) every 0.1 s until it reaches TARGET (300 s at most).
wait_for() {
  local value=0
  for _ in $(seq 1 3000); do
    value=$(psql_as tally "$db" -tAc "$2")
    [ "$value" -ge "$3" ] && return 0
    sleep 0.1
  done
  say "$1 reached $value of $3 in 300 s" >&2
  exit 1
}

# The seed's rows analysed and vacuumed now, so autovacuum does not land in a measurement.
psql_as postgres "$db" -c "VACUUM ANALYZE"
# The idle server, polled as the phases below poll (a psql connection every 0.1 s), so that
# taking it out also takes out the polling.
sample "$work/idle-before.json"
idle_start=$(date +%s.%N)
for _ in $(seq 1 50); do psql_as tally "$db" -tAc "SELECT 1" >/dev/null; sleep 0.1; done
idle_seconds=$(seconds_since "$idle_start")
sample "$work/idle-after.json"

# The webhook, from the start of the stream.
webhook=$(curl -fsS "$url/webhooks" -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d "{\"url\": \"$receiver_url\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
perf_dir=${BENCH_COST_PERF:-}
if [ -n "$perf_dir" ]; then mkdir -p "$perf_dir"; perf_dir=$(cd "$perf_dir" && pwd); fi
# perf_start NAME PID / perf_stop NAME: a flat profile of PID meanwhile, when BENCH_COST_PERF is set.
perf_start() {
  [ -n "$perf_dir" ] || return 0
  perf record -e cpu-clock -F 999 --call-graph dwarf,16384 -p "$2" -o "$work/$1.perf" >/dev/null 2>&1 9>&- &
  perf_pid=$!
  sleep 0.5
}
perf_stop() {
  [ -n "$perf_dir" ] || return 0
  kill -INT "$perf_pid"
  wait "$perf_pid" || true
  # Self time by shared object, self time by symbol, and time under each symbol (its callees'
  # included), the widest first.
  { perf report -i "$work/$1.perf" --no-children --sort dso --stdio -g none 2>/dev/null | grep '%' | head -n 12
    echo "# self"
    perf report -i "$work/$1.perf" --no-children --sort symbol --stdio -g none 2>/dev/null | grep '%' | head -n 40
    echo "# children"
    perf report -i "$work/$1.perf" --children --sort symbol --stdio -g none 2>/dev/null | grep '%' | head -n 120
  } | sed 's/  *$//' >"$perf_dir/$1.txt" || true
}

sample "$work/webhook-before.json"
perf_start webhook "$tally_pid"
start=$(date +%s.%N)
psql_as tally "$db" -c "UPDATE webhooks SET delivered_id = 0 WHERE id = $webhook"
wait_for "the webhook" "SELECT delivered_id FROM webhooks WHERE id = $webhook" "$events"
webhook_seconds=$(seconds_since "$start")
sample "$work/webhook-after.json"
perf_stop webhook
curl -fsS -X DELETE "$url/webhooks/$webhook" -H "Authorization: Bearer $token" >/dev/null

# The publisher, from the start of the stream, into a durable queue the consumer drains.
exchange=tally.cost.events
queue=tally-cost-events
/usr/lib/rabbitmq/bin/rabbitmqctl -q -n "tally${TALLY_RABBITMQ_PORT:-25672}@localhost" \
  delete_queue "$queue" >/dev/null 2>&1 || true
"$consumer_bin" "$amqp_url" "$exchange" "$queue" "$work/amqp.txt" 2>"$work/amqp.log" 9>&- &
consumer_pid=$!
pids+=("$consumer_pid")
for _ in $(seq 1 100); do [ -e "$work/amqp.txt.ready" ] && break; sleep 0.1; done
[ -e "$work/amqp.txt.ready" ] || { cat "$work/amqp.log" >&2; say "the AMQP consumer did not start" >&2; exit 1; }
sample "$work/publish-before.json"
start=$(date +%s.%N)
"$binary" publish --amqp "$amqp_url" --exchange "$exchange" 2>"$work/publish.log" 9>&- &
publisher_pid=$!
pids+=("$publisher_pid")
perf_start publish "$publisher_pid"
wait_for "the publisher" "SELECT COALESCE(max(published_id), 0) FROM publisher_cursors
  WHERE exchange = '$exchange'" "$events"
consumed=0
for _ in $(seq 1 3000); do
  consumed=$(wc -l <"$work/amqp.txt")
  [ "$consumed" -ge "$events" ] && break
  sleep 0.1
done
[ "$consumed" -ge "$events" ] || { say "the AMQP consumer got $consumed of $events events in 300 s" >&2; exit 1; }
publish_seconds=$(seconds_since "$start")
sample "$work/publish-after.json"
perf_stop publish

python3 - "$work" "$events" "$webhook_seconds" "$publish_seconds" "$tally_pid" "$receiver_pid" \
  "$publisher_pid" "$beam_pid" "$consumer_pid" "$receiver_kind" "${BENCH_COST_OUT:-}" "$idle_seconds" <<'EOF'
import json, sys
work, events = sys.argv[1], int(sys.argv[2])
idle_s = float(sys.argv[12])
webhook_s, publish_s = float(sys.argv[3]), float(sys.argv[4])
tally, receiver, publisher, beam, consumer = sys.argv[5:10]
receiver_kind, out = sys.argv[10], sys.argv[11]
load = lambda name: json.load(open(f"{work}/{name}.json"))
def cpu(snapshot, pid):
    return snapshot["processes"].get(pid, ["", 0.0])[1]
def deltas(phase):
    before, after = load(f"{phase}-before"), load(f"{phase}-after")
    d = {pid: cpu(after, pid) - cpu(before, pid) for pid in (tally, receiver, publisher, beam, consumer)}
    d["postgres"] = after["postgres"] - before["postgres"]
    d["xacts"] = after["xacts"] - before["xacts"]
    return d
idle = {k: v / idle_s for k, v in deltas("idle").items()}  # per second
webhook, publish = deltas("webhook"), deltas("publish")
def net(d, key, seconds):
    return d[key] - idle[key] * seconds
per_k = 1000 / events
rows = [
    ("webhook", "tally serve (net of idle)", net(webhook, tally, webhook_s)),
    ("webhook", f"receiver ({receiver_kind})", webhook[receiver]),
    ("webhook", "PostgreSQL (net of idle)", net(webhook, "postgres", webhook_s)),
    ("publisher", "tally publish", publish[publisher]),
    ("publisher", "RabbitMQ, beam.smp (net of idle)", net(publish, beam, publish_s)),
    ("publisher", "AMQP consumer", publish[consumer]),
    ("publisher", "PostgreSQL (net of idle)", net(publish, "postgres", publish_s)),
]
print(f"consumer-cost: {events} events; an idle server: {idle[tally]:.4f} CPU s/s Tally, "
      f"{idle['postgres']:.4f} PostgreSQL, {idle[beam]:.4f} RabbitMQ, {idle['xacts']:.1f} transactions/s")
print(f"consumer-cost: webhook {events / webhook_s:.0f} events/s, "
      f"{net(webhook, 'xacts', webhook_s) / events:.3f} PostgreSQL transactions per event; "
      f"publisher + consumer {events / publish_s:.0f} events/s, "
      f"{net(publish, 'xacts', publish_s) / events:.3f} transactions per event")
print("consumer-cost: | consumer | process | CPU s per 1,000 events | µs per event |")
for consumer_name, process, seconds in rows:
    print(f"consumer-cost: | {consumer_name} | {process} | {seconds * per_k:.4f} | {seconds * 1e6 / events:.1f} |")
tally_side = rows[0][2] + rows[2][2] + rows[3][2] + rows[6][2]
print(f"consumer-cost: Tally's side (serve's webhook + publish + PostgreSQL for both): "
      f"{tally_side * 1e6 / events:.1f} µs per event (target: at most 40)")
if out:
    json.dump({"events": events, "receiver": receiver_kind,
               "webhook_events_per_s": events / webhook_s, "publisher_events_per_s": events / publish_s,
               "us_per_event": {f"{c}: {p}": s * 1e6 / events for c, p, s in rows},
               "tally_side_us_per_event": tally_side * 1e6 / events}, open(out, "w"), indent=1)
EOF
