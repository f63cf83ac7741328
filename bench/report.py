#!/usr/bin/env python3
"""Turns one scripts/bench run directory into the results table, results.json and results.md.

    bench/report.py RUN_DIR OUT_DIR

RUN_DIR holds one folder per measured run, named SYSTEM-SCENARIO-cN (SYSTEM: tally, classic,
ordered), each with meta.json, the generator's output (wrk.txt or pgbench.txt), time.txt
(/usr/bin/time: elapsed, user and system seconds of the generator), cpu_before.json and
cpu_after.json (bench/cpu.py), and for Tally metrics_before.txt and metrics_after.txt (its
/metrics). pgbench's per-transaction logs (pgbench_log.*) give its percentiles.
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
# The performance targets the benchmark checks (README, "Benchmark").
TARGETS = {
    "uniform_ratio_c64": 5.0,
    "hot_ratio_c64": 50.0,
    "p99_ms_c64": 25.0,
    "hot_over_uniform_c64": 0.8,
}


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
    return delta


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
    rows = {}
    for name in sorted(os.listdir(run_root)):
        run_dir = os.path.join(run_root, name)
        meta_path = os.path.join(run_dir, "meta.json")
        if not os.path.exists(meta_path):
            continue
        meta = read_json(meta_path)
        if meta.get("warmup"):
            continue
        parse = parse_tally if meta["system"] == "tally" else parse_pgbench
        result = parse(run_dir)
        result["cpu"] = cpu_delta(run_dir)
        key = (meta["scenario"], meta["clients"])
        row = rows.setdefault(
            key,
            {"scenario": meta["scenario"], "accounts": meta["accounts"], "clients": meta["clients"]},
        )
        row[meta["system"]] = result
    order = {"uniform": 0, "hot": 1}
    return [rows[key] for key in sorted(rows, key=lambda k: (order.get(k[0], 9), k[1]))]


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


def checks(rows):
    """The targets: each {check, measured, target, met}."""
    by = {(r["scenario"], r["clients"]): r for r in rows}
    uniform, hot = by.get(("uniform", 64)), by.get(("hot", 64))
    wanted = []  # (description, measured, "min" or "max", bound)
    if uniform:
        wanted.append(("uniform c64: Tally ÷ classic", ratio(uniform, "classic"), "min", TARGETS["uniform_ratio_c64"]))
    if hot:
        wanted.append(("hot-10 c64: Tally ÷ classic", ratio(hot, "classic"), "min", TARGETS["hot_ratio_c64"]))
    for row in (uniform, hot):
        if row and row.get("tally"):
            wanted.append((f"{label(row)} c64: Tally p99 ms", row["tally"]["p99_ms"], "max", TARGETS["p99_ms_c64"]))
    if uniform and hot and uniform.get("tally") and hot.get("tally") and uniform["tally"]["transfers_per_s"]:
        value = round(hot["tally"]["transfers_per_s"] / uniform["tally"]["transfers_per_s"], 2)
        wanted.append(("Tally hot-10 ÷ uniform at c64", value, "min", TARGETS["hot_over_uniform_c64"]))
    return [
        {
            "check": description,
            "measured": value,
            "target": f"{'≥' if kind == 'min' else '≤'} {bound:g}{'×' if kind == 'min' else ''}",
            "met": value is not None and (value >= bound if kind == "min" else value <= bound),
        }
        for description, value, kind, bound in wanted
    ]


def markdown(rows, meta, target_checks):
    lines = [
        f"# Tally benchmark — {meta['started_at']}",
        "",
        f"{meta['host']}; PostgreSQL {meta['postgres_version']} (fsync on, synchronous_commit on); "
        f"{meta['duration_s']} s per run; {meta['accounts']} seeded accounts; load generators "
        f"on the same machine (wrk -t{meta['wrk_threads']}, pgbench -j{meta['pgbench_threads']}).",
        f"Tally settings: {meta['tally_settings']}.",
        "",
        "Transfers/s counts committed transfers only (HTTP 201; pgbench's committed transactions); "
        "p50/p99 are per-request latencies (wrk's, and pgbench's per-transaction log).",
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
        "CPU seconds used during each run (2 cores = 2 CPU-seconds per second of wall time):",
        "",
        "| scenario | clients | system | generator CPU s | Tally CPU s | PostgreSQL CPU s | other CPU s | machine busy | of the other: interrupts; top processes | WAL bytes / records per transfer |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        for system, _ in SYSTEMS:
            result = row.get(system)
            if not result:
                continue
            cpu = result["cpu"]
            lines.append(
                f"| {label(row)} | {row['clients']} | {system} | {fmt(cpu['generator_s'], 1)} "
                f"| {fmt(cpu.get('tally_s') if system == 'tally' else None, 1)} "
                f"| {fmt(cpu['postgres_s'], 1)} | {fmt(cpu['other_s'], 1)} "
                f"| {fmt(cpu['machine_busy_pct'], 0)} % | irq {fmt(cpu['irq_s'], 1)}; "
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


def console(rows, target_checks):
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
    print("CPU s per run (generator / Tally / PostgreSQL / other, and machine busy %):")
    for row in rows:
        parts = []
        for system, _ in SYSTEMS:
            if system in row:
                cpu = row[system]["cpu"]
                tally = f"/{cpu.get('tally_s', 0):.1f}" if system == "tally" else ""
                parts.append(
                    f"{system} {cpu['generator_s']:.1f}{tally}/{cpu['postgres_s']:.1f}"
                    f"/{cpu['other_s']:.1f} {cpu['machine_busy_pct']:.0f}%"
                )
        print(f"  {label(row):<14}c{row['clients']:<4} " + "   ".join(parts))
    print()
    for check in target_checks:
        mark = "met" if check["met"] else "MISSED"
        print(f"  target {check['check']}: {fmt(check['measured'], 2)} (want {check['target']}) {mark}")


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: bench/report.py RUN_DIR OUT_DIR")
    run_root, out_dir = sys.argv[1], sys.argv[2]
    meta = read_json(os.path.join(run_root, "meta.json"))
    rows = collect(run_root)
    if not rows:
        raise SystemExit(f"{run_root}: no runs found")
    target_checks = checks(rows)
    results = {"meta": meta, "rows": rows, "targets": target_checks}
    with open(os.path.join(out_dir, "results.json"), "w") as file:
        json.dump(results, file, indent=2)
        file.write("\n")
    with open(os.path.join(out_dir, "results.md"), "w") as file:
        file.write(markdown(rows, meta, target_checks))
    console(rows, target_checks)


if __name__ == "__main__":
    main()
