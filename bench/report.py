#!/usr/bin/env python3
"""Turns one scripts/bench run directory into the results table, results.json and results.md.

    bench/report.py RUN_DIR OUT_DIR

    bench/report.py executables CARGO_JSON          (the engine and replay bench binaries)
    bench/report.py replay-points RUN_DIR SCENARIOS BATCHES WRITERS HOT_ACCOUNTS

RUN_DIR holds one folder per measured run, named SYSTEM-SCENARIO-cN (SYSTEM: tally, classic,
ordered, pending, batch), each with meta.json, the generator's output (wrk.txt or pgbench.txt),
time.txt (/usr/bin/time: elapsed, user and system seconds of the generator), cpu_before.json and
cpu_after.json (bench/cpu.py), and for Tally metrics_before.txt and metrics_after.txt (its
/metrics) and rows_before.txt and rows_after.txt (rows of its transfers table: with legs, holds,
postings). pgbench's per-transaction logs (pgbench_log.*) give its percentiles. engine.txt
(ENGINE_RESULT lines of `cargo bench --bench engine`) and replay.txt (REPLAY_RESULT lines of
`cargo bench --bench replay`) give the engine alone and the raw rate of the journal's write shape.
No third-party modules.
"""

import json
import math
import os
import re
import sys

SYSTEMS = [
    ("tally", "Tally (HTTP, wrk)"),
    ("classic", "row-lock classic (pgbench)"),
    ("ordered", "row-lock, updates first (pgbench)"),
]
# The performance targets the benchmark checks (the write-path, pending and batch issues).
TARGETS = {
    "ratio_c16": 1.2,
    "uniform_ratio_c64": 2.5,
    "hot_ratio_c64": 60.0,
    "hot_over_ordered_c64": 8.0,
    "p99_ms_c64": 15.0,
    "hot_over_uniform_c64": 0.8,
    "uniform_ratio_c256": 6.0,
    "hot_ratio_c256": 50.0,
    "p99_ms_c256": 40.0,
    "busy_pct": 90.0,
    "engine_over_raw": 0.9,
    "http_over_raw": 0.7,
    "pending_over_plain": 0.5,
    "batch_over_classic_c64": 5.0,
    "batch_over_raw": 0.8,
    # Issue 25: Tally's own CPU per committed transfer at uniform c64 (process CPU ÷ transfers).
    "tally_cpu_us_c64": 35.0,
}
HOT_ACCOUNTS = 10


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list (p in 0..100)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def read_json(path):
    with open(path) as file:
        return json.load(file)


def cpu_delta(run_dir, generator_pid_key=None):
    before = read_json(os.path.join(run_dir, "cpu_before.json"))
    after = read_json(os.path.join(run_dir, "cpu_after.json"))
    busy = after["machine"]["busy"] - before["machine"]["busy"]
    total = after["machine"]["total"] - before["machine"]["total"]
    delta = {
        "postgres_s": round(after.get("postgres", 0) - before.get("postgres", 0), 2),
        "machine_busy_pct": round(100 * busy / total, 1) if total else None,
    }
    for pid, seconds in after["pids"].items():
        delta["tally_s"] = round(seconds - before["pids"].get(pid, 0), 2)
    elapsed, user, system = open(os.path.join(run_dir, "time.txt")).read().split()[-3:]
    delta["generator_s"] = round(float(user) + float(system), 2)
    delta["wall_s"] = float(elapsed)
    # Busy time nobody measured above: the kernel's share not charged to these processes, the
    # bench's own helpers, and anything else running on the machine (it should stay small).
    delta["other_s"] = round(
        busy - delta["generator_s"] - delta.get("tally_s", 0) - delta["postgres_s"], 2
    )
    delta["irq_s"] = round(after["machine"].get("irq", 0) - before["machine"].get("irq", 0), 2)
    delta["other_top"] = other_processes(before, after)
    # The machine's busy share as the issue defines it: CPU of all processes / (cores x wall).
    # The window is the time between the two snapshots (the kernel's total over all cores,
    # divided by them), which also covers the snapshots themselves, so the share stays <= 100 %.
    cores = after.get("cores") or os.cpu_count() or 1
    window_s = total / cores if total else delta["wall_s"]
    all_s = processes_seconds(before, after)
    delta["all_processes_s"] = round(all_s, 2)
    delta["window_s"] = round(window_s, 2)
    delta["busy_share_pct"] = round(100 * all_s / (cores * window_s), 1) if window_s else None
    return delta


def add_cpu_per_transfer(result, transfers):
    """Tally's and PostgreSQL's CPU per committed transfer during the run, in µs: the process
    CPU seconds of the run ÷ the transfers it committed (issue 25's measure of each side's cost;
    with 2 cores it bounds the rate at 2 × 10^6 µs ÷ the sum)."""
    cpu = result["cpu"]
    for side in ("tally", "postgres"):
        seconds = cpu.get(f"{side}_s")
        cpu[f"{side}_us_per_transfer"] = (
            round(seconds * 1e6 / transfers, 1) if seconds is not None and transfers else None
        )


