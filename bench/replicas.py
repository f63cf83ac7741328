#!/usr/bin/env python3
"""Where two Tally replicas on one PostgreSQL lose their throughput, and what synchronous
replication costs per transfer. Run through bench/replicas.sh, which sets everything up.

    bench/replicas.py replicas RUN_DIR URL_A URL_B DB_URL USERS_TSV POSTMASTER_PID PID_A PID_B
    bench/replicas.py syncrep RUN_DIR URL_SINGLE SINGLE_DB_URL SINGLE_TSV SINGLE_POSTMASTER \
        SINGLE_PID URL_CLUSTER CLUSTER_DB_URL CLUSTER_TSV CLUSTER_POSTMASTERS(a,b,c) CLUSTER_PID \
        HAPROXY_PID

replicas: the same total clients (BENCH_CLIENTS, default 64) POST /transfers for BENCH_DURATION
seconds (default 15) through one replica (arm "one", wrk -t2 -cN on A) or split over two
(arm "two", wrk -t1 -cN/2 on each of A and B); both replicas run in both arms. For uniform and
hot-10 traffic, arms alternate, BENCH_REPEATS times (default 2).

syncrep: one replica, the same clients, uniform traffic, against a single PostgreSQL (arm
"single") and against the cluster's write port (arm "cluster": HAProxy to the leader, one
synchronous standby, one asynchronous), alternating, BENCH_REPEATS times.

Each run measures: transfers committed (rows counted in PostgreSQL, not HTTP answers), wrk's
latency percentiles, the CPU seconds of the Tally processes, of PostgreSQL (every process of
each postmaster given, reaped children included) and of HAProxy, read from /proc; and, every
100 ms, what each of the database's active backends is doing (pg_stat_activity): on CPU (no
wait event), waiting for a row lock (Lock), for synchronous replication (IPC SyncRep), for
another wait (LWLock, IO, other IPC), or idle in a transaction (waiting for Tally's next
message while holding its locks). Prints one JSON line per run and a markdown table at the
end; everything lands in RUN_DIR. Traffic goes to 127.0.0.1 only.
"""

import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu  # noqa: E402  (bench/cpu.py: /proc counters)

DURATION_S = int(os.environ.get("BENCH_DURATION", "15"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "64"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "2"))
SAMPLE_INTERVAL_S = 0.1
assert 1 <= DURATION_S <= 120 and 2 <= CLIENTS <= 1024 and CLIENTS % 2 == 0 and 1 <= REPEATS <= 5
HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "wrk", "transfers.lua")

# pg_stat_activity every 100 ms, one line per backend of the database: state and wait.
SAMPLE_SQL = """SELECT state, coalesce(wait_event_type, ''), coalesce(wait_event, ''),
  left(regexp_replace(query, '\\s+', ' ', 'g'), 40)
FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
  AND backend_type = 'client backend' AND state IN ('active', 'idle in transaction')"""


def loopback(url):
    assert re.match(r"^http://127\.0\.0\.1:\d+$", url), f"loopback only: {url}"
    return url


def committed(db_url):
    out = subprocess.run(["psql", "-X", "-tA", db_url, "-c",
                          "SELECT count(*) FROM transfers WHERE from_balance_after IS NOT NULL"],
                         check=True, capture_output=True, text=True).stdout
    return int(out.strip())


def settled(db_url):
    """The committed count once it stops moving (requests wrk abandoned may still commit)."""
    previous = committed(db_url)
    for _ in range(20):
        time.sleep(0.25)
        current = committed(db_url)
        if current == previous:
            break
        previous = current
    return previous


def process_seconds(pid):
    fields = cpu.stat_fields(pid)
    return 0.0 if fields is None else cpu.own_seconds(fields)


def sampler(db_url, seconds):
    """psql's \\watch, every 100 ms for `seconds`: one line per busy backend per sample."""
    script = SAMPLE_SQL.replace("\n", " ") + f" \\watch {SAMPLE_INTERVAL_S}\n"
    return subprocess.Popen(["timeout", str(seconds), "psql", "-X", "-tA", "-F", "|", db_url],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True), script


# The journal's statements (actors/src/journal_sql.rs, and its BEGIN and COMMIT): samples of
# other statements (event numbering, the expiry sweep, account loads) are counted apart.
JOURNAL_PREFIXES = ("BEGIN", "COMMIT", "ROLLBACK", "SELECT id FROM accounts WHERE id = ANY",
                    "UPDATE accounts", "SELECT nextval('transfers_id_seq')", "INSERT INTO transfers",
                    "WITH", "INSERT INTO idempotency_keys")


