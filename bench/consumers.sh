# The cost of the change stream's consumers, sourced by scripts/bench when BENCH_CONSUMERS=1
# (with the server started and the users seeded; nothing else of the bench runs then).
#
# BENCH_CONSUMERS_REPEATS times (default 2), the uniform scenario at BENCH_CONSUMERS_CLIENTS
# (default 64) for BENCH_DURATION seconds: once alone, then once with a webhook delivering to a
# local receiver (nginx answering 204, bench/webhook-receiver.sh) and `tally publish` sending
# every event to the local RabbitMQ (scripts/rabbitmq, port TALLY_RABBITMQ_PORT), into a durable
# queue a consumer drains (examples/amqp_consume.rs, built in release). Before each run with
# them, both have caught up with the newest event, so each run measures the steady state, not a
# backlog. Prints, per pair, the transfers per second of each run (committed rows, as the bench
# counts them), how far behind each consumer ended, the CPU seconds of every process, and two
# ratios: the raw one (with ÷ alone, everything sharing these cores) and Tally's own (transfers
# per CPU-second of Tally and PostgreSQL, `tally publish` included, with ÷ alone: the rate were
# the broker and the receivers on machines of their own, as in the compose stack and
# Kubernetes); writes them to consumers.json in the run's directory.

consumers_clients=${BENCH_CONSUMERS_CLIENTS:-64}
consumers_repeats=${BENCH_CONSUMERS_REPEATS:-2}
is_int "$consumers_clients" 1 1024 || die "BENCH_CONSUMERS_CLIENTS must be 1..1024"
is_int "$consumers_repeats" 1 10 || die "BENCH_CONSUMERS_REPEATS must be 1..10"
consumers_exchange=tally.bench.events
consumers_queue=tally-bench-events
consumers_dir="$run_dir/consumers"
mkdir -p "$consumers_dir"

# In release, as a deployment's consumer would be (a debug one cost more CPU than RabbitMQ).
say "consumers: building the RabbitMQ consumer (examples/amqp_consume.rs, release)"
cargo build --locked --quiet --release --example amqp_consume
amqp_consumer_bin="$target_dir/release/examples/amqp_consume"
scripts/rabbitmq start
amqp_url=$(scripts/rabbitmq url)
/usr/lib/rabbitmq/bin/rabbitmqctl -q -n "tally${TALLY_RABBITMQ_PORT:-25672}@localhost" \
  delete_queue "$consumers_queue" >/dev/null 2>&1 || true

printf 'bench-banker-password\n' | "$binary" user create --username bench_banker --full-name Bench \
  --email bench@example.com --role banker --if-missing >/dev/null