def processes_seconds(before, after):
    """CPU seconds used during the run by all processes: each live process's growth (its reaped
    children included), less what processes that ended during the run had used before it (their
    whole time reappears in the parent that reaped them)."""
    old = before.get("processes", {})
    new = after.get("processes", {})
    used = 0.0
    for pid, (_, seconds) in new.items():
        used += seconds - old.get(pid, [None, 0.0])[1]
    for pid, (_, seconds) in old.items():
        if pid not in new:
            used -= seconds
    return max(used, 0.0)


def other_processes(
    before, after, skip=("postgres", "tally", "wrk", "pgbench", "time", "bash", "python3", "psql", "curl")
):
    """The three processes (by command) that used the most CPU during the run, apart from the
    measured ones."""
    used = {}
    old = before.get("processes", {})
    for pid, (command, seconds) in after.get("processes", {}).items():
        if command in skip or command.startswith("tally") or command.startswith("actix"):
            continue
        previous = old.get(pid, [command, 0.0])[1]
        used[command] = used.get(command, 0.0) + seconds - previous
    top = sorted(used.items(), key=lambda item: -item[1])[:3]
    return {command: round(seconds, 2) for command, seconds in top if seconds >= 0.05}


def journal_metrics(run_dir, seconds):
    """Tally's journal during the run, from its /metrics: mean batch size, mean time to write and
    commit a batch, and how busy the (serial) journal was. Empty when /metrics was unavailable."""

    def read(name):
        path = os.path.join(run_dir, name)
        if not os.path.exists(path):
            return None
        values = {}
        for line in open(path):
            match = re.match(
                r"^tally_journal_(batch_size|commit_duration_seconds)_(sum|count) (\S+)$", line
            )
            if match:
                values[f"{match.group(1)}_{match.group(2)}"] = float(match.group(3))
        return values if len(values) == 4 else None

    before, after = read("metrics_before.txt"), read("metrics_after.txt")
    if not before or not after:
        return {}
    delta = {key: after[key] - before[key] for key in after}
    batches = delta["batch_size_count"]
    if not batches:
        return {}
    commit_seconds = delta["commit_duration_seconds_sum"]
    return {
        "mean_batch": round(delta["batch_size_sum"] / batches, 1),
        "batches_per_s": round(batches / seconds, 1),
        "mean_commit_ms": round(1000 * commit_seconds / batches, 2),
        "journal_busy_pct": round(100 * commit_seconds / seconds, 1),
    }


def wal_per_transfer(run_dir, committed):
    """WAL bytes, records and full-page images per committed transfer during the run."""
    try:
        before = [int(v) for v in open(os.path.join(run_dir, "wal_before.txt")).read().split()]
        after = [int(v) for v in open(os.path.join(run_dir, "wal_after.txt")).read().split()]
    except (FileNotFoundError, ValueError):
        return None
    if not committed:
        return None
    records, fpi, size = (a - b for a, b in zip(after, before))
    return {
        "bytes": round(size / committed),
        "records": round(records / committed, 1),
        "fpi": round(fpi / committed, 3),
    }


def parse_tally(run_dir):
    text = open(os.path.join(run_dir, "wrk.txt")).read()
    match = re.search(r"^WRK_RESULT (\{.*\})$", text, re.M)
    if not match:
        raise SystemExit(f"{run_dir}: no WRK_RESULT line in wrk.txt")
    wrk = json.loads(match.group(1))
    seconds = wrk["duration_us"] / 1e6
    latency = wrk["latency_us"]
    non_201 = wrk["requests"] - wrk["status_201"]
    socket = wrk["socket_errors"]
    return {
        "transfers_per_s": round(wrk["status_201"] / seconds, 1),
        "requests": wrk["requests"],
        "committed": wrk["status_201"],
        "non_201": non_201,
        "status_422": wrk["status_422"],
        "status_5xx": wrk["status_5xx"],
        "status_4xx_other": wrk["status_4xx_other"],
        "socket_errors": sum(socket.values()),
        "p50_ms": round(latency["p50"] / 1e3, 2),
        "p99_ms": round(latency["p99"] / 1e3, 2),
        "max_ms": round(latency["max"] / 1e3, 2),
        "wal_per_transfer": wal_per_transfer(run_dir, wrk["status_201"]),
        **journal_metrics(run_dir, seconds),
    }


def rows_delta(run_dir):
    """Rows added to Tally's transfers table during the run: (with legs, holds, postings)."""
    try:
        before = [int(v) for v in open(os.path.join(run_dir, "rows_before.txt")).read().split()]
        after = [int(v) for v in open(os.path.join(run_dir, "rows_after.txt")).read().split()]
    except (FileNotFoundError, ValueError):
        return None
    if len(before) != 3 or len(after) != 3:
        return None
    return tuple(a - b for a, b in zip(after, before))


def wrk_line(run_dir, tag):
    text = open(os.path.join(run_dir, "wrk.txt")).read()
    match = re.search(rf"^{tag} (\{{.*\}})$", text, re.M)
    if not match:
        raise SystemExit(f"{run_dir}: no {tag} line in wrk.txt")
    return json.loads(match.group(1))