def classify(lines):
    counts = {"cpu": 0, "lock": 0, "syncrep": 0, "other_wait": 0, "idle_in_transaction": 0,
              "not_journal": 0}
    waits = {}
    for line in lines:
        parts = line.split("|", 3)
        if len(parts) != 4:
            continue
        state, kind, event, query = parts
        if not query.lstrip().startswith(JOURNAL_PREFIXES):
            counts["not_journal"] += 1
            continue
        if state == "idle in transaction":
            counts["idle_in_transaction"] += 1
        elif kind == "":
            counts["cpu"] += 1
        elif kind == "Lock":
            counts["lock"] += 1
        elif kind == "IPC" and event == "SyncRep":
            counts["syncrep"] += 1
        else:
            counts["other_wait"] += 1
        if kind:
            waits[f"{kind}:{event}"] = waits.get(f"{kind}:{event}", 0) + 1
    return counts, waits


def metric_sum(urls, name):
    """The sum over replicas of one counter (or a histogram's _sum/_count) from /metrics."""
    total = 0.0
    for url in urls:
        text = subprocess.run(["curl", "-fsS", f"{loopback(url)}/metrics"], capture_output=True,
                              text=True).stdout
        total += sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(name + " "))
    return total


def wrk_command(url, threads, clients, tsv, scenario):
    return ["wrk", f"-t{threads}", f"-c{clients}", f"-d{DURATION_S}s", "--latency", "-s", LUA,
            loopback(url), "--", tsv, scenario]


def wrk_result(text):
    line = next(l for l in text.splitlines() if l.startswith("WRK_RESULT "))
    return json.loads(line[len("WRK_RESULT "):])


def admin_url(db_url):
    """The same server as the superuser, for CHECKPOINT."""
    return re.sub(r"^postgres://[^@]+@([^/]+)/.*$", r"postgres://postgres@\1/postgres", db_url)


def run(name, loads, db_url, tally_pids, postmasters, haproxy_pid, run_dir):
    """loads: [(url, threads, clients, tsv, scenario)], started together."""
    # The same start for every run: no checkpoint of the previous run's writes lands in this one.
    subprocess.run(["psql", "-X", "-q", admin_url(db_url), "-c", "CHECKPOINT"], check=True)
    before_rows = committed(db_url)
    before_tally = sum(process_seconds(p) for p in tally_pids)
    before_pg = [cpu.postgres_seconds(p) for p in postmasters]
    before_haproxy = process_seconds(haproxy_pid) if haproxy_pid else 0.0
    urls = sorted({load[0] for load in loads})
    before_stale = metric_sum(urls, "tally_stale_retries_total")
    before_batches = (metric_sum(urls, "tally_journal_batch_size_sum"),
                      metric_sum(urls, "tally_journal_batch_size_count"))
    before_machine = cpu.machine_seconds()
    started = time.monotonic()
    watch, script = sampler(db_url, DURATION_S)
    wrks = [subprocess.Popen(wrk_command(*load), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True) for load in loads]
    watch_out, _ = watch.communicate(script)
    outputs = [w.communicate()[0] for w in wrks]
    wall_s = time.monotonic() - started
    rows = settled(db_url) - before_rows
    tally_s = sum(process_seconds(p) for p in tally_pids) - before_tally
    pg_s = [cpu.postgres_seconds(p) - b for p, b in zip(postmasters, before_pg)]
    haproxy_s = (process_seconds(haproxy_pid) - before_haproxy) if haproxy_pid else 0.0
    machine = cpu.machine_seconds()
    machine_busy = (machine["busy"] - before_machine["busy"]) / (machine["total"] - before_machine["total"])
    stale = metric_sum(urls, "tally_stale_retries_total") - before_stale
    batch_items = metric_sum(urls, "tally_journal_batch_size_sum") - before_batches[0]
    batch_count = metric_sum(urls, "tally_journal_batch_size_count") - before_batches[1]
    with open(os.path.join(run_dir, f"{name}.wrk.txt"), "w") as out:
        out.write("\n".join(outputs))
    with open(os.path.join(run_dir, f"{name}.activity.txt"), "w") as out:
        out.write(watch_out)
    results = [wrk_result(o) for o in outputs]
    counts, waits = classify(watch_out.splitlines())
    busy = sum(counts.values())
    weight = lambda r: max(r["status_201"], 1)  # noqa: E731
    record = {
        "run": name,
        "transfers": rows,
        "rate_per_s": round(rows / DURATION_S),
        "status_5xx": sum(r["status_5xx"] for r in results),
        # Each generator's percentile, weighted by its answers (the two halves are alike).
        "p50_ms": round(sum(r["latency_us"]["p50"] * weight(r) for r in results)
                        / sum(weight(r) for r in results) / 1000, 2),
        "p99_ms": round(max(r["latency_us"]["p99"] for r in results) / 1000, 2),
        "tally_cpu_s": round(tally_s, 2),
        "postgres_cpu_s": [round(s, 2) for s in pg_s],
        "haproxy_cpu_s": round(haproxy_s, 2),
        "tally_cpu_us_per_transfer": round(tally_s / max(rows, 1) * 1e6),
        "postgres_cpu_us_per_transfer": round(sum(pg_s) / max(rows, 1) * 1e6),
        "machine_busy": round(machine_busy, 3),
        "stale_retries": int(stale),
        "mean_batch": round(batch_items / max(batch_count, 1), 1),
        "backend_samples": busy,
        "backend_share": {k: round(v / max(busy, 1), 3) for k, v in counts.items()},
        "waits": dict(sorted(waits.items(), key=lambda kv: -kv[1])[:8]),
        "wall_s": round(wall_s, 1),
    }
    print(json.dumps(record), flush=True)
    with open(os.path.join(run_dir, "runs.jsonl"), "a") as out:
        out.write(json.dumps(record) + "\n")
    return record