banker_token=$(curl -fsS "$url/users/login" -H 'Content-Type: application/json' \
  -d '{"username": "bench_banker", "password": "bench-banker-password"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
api_get() { curl -fsS "$url$1" -H "Authorization: Bearer $banker_token"; }
newest_event() { api_get "/events?after=9007199254740991" | python3 -c 'import json, sys; print(json.load(sys.stdin)["last_id"])'; }
published_id() { psql_as tally "$bench_db" -tAc "SELECT COALESCE(max(published_id), 0) FROM publisher_cursors WHERE exchange = '$consumers_exchange'"; }

consumer_pids=()
receiver_pid="" amqp_pid="" publisher_pid=""
stop_consumers() {
  for pid in "${consumer_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  consumer_pids=()
  if [ -n "${webhook_id:-}" ]; then
    curl -fsS -X DELETE "$url/webhooks/$webhook_id" -H "Authorization: Bearer $banker_token" >/dev/null || true
    webhook_id=""
  fi
}
consumers_cleanup() { stop_consumers; cleanup; }
trap consumers_cleanup EXIT

# start_consumers RUN: the receiver, the webhook (it starts after the newest event), the queue's
# consumer and the publisher; returns once the publisher has caught up.
start_consumers() {
  "$repo/bench/webhook-receiver.sh" "$consumers_dir/$1-receiver" >/dev/null 2>&1 9>&- &
  receiver_pid=$!
  consumer_pids+=("$receiver_pid")
  for _ in $(seq 1 50); do [ -s "$consumers_dir/$1-receiver/port" ] && break; sleep 0.1; done
  local receiver_port
  receiver_port=$(cat "$consumers_dir/$1-receiver/port")
  for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$receiver_port/count" 2>/dev/null && break; sleep 0.1; done
  "$amqp_consumer_bin" "$amqp_url" "$consumers_exchange" "$consumers_queue" "$consumers_dir/$1-amqp.txt" \
    2>"$consumers_dir/$1-amqp.log" 9>&- &
  amqp_pid=$!
  consumer_pids+=("$amqp_pid")
  for _ in $(seq 1 100); do [ -e "$consumers_dir/$1-amqp.txt.ready" ] && break; sleep 0.1; done
  "$binary" publish --amqp "$amqp_url" --exchange "$consumers_exchange" 2>"$consumers_dir/$1-publish.log" 9>&- &
  publisher_pid=$!
  consumer_pids+=("$publisher_pid")
  webhook_id=$(curl -fsS "$url/webhooks" -H "Authorization: Bearer $banker_token" -H 'Content-Type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:$receiver_port/hook\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  local newest
  newest=$(newest_event)
  for _ in $(seq 1 1200); do
    [ "$(published_id)" -ge "$newest" ] && return 0
    sleep 0.25
  done
  die "consumers: the publisher did not catch up with event $newest in 300 s"
}

# How far behind the newest event the publisher and the webhook are, in events.
consumer_lag() {
  local newest delivered
  newest=$(newest_event)
  delivered=$(api_get "/webhooks/$webhook_id" | python3 -c 'import json, sys; print(json.load(sys.stdin)["delivered_id"])')
  echo "$((newest - $(published_id))) $((newest - delivered))"
}

# CPU seconds of a run: "TALLY PUBLISH POSTGRES RABBITMQ AMQP_CONSUMER RECEIVER" (serve, `tally
# publish`, PostgreSQL, beam.smp, the queue's consumer, nginx; 0 for those not running).
run_cpu() { # RUN [PUBLISHER_PID AMQP_PID RECEIVER_PID]
  python3 - "$run_dir/$1" "$tally_pid" "${2:-0}" "${3:-0}" "${4:-0}" <<'EOF'
import sys, json
run, tally, publisher, amqp, receiver = sys.argv[1:6]
before, after = (json.load(open(f"{run}/cpu_{when}.json")) for when in ("before", "after"))
def delta(pid):
    return after["processes"].get(pid, ["", 0])[1] - before["processes"].get(pid, ["", 0])[1]
beam = sum(delta(pid) for pid, (name, _) in after["processes"].items() if name == "beam.smp")
values = [delta(tally), delta(publisher), after["postgres"] - before["postgres"], beam,
          delta(amqp), delta(receiver)]
print(" ".join(f"{value:.2f}" for value in values))
EOF
}

# CPU seconds as JSON: serve, publish, PostgreSQL, RabbitMQ, AMQP consumer, receiver.
cpu_json() { printf '{"serve": %s, "publish": %s, "postgres": %s, "rabbitmq": %s, "amqp_consumer": %s, "receiver": %s}' "$@"; }

# Committed transfers per second of a run the bench measured.
run_rate() {
  python3 - "$run_dir/$1" "$duration" <<'EOF'
import sys
run, seconds = sys.argv[1], float(sys.argv[2])
before = int(open(f"{run}/rows_before.txt").read().split()[0])
after = int(open(f"{run}/rows_after.txt").read().split()[0])
print(f"{(after - before) / seconds:.0f}")
EOF
}

say "consumers: uniform, $consumers_clients clients, $duration s per run, $consumers_repeats pairs"
run_tally consumers-warmup uniform 16 "$warmup" true
results=()
for repeat in $(seq 1 "$consumers_repeats"); do
  run_tally "alone-$repeat" uniform "$consumers_clients" "$duration" false
  alone=$(run_rate "alone-$repeat")
  start_consumers "with-$repeat"
  run_tally "with-$repeat" uniform "$consumers_clients" "$duration" false
  with=$(run_rate "with-$repeat")
  read -r publisher_lag webhook_lag < <(consumer_lag)
  read -r -a alone_cpu < <(run_cpu "alone-$repeat")
  read -r -a with_cpu < <(run_cpu "with-$repeat" "$publisher_pid" "$amqp_pid" "$receiver_pid")
  stop_consumers
  # The raw ratio, and Tally's own: transfers per CPU-second of serve + publish + PostgreSQL.
  read -r raw_ratio own_ratio alone_per_cpu_s with_per_cpu_s < <(python3 - "$alone" "$with" \
    "${alone_cpu[@]}" "${with_cpu[@]}" <<'EOF'
import sys
alone, with_ = float(sys.argv[1]), float(sys.argv[2])
a, w = [float(v) for v in sys.argv[3:9]], [float(v) for v in sys.argv[9:15]]
alone_per_cpu_s = alone / max(a[0] + a[1] + a[2], 0.01)
with_per_cpu_s = with_ / max(w[0] + w[1] + w[2], 0.01)
print(f"{with_ / alone:.3f} {with_per_cpu_s / alone_per_cpu_s:.3f} {alone_per_cpu_s:.0f} {with_per_cpu_s:.0f}")
EOF
  )
  say "consumers: pair $repeat: CPU s alone: serve ${alone_cpu[0]}, PostgreSQL ${alone_cpu[2]}; with: serve ${with_cpu[0]}, publish ${with_cpu[1]}, PostgreSQL ${with_cpu[2]}, RabbitMQ ${with_cpu[3]}, AMQP consumer ${with_cpu[4]}, receiver ${with_cpu[5]}"
  say "consumers: pair $repeat: alone $alone transfers/s, with a webhook and the publisher $with/s: raw ratio $raw_ratio (all on these cores); Tally's own ratio $own_ratio ($alone_per_cpu_s and $with_per_cpu_s transfers per CPU-second of Tally + PostgreSQL); at the end the publisher was $publisher_lag events behind, the webhook $webhook_lag"
  results+=("{\"repeat\": $repeat, \"alone_per_s\": $alone, \"with_per_s\": $with, \"raw_ratio\": $raw_ratio, \"tally_own_ratio\": $own_ratio, \"alone_transfers_per_tally_cpu_s\": $alone_per_cpu_s, \"with_transfers_per_tally_cpu_s\": $with_per_cpu_s, \"publisher_lag_events\": $publisher_lag, \"webhook_lag_events\": $webhook_lag, \"cpu_s\": {\"alone\": $(cpu_json "${alone_cpu[@]}"), \"with\": $(cpu_json "${with_cpu[@]}")}}")
done
(IFS=,; echo "{\"clients\": $consumers_clients, \"duration_s\": $duration, \"pairs\": [${results[*]}]}") >"$run_dir/consumers.json"
say "consumers: wrote ${run_dir#"$repo"/}/consumers.json (target: with / alone >= 0.90; raw_ratio shares these cores with RabbitMQ and the receivers, tally_own_ratio counts Tally's and PostgreSQL's CPU only)"