def parse_pending(run_dir):
    wrk = wrk_line(run_dir, "PENDING_RESULT")
    seconds = wrk["duration_us"] / 1e6
    rows = rows_delta(run_dir)
    holds = rows[1] if rows else wrk["holds_created"]
    posts = rows[2] if rows else wrk["posts_done"]
    latency = wrk["latency_us"]
    return {
        "holds_per_s": round(holds / seconds, 1),
        "posts_per_s": round(posts / seconds, 1),
        "holds_committed": holds,
        "posts_committed": posts,
        "counted_in": "database" if rows else "HTTP answers",
        "holds_answered_201": wrk["holds_created"],
        "posts_answered_200": wrk["posts_done"],
        "holds_sent": wrk["holds_sent"],
        "posts_sent": wrk["posts_sent"],
        "status_409": wrk["status_409"],
        "status_4xx_other": wrk["status_4xx_other"],
        "status_5xx": wrk["status_5xx"],
        "unparsed": wrk["unparsed"],
        "socket_errors": sum(wrk["socket_errors"].values()),
        "p50_ms": round(latency["p50"] / 1e3, 2),
        "p99_ms": round(latency["p99"] / 1e3, 2),
        "max_ms": round(latency["max"] / 1e3, 2),
        **journal_metrics(run_dir, seconds),
    }


def parse_batch(run_dir):
    wrk = wrk_line(run_dir, "BATCH_RESULT")
    seconds = wrk["duration_us"] / 1e6
    rows = rows_delta(run_dir)
    committed = rows[0] if rows else wrk["items_transfer"]
    latency = wrk["latency_us"]
    return {
        "transfers_per_s": round(committed / seconds, 1),
        "committed": committed,
        "counted_in": "database" if rows else "HTTP answers",
        "items_per_request": wrk["items_per_request"],
        "requests": wrk["requests"],
        "requests_ok": wrk["status_ok"],
        "items_answered_transfer": wrk["items_transfer"],
        "items_answered_error": wrk["items_error"],
        "status_4xx": wrk["status_4xx"],
        "status_5xx": wrk["status_5xx"],
        "socket_errors": sum(wrk["socket_errors"].values()),
        "p50_ms": round(latency["p50"] / 1e3, 2),
        "p99_ms": round(latency["p99"] / 1e3, 2),
        "max_ms": round(latency["max"] / 1e3, 2),
        "wal_per_transfer": wal_per_transfer(run_dir, committed),
        **journal_metrics(run_dir, seconds),
    }


def parse_pgbench(run_dir):
    text = open(os.path.join(run_dir, "pgbench.txt")).read()
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", text, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", text, re.M)
    processed = re.search(r"^number of transactions actually processed: (\d+)", text, re.M)
    if not tps:
        raise SystemExit(f"{run_dir}: pgbench printed no tps; see {run_dir}/pgbench.txt")
    latencies = []
    for name in os.listdir(run_dir):
        if not name.startswith("pgbench_log"):
            continue
        for line in open(os.path.join(run_dir, name)):
            # client_id transaction_no time script_no time_epoch time_us; time is the latency
            # in microseconds, or "failed"/"skipped".
            fields = line.split()
            if len(fields) >= 6 and fields[2].isdigit():
                latencies.append(int(fields[2]))
    latencies.sort()
    p = lambda q: round(percentile(latencies, q) / 1e3, 2) if latencies else None
    return {
        "transfers_per_s": round(float(tps.group(1)), 1),
        "committed": int(processed.group(1)) if processed else None,
        "failed": int(failed.group(1)) if failed else 0,
        "aborted": "Run was aborted" in text,
        "p50_ms": p(50),
        "p99_ms": p(99),
        "max_ms": round(latencies[-1] / 1e3, 2) if latencies else None,
        "wal_per_transfer": wal_per_transfer(
            run_dir, int(processed.group(1)) if processed else None
        ),
    }


def collect(run_root):
    """(rows of plain transfers vs the baselines, pending runs, batch runs)."""
    rows = {}
    extra = {"pending": [], "batch": []}
    for name in sorted(os.listdir(run_root)):
        run_dir = os.path.join(run_root, name)
        meta_path = os.path.join(run_dir, "meta.json")
        if not os.path.exists(meta_path):
            continue
        meta = read_json(meta_path)
        if meta.get("warmup"):
            continue
        if meta["system"] in extra:
            parse = parse_pending if meta["system"] == "pending" else parse_batch
            result = parse(run_dir)
            result["cpu"] = cpu_delta(run_dir)
            if meta["system"] == "pending":
                # A pending transfer is two operations (hold, post), each a journal entry.
                add_cpu_per_transfer(result, result["holds_committed"] + result["posts_committed"])
            else:
                add_cpu_per_transfer(result, result["committed"])
            result.update(
                scenario=meta["scenario"],
                accounts=meta["accounts"],
                clients=meta["clients"],
                writers=meta.get("writers", 1),
            )
            extra[meta["system"]].append(result)
            continue
        parse = parse_tally if meta["system"] == "tally" else parse_pgbench
        result = parse(run_dir)
        result["cpu"] = cpu_delta(run_dir)
        add_cpu_per_transfer(result, result["committed"])
        if meta["system"] == "tally":
            result["writers"] = meta.get("writers", 1)
        key = (meta["scenario"], meta["clients"])
        row = rows.setdefault(
            key,
            {"scenario": meta["scenario"], "accounts": meta["accounts"], "clients": meta["clients"]},
        )
        row[meta["system"]] = result
    order = {"uniform": 0, "hot": 1}
    ordered = [rows[key] for key in sorted(rows, key=lambda k: (order.get(k[0], 9), k[1]))]
    for runs in extra.values():
        runs.sort(key=lambda r: (order.get(r["scenario"], 9), r["clients"]))
    return ordered, extra["pending"], extra["batch"]