def warm(url, tsv):
    subprocess.run(["wrk", "-t1", "-c8", "-d3s", "-s", LUA, loopback(url), "--", tsv, "uniform"],
                   check=True, capture_output=True)


def replicas(argv):
    run_dir, url_a, url_b, db_url, tsv, postmaster, pid_a, pid_b = argv
    pids, postmasters = [int(pid_a), int(pid_b)], [int(postmaster)]
    warm(url_a, tsv)
    warm(url_b, tsv)
    table = []
    for scenario in ("uniform", "hot"):
        for repeat in range(1, REPEATS + 1):
            for arm in ("one", "two"):
                loads = ([(url_a, 2, CLIENTS, tsv, scenario)] if arm == "one" else
                         [(url_a, 1, CLIENTS // 2, tsv, scenario), (url_b, 1, CLIENTS // 2, tsv, scenario)])
                record = run(f"{scenario}-{arm}-{repeat}", loads, db_url, pids, postmasters, None, run_dir)
                table.append((scenario, arm, repeat, record))
    print_table(table, "replicas")


def syncrep(argv):
    (run_dir, url_single, single_db, single_tsv, single_postmaster, single_pid,
     url_cluster, cluster_db, cluster_tsv, cluster_postmasters, cluster_pid, haproxy_pid) = argv
    warm(url_single, single_tsv)
    warm(url_cluster, cluster_tsv)
    table = []
    for repeat in range(1, REPEATS + 1):
        for arm in ("single", "cluster"):
            if arm == "single":
                record = run(f"uniform-single-{repeat}", [(url_single, 2, CLIENTS, single_tsv, "uniform")],
                             single_db, [int(single_pid)], [int(single_postmaster)], None, run_dir)
            else:
                record = run(f"uniform-cluster-{repeat}", [(url_cluster, 2, CLIENTS, cluster_tsv, "uniform")],
                             cluster_db, [int(cluster_pid)],
                             [int(p) for p in cluster_postmasters.split(",")], int(haproxy_pid), run_dir)
            table.append(("uniform", arm, repeat, record))
    print_table(table, "syncrep")


def print_table(table, kind):
    print(f"\n| traffic | arm | run | transfers/s | p50 ms | p99 ms | Tally CPU µs/transfer | "
          f"PostgreSQL CPU µs/transfer | backends on CPU | in Lock | in SyncRep | other waits | "
          f"idle in transaction | other statements | machine busy | stale retries | mean batch |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for scenario, arm, repeat, r in table:
        s = r["backend_share"]
        print(f"| {scenario} | {arm} | {repeat} | {r['rate_per_s']:,} | {r['p50_ms']} | {r['p99_ms']} | "
              f"{r['tally_cpu_us_per_transfer']} | {r['postgres_cpu_us_per_transfer']} | "
              f"{s['cpu']:.0%} | {s['lock']:.0%} | {s['syncrep']:.0%} | {s['other_wait']:.0%} | "
              f"{s['idle_in_transaction']:.0%} | {s['not_journal']:.0%} | {r['machine_busy']:.0%} | {r['stale_retries']} | "
              f"{r['mean_batch']} |")


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    {"replicas": replicas, "syncrep": syncrep}[mode](rest)