def result_lines(path, tag):
    """The JSON of every `TAG {json}` line of a file (none when the file is missing)."""
    if not os.path.exists(path):
        return []
    found = []
    for line in open(path):
        if line.startswith(tag + " "):
            found.append(json.loads(line[len(tag) + 1 :]))
    return found


def replay_writers(scenario, writers):
    """Writers as the replay can run them: each needs two accounts of its own (hot has 10)."""
    if scenario == "hot":
        return max(1, min(writers, HOT_ACCOUNTS // 2))
    return writers


def effective_writers(scenario, writers):
    """The writers Tally can really run at once: on hot-10 every batch of more than a few
    transfers touches all ten accounts, so the journal's dispatcher (which never lets two writers
    touch one account) writes one batch at a time; it is compared with one raw writer there.
    Elsewhere, its configured writers over disjoint accounts."""
    return 1 if scenario == "hot" else writers


def raw_rate(replay, scenario, batch, writers):
    """The replay's transfers/s at exactly this point, or None."""
    batch = max(1, round(batch))
    writers = replay_writers(scenario, writers)
    for point in replay:
        if point["scenario"] == scenario and point["batch"] == batch and point["writers"] == writers:
            return point["transfers_per_s"]
    return None


def over(value, base):
    return round(value / base, 2) if value is not None and base else None


def compare_with_raw(rows, engine, replay, batches):
    """Engine alone and HTTP against the raw replay at their own mean batch and writers."""
    comparisons = []
    for result in engine:
        writers = effective_writers(result["scenario"], result["writers"])
        raw = raw_rate(replay, result["scenario"], result["mean_batch"], writers)
        comparisons.append({
            "what": "engine alone",
            "scenario": result["scenario"],
            "clients": result["clients"],
            "transfers_per_s": result["transfers_per_s"],
            "mean_batch": result["mean_batch"],
            "writers": writers,
            "raw_per_s": raw,
            "ratio": over(result["transfers_per_s"], raw),
        })
    for row in rows:
        tally = row.get("tally")
        if not tally or not tally.get("mean_batch"):
            continue
        writers = effective_writers(row["scenario"], tally.get("writers", 1))
        raw = raw_rate(replay, row["scenario"], tally["mean_batch"], writers)
        comparisons.append({
            "what": "HTTP",
            "scenario": row["scenario"],
            "clients": row["clients"],
            "transfers_per_s": tally["transfers_per_s"],
            "mean_batch": tally["mean_batch"],
            "writers": writers,
            "raw_per_s": raw,
            "ratio": over(tally["transfers_per_s"], raw),
        })
    for batch in batches:
        writers = effective_writers(batch["scenario"], batch["writers"])
        raw = raw_rate(replay, batch["scenario"], batch["items_per_request"], writers)
        comparisons.append({
            "what": f"HTTP batches of {batch['items_per_request']}",
            "scenario": batch["scenario"],
            "clients": batch["clients"],
            "transfers_per_s": batch["transfers_per_s"],
            "mean_batch": batch["items_per_request"],
            "writers": writers,
            "raw_per_s": raw,
            "ratio": over(batch["transfers_per_s"], raw),
        })
    return comparisons


def ratio(row, baseline):
    tally, base = row.get("tally"), row.get(baseline)
    if not tally or not base or not base["transfers_per_s"]:
        return None
    return round(tally["transfers_per_s"] / base["transfers_per_s"], 2)


def fmt(value, digits=0):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def wal_text(wal):
    return "—" if not wal else f"{wal['bytes']:,} / {wal['records']}"


def label(row):
    return f"{row['scenario']}-{row['accounts']}"


def checks(rows, comparisons, pending, batches):
    """The targets: each {check, measured, target, met}."""
    by = {(r["scenario"], r["clients"]): r for r in rows}
    wanted = []  # (description, measured, "min" or "max", bound, unit)

    def tally(row):
        return row.get("tally") if row else None

    for scenario in ("uniform", "hot"):
        row = by.get((scenario, 16))
        if row:
            wanted.append((f"{label(row)} c16: Tally ÷ classic", ratio(row, "classic"), "min", TARGETS["ratio_c16"], "×"))
    uniform, hot = by.get(("uniform", 64)), by.get(("hot", 64))
    if uniform:
        wanted.append(("uniform c64: Tally ÷ classic", ratio(uniform, "classic"), "min", TARGETS["uniform_ratio_c64"], "×"))
    if hot:
        wanted.append(("hot-10 c64: Tally ÷ classic", ratio(hot, "classic"), "min", TARGETS["hot_ratio_c64"], "×"))
        wanted.append(("hot-10 c64: Tally ÷ ordered", ratio(hot, "ordered"), "min", TARGETS["hot_over_ordered_c64"], "×"))
    for row in (uniform, hot):
        if tally(row):
            wanted.append((f"{label(row)} c64: Tally p99 ms", row["tally"]["p99_ms"], "max", TARGETS["p99_ms_c64"], ""))
    if tally(uniform):
        wanted.append(("uniform c64: Tally CPU µs per transfer", uniform["tally"]["cpu"].get("tally_us_per_transfer"),
                       "max", TARGETS["tally_cpu_us_c64"], " µs"))
    if tally(uniform) and tally(hot) and uniform["tally"]["transfers_per_s"]:
        value = round(hot["tally"]["transfers_per_s"] / uniform["tally"]["transfers_per_s"], 2)
        wanted.append(("Tally hot-10 ÷ uniform at c64", value, "min", TARGETS["hot_over_uniform_c64"], "×"))
    uniform, hot = by.get(("uniform", 256)), by.get(("hot", 256))
    if uniform:
        wanted.append(("uniform c256: Tally ÷ classic", ratio(uniform, "classic"), "min", TARGETS["uniform_ratio_c256"], "×"))
    if hot:
        wanted.append(("hot-10 c256: Tally ÷ classic", ratio(hot, "classic"), "min", TARGETS["hot_ratio_c256"], "×"))
    for row in (uniform, hot):
        if tally(row):
            wanted.append((f"{label(row)} c256: Tally p99 ms", row["tally"]["p99_ms"], "max", TARGETS["p99_ms_c256"], ""))
    for row in rows:
        if row["clients"] in (64, 256) and tally(row):
            wanted.append((f"{label(row)} c{row['clients']}: machine busy during Tally's run, %",
                           row["tally"]["cpu"].get("busy_share_pct"), "min", TARGETS["busy_pct"], ""))
    for item in comparisons:
        bound = TARGETS["engine_over_raw"] if item["what"] == "engine alone" else TARGETS["http_over_raw"]
        if item["what"].startswith("HTTP batches"):
            bound = TARGETS["batch_over_raw"]
        wanted.append((
            f"{item['what']} {item['scenario']} c{item['clients']} ÷ raw replay "
            f"(batch {max(1, round(item['mean_batch']))}, {replay_writers(item['scenario'], item['writers'])} writer(s))",
            item["ratio"], "min", bound, "×"))
    plain = {(r["scenario"], r["clients"]): r["tally"]["transfers_per_s"] for r in rows if tally(r)}
    for run in pending:
        base = plain.get((run["scenario"], run["clients"])) or plain.get((run["scenario"], 64))
        wanted.append((f"pending {run['scenario']} c{run['clients']}: posts/s ÷ plain transfers/s",
                       over(run["posts_per_s"], base), "min", TARGETS["pending_over_plain"], "×"))
    classic_c64 = by.get(("uniform", 64), {}).get("classic", {}).get("transfers_per_s")
    for run in batches:
        wanted.append((f"batch {run['scenario']}: transfers/s ÷ classic uniform c64",
                       over(run["transfers_per_s"], classic_c64), "min", TARGETS["batch_over_classic_c64"], "×"))
    return [
        {
            "check": description,
            "measured": value,
            "target": f"{'≥' if kind == 'min' else '≤'} {bound:g}{unit}",
            "met": value is not None and (value >= bound if kind == "min" else value <= bound),
        }
        for description, value, kind, bound, unit in wanted
    ]


def markdown(rows, meta, target_checks, engine, replay, comparisons, pending, batches):
    lines = [
        f"# Tally benchmark — {meta['started_at']}",
        "",
        f"{meta['host']}; PostgreSQL {meta['postgres_version']} (fsync on, synchronous_commit on, "
        f"max_connections {meta.get('max_connections', '?')}); "
        f"{meta['duration_s']} s per run; {meta['accounts']} seeded accounts; load generators "
        f"on the same machine (wrk -t{meta['wrk_threads']}, pgbench -j{meta['pgbench_threads']}).",
        f"Tally settings: {meta['tally_settings']}.",
        "",
        "Transfers/s counts committed transfers only (HTTP 201; pgbench's committed transactions); "
        "p50/p99 are per-request latencies (wrk's, and pgbench's per-transaction log). The "
        "baselines run on the classic simple-bank tables (bench/pgbench/baseline-schema.sql: a "
        "transfer row and two entry rows per transfer, foreign keys to accounts and transfers).",
        "",
        "| scenario | clients | Tally tx/s | p50 ms | p99 ms | non-201 | mean batch "
        "| classic tx/s | p50 ms | p99 ms | ordered tx/s | p50 ms | p99 ms "
        "| Tally ÷ classic | Tally ÷ ordered |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        t, c, o = row.get("tally", {}), row.get("classic", {}), row.get("ordered", {})
        lines.append(
            f"| {label(row)} | {row['clients']} "
            f"| {fmt(t.get('transfers_per_s'))} | {fmt(t.get('p50_ms'), 2)} | {fmt(t.get('p99_ms'), 2)} "
            f"| {fmt(t.get('non_201'))} | {fmt(t.get('mean_batch'), 1)} "
            f"| {fmt(c.get('transfers_per_s'))} | {fmt(c.get('p50_ms'), 2)} | {fmt(c.get('p99_ms'), 2)} "
            f"| {fmt(o.get('transfers_per_s'))} | {fmt(o.get('p50_ms'), 2)} | {fmt(o.get('p99_ms'), 2)} "
            f"| {fmt(ratio(row, 'classic'), 2)}× | {fmt(ratio(row, 'ordered'), 2)}× |"
        )
    if comparisons:
        lines += [
            "",
            "Against the raw rate of Tally's own write shape: `cargo bench --bench replay` sends the "
            "journal's exact statements, pipelined as the journal does (one round trip per batch of plain transfers), "
            "from outside the engine, at the same batch size (the mean batch measured) and number of "
            "writers (over disjoint accounts when more than one; on hot-10 one, since every batch "
            "touches all ten accounts and the journal's dispatcher then writes one batch at a time):",
            "",
            "| what | scenario | clients | transfers/s | mean batch | writers | raw transfers/s | ÷ raw |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for item in comparisons:
            lines.append(
                f"| {item['what']} | {item['scenario']} | {item['clients']} "
                f"| {fmt(item['transfers_per_s'])} | {fmt(item['mean_batch'], 1)} "
                f"| {replay_writers(item['scenario'], item['writers'])} | {fmt(item['raw_per_s'])} "
                f"| {fmt(item['ratio'], 2)}× |"
            )
    if engine:
        lines += [
            "",
            f"The engine alone (`cargo bench -p tally-actors --bench engine`, no HTTP, "
            f"{meta.get('engine_seconds', '?')} s per scenario):",
            "",
            "| scenario | clients | transfers/s | mean batch | writers | p50 ms | p99 ms | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for result in engine:
            lines.append(
                f"| {result['scenario']}-{result['accounts']} | {result['clients']} "
                f"| {fmt(result['transfers_per_s'])} | {fmt(result['mean_batch'], 1)} "
                f"| {result['writers']} | {fmt(result['p50_ms'], 2)} | {fmt(result['p99_ms'], 2)} "
                f"| {fmt(result['errors'])} |"
            )
    if replay:
        lines += [
            "",
            f"The raw replay (`cargo bench -p tally-actors --bench replay`, "
            f"{meta.get('replay_seconds', '?')} s per point):",
            "",
            "| scenario | accounts | batch | writers | transfers/s | batches/s | ms per batch |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for point in replay:
            lines.append(
                f"| {point['scenario']} | {point['accounts']} | {point['batch']} | {point['writers']} "
                f"| {fmt(point['transfers_per_s'])} | {fmt(point['batches_per_s'], 1)} "
                f"| {fmt(point['ms_per_batch'], 2)} |"
            )
    if pending:
        lines += [
            "",
            "Pending transfers (bench/wrk/pending.lua: the payer holds, then the payee posts the "
            "hold; holds and posts counted in the database):",
            "",
            "| scenario | clients | holds/s | posts/s | p50 ms | p99 ms | 409 | other 4xx | 5xx | posts ÷ plain transfers |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        plain = {(r["scenario"], r["clients"]): r["tally"]["transfers_per_s"] for r in rows if r.get("tally")}
        for run in pending:
            base = plain.get((run["scenario"], run["clients"])) or plain.get((run["scenario"], 64))
            lines.append(
                f"| {run['scenario']}-{run['accounts']} | {run['clients']} | {fmt(run['holds_per_s'])} "
                f"| {fmt(run['posts_per_s'])} | {fmt(run['p50_ms'], 2)} | {fmt(run['p99_ms'], 2)} "
                f"| {fmt(run['status_409'])} | {fmt(run['status_4xx_other'])} | {fmt(run['status_5xx'])} "
                f"| {fmt(over(run['posts_per_s'], base), 2)}× |"
            )
    if batches:
        classic_c64 = next(
            (r["classic"]["transfers_per_s"] for r in rows
             if r["scenario"] == "uniform" and r["clients"] == 64 and r.get("classic")), None)
        lines += [
            "",
            f"Batches (bench/wrk/batch.lua: POST /transfers/batch, {meta.get('batch_items', '?')} "
            "items each; committed transfers counted in the database):",
            "",
            "| scenario | connections | transfers/s | requests | p50 ms | p99 ms | item errors | mean journal batch | ÷ classic uniform c64 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for run in batches:
            lines.append(
                f"| {run['scenario']}-{run['accounts']} | {run['clients']} | {fmt(run['transfers_per_s'])} "
                f"| {fmt(run['requests'])} | {fmt(run['p50_ms'], 2)} | {fmt(run['p99_ms'], 2)} "
                f"| {fmt(run['items_answered_error'])} | {fmt(run.get('mean_batch'), 1)} "
                f"| {fmt(over(run['transfers_per_s'], classic_c64), 2)}× |"
            )
    lines += [
        "",
        "Tally's journal during each run, from its /metrics (busy: time spent writing and "
        "committing batches ÷ run time, summed over its writers):",
        "",
        "| scenario | clients | batches/s | mean batch | mean write+commit ms | journal busy |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        t = row.get("tally", {})
        lines.append(
            f"| {label(row)} | {row['clients']} | {fmt(t.get('batches_per_s'))} "
            f"| {fmt(t.get('mean_batch'), 1)} | {fmt(t.get('mean_commit_ms'), 2)} "
            f"| {fmt(t.get('journal_busy_pct'), 0)} % |"
        )
    lines += [
        "",
        "CPU seconds used during each run (2 cores = 2 CPU-seconds per second of wall time), and "
        "per committed transfer (process CPU ÷ transfers committed in the run; a pending run "
        "counts holds and posts); "
        "machine busy = CPU of all processes ÷ (cores × the measured window), and the kernel's "
        "count (/proc/stat, interrupts included) beside it:",
        "",
        "| scenario | clients | system | generator CPU s | Tally CPU s | PostgreSQL CPU s | Tally CPU µs / transfer | PostgreSQL CPU µs / transfer | other CPU s | machine busy | /proc/stat busy | of the other: interrupts; top processes | WAL bytes / records per transfer |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    cpu_rows = []
    for row in rows:
        for system, _ in SYSTEMS:
            if row.get(system):
                cpu_rows.append((label(row), row["clients"], system, row[system]))
    for run in pending:
        cpu_rows.append((f"{run['scenario']}-{run['accounts']}", run["clients"], "pending", run))
    for run in batches:
        cpu_rows.append((f"{run['scenario']}-{run['accounts']}", run["clients"], "batch", run))
    for name, clients, system, result in cpu_rows:
        cpu = result["cpu"]
        on_tally = system in ("tally", "pending", "batch")
        lines.append(
            f"| {name} | {clients} | {system} | {fmt(cpu['generator_s'], 1)} "
            f"| {fmt(cpu.get('tally_s') if on_tally else None, 1)} "
            f"| {fmt(cpu['postgres_s'], 1)} "
            f"| {fmt(cpu.get('tally_us_per_transfer') if on_tally else None, 1)} "
            f"| {fmt(cpu.get('postgres_us_per_transfer'), 1)} | {fmt(cpu['other_s'], 1)} "
            f"| {fmt(cpu.get('busy_share_pct'), 0)} % | {fmt(cpu['machine_busy_pct'], 0)} % "
            f"| irq {fmt(cpu['irq_s'], 1)}; "
            + ", ".join(f"{name} {seconds:.1f}" for name, seconds in cpu["other_top"].items())
            + f" | {wal_text(result.get('wal_per_transfer'))} |"
        )
    lines += ["", "Targets:", "", "| check | measured | target | met |", "|---|---:|---|---|"]
    for check in target_checks:
        lines.append(
            f"| {check['check']} | {fmt(check['measured'], 2)} | {check['target']} "
            f"| {'yes' if check['met'] else 'NO'} |"
        )
    lines.append("")
    return "\n".join(lines)


def console(rows, target_checks, comparisons, pending, batches):
    header = (
        f"{'scenario':<14}{'c':>4} {'Tally/s':>9}{'p50':>7}{'p99':>7}{'non201':>7}{'batch':>6} "
        f"{'classic/s':>10}{'p50':>7}{'p99':>8} {'ordered/s':>10}{'p50':>7}{'p99':>8} "
        f"{'×classic':>9}{'×ordered':>9}"
    )
    print(header)
    for row in rows:
        t, c, o = row.get("tally", {}), row.get("classic", {}), row.get("ordered", {})
        print(
            f"{label(row):<14}{row['clients']:>4} {fmt(t.get('transfers_per_s')):>9}"
            f"{fmt(t.get('p50_ms'), 1):>7}{fmt(t.get('p99_ms'), 1):>7}{fmt(t.get('non_201')):>7}"
            f"{fmt(t.get('mean_batch'), 1):>6} {fmt(c.get('transfers_per_s')):>10}"
            f"{fmt(c.get('p50_ms'), 1):>7}{fmt(c.get('p99_ms'), 1):>8} "
            f"{fmt(o.get('transfers_per_s')):>10}{fmt(o.get('p50_ms'), 1):>7}"
            f"{fmt(o.get('p99_ms'), 1):>8}{fmt(ratio(row, 'classic'), 2):>9}"
            f"{fmt(ratio(row, 'ordered'), 2):>9}"
        )
    print("(transfers/s committed; latencies in ms; batch = Tally's mean journal batch)")
    print()
    print("CPU s per run (generator / Tally / PostgreSQL / other), machine busy % (all processes),")
    print("and CPU µs per committed transfer [Tally / PostgreSQL]:")
    for row in rows:
        parts = []
        for system, _ in SYSTEMS:
            if system in row:
                cpu = row[system]["cpu"]
                tally = f"/{cpu.get('tally_s', 0):.1f}" if system == "tally" else ""
                per = fmt(cpu.get("tally_us_per_transfer"), 1) + " / " if system == "tally" else ""
                parts.append(
                    f"{system} {cpu['generator_s']:.1f}{tally}/{cpu['postgres_s']:.1f}"
                    f"/{cpu['other_s']:.1f} {fmt(cpu.get('busy_share_pct'), 0)}%"
                    f" [{per}{fmt(cpu.get('postgres_us_per_transfer'), 1)} µs]"
                )
        print(f"  {label(row):<14}c{row['clients']:<4} " + "   ".join(parts))
    if comparisons:
        print()
        print("Against the raw replay of the journal's statements (same batch and writers):")
        for item in comparisons:
            print(
                f"  {item['what']:<22} {item['scenario']:<8} c{item['clients']:<4} "
                f"{fmt(item['transfers_per_s']):>8}/s at batch {fmt(item['mean_batch'], 1):>6}, "
                f"{replay_writers(item['scenario'], item['writers'])} writer(s); raw "
                f"{fmt(item['raw_per_s']):>8}/s; ratio {fmt(item['ratio'], 2)}"
            )
    for run in pending:
        print(
            f"  pending {run['scenario']:<8} c{run['clients']:<4} holds {fmt(run['holds_per_s'])}/s, "
            f"posts {fmt(run['posts_per_s'])}/s, p99 {fmt(run['p99_ms'], 1)} ms, busy "
            f"{fmt(run['cpu'].get('busy_share_pct'), 0)}%"
        )
    for run in batches:
        print(
            f"  batch {run['scenario']:<8} c{run['clients']:<4} {fmt(run['transfers_per_s'])} "
            f"transfers/s ({run['committed']} committed, {run['requests']} requests), p99 "
            f"{fmt(run['p99_ms'], 1)} ms, busy {fmt(run['cpu'].get('busy_share_pct'), 0)}%"
        )
    print()
    for check in target_checks:
        mark = "met" if check["met"] else "MISSED"
        print(f"  target {check['check']}: {fmt(check['measured'], 2)} (want {check['target']}) {mark}")


def executables(cargo_json):
    """The engine and replay bench binaries named by cargo's JSON messages ('-' when missing)."""
    found = {}
    for line in open(cargo_json):
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            found[message["target"]["name"]] = message["executable"]
    print(found.get("engine", "-"), found.get("replay", "-"))


def replay_points(run_root, scenarios, batches, writers, hot_accounts):
    """The replay's points: the grid, and every (scenario, mean batch, writers) that the engine
    bench and the server's runs measured, so each ratio has its raw rate at the same point."""
    global HOT_ACCOUNTS
    HOT_ACCOUNTS = int(hot_accounts)
    points = []

    def add(scenario, batch, writers):
        point = (scenario, max(1, round(batch)), replay_writers(scenario, int(writers)))
        if point not in points:
            points.append(point)

    for scenario in scenarios.split(","):
        for batch in batches.split(","):
            for writer in writers.split(","):
                add(scenario, int(batch), int(writer))
    for result in result_lines(os.path.join(run_root, "engine.txt"), "ENGINE_RESULT"):
        if result["mean_batch"]:
            add(result["scenario"], result["mean_batch"],
                effective_writers(result["scenario"], result["writers"]))
    for name in sorted(os.listdir(run_root)):
        run_dir = os.path.join(run_root, name)
        meta_path = os.path.join(run_dir, "meta.json")
        if not os.path.exists(meta_path):
            continue
        meta = read_json(meta_path)
        if meta.get("warmup") or meta["system"] not in ("tally", "batch"):
            continue
        if meta["system"] == "batch":
            items = wrk_line(run_dir, "BATCH_RESULT")["items_per_request"]
            add(meta["scenario"], items, effective_writers(meta["scenario"], meta.get("writers", 1)))
            continue
        wrk = wrk_line(run_dir, "WRK_RESULT")
        metrics = journal_metrics(run_dir, wrk["duration_us"] / 1e6)
        if metrics.get("mean_batch"):
            add(meta["scenario"], metrics["mean_batch"],
                effective_writers(meta["scenario"], meta.get("writers", 1)))
    print(",".join(f"{s}:{b}:{w}" for s, b, w in points))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "executables":
        return executables(sys.argv[2])
    if len(sys.argv) == 7 and sys.argv[1] == "replay-points":
        return replay_points(*sys.argv[2:])
    if len(sys.argv) != 3:
        raise SystemExit(
            "usage: bench/report.py RUN_DIR OUT_DIR | executables CARGO_JSON"
            " | replay-points RUN_DIR SCENARIOS BATCHES WRITERS HOT_ACCOUNTS"
        )
    run_root, out_dir = sys.argv[1], sys.argv[2]
    meta = read_json(os.path.join(run_root, "meta.json"))
    rows, pending, batches = collect(run_root)
    if not rows and not pending and not batches:
        raise SystemExit(f"{run_root}: no runs found")
    engine = result_lines(os.path.join(run_root, "engine.txt"), "ENGINE_RESULT")
    replay = result_lines(os.path.join(run_root, "replay.txt"), "REPLAY_RESULT")
    comparisons = compare_with_raw(rows, engine, replay, batches)
    target_checks = checks(rows, comparisons, pending, batches)
    results = {
        "meta": meta,
        "rows": rows,
        "pending": pending,
        "batch": batches,
        "engine": engine,
        "replay": replay,
        "against_raw": comparisons,
        "targets": target_checks,
    }
    with open(os.path.join(out_dir, "results.json"), "w") as file:
        json.dump(results, file, indent=2)
        file.write("\n")
    with open(os.path.join(out_dir, "results.md"), "w") as file:
        file.write(markdown(rows, meta, target_checks, engine, replay, comparisons, pending, batches))
    console(rows, target_checks, comparisons, pending, batches)


if __name__ == "__main__":
    main()
