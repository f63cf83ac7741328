#!/usr/bin/env python3
"""Prints one JSON line of CPU counters, for scripts/bench to diff around a run.

    bench/cpu.py --pid TALLY_PID --postmaster POSTMASTER_PID

- "pids": {pid: seconds of user+system CPU} for each --pid (0 when it is gone);
- "postgres": seconds of CPU of the whole PostgreSQL server: the postmaster, every live child
  (backends, WAL writer, checkpointer, ...) and the children it already reaped (its cutime and
  cstime), so backends that exit during a run (pgbench's connections) are still counted;
- "machine": {"busy": s, "total": s, "irq": s} summed over all cores from /proc/stat;
- "processes": {pid: [command, s]} of every live process (its reaped children included), so
  the report can name whoever else used the CPU during a run and add up the CPU of all
  processes (the machine's busy share: that sum / (cores x wall time));
- "cores": the number of CPUs.

Linux only (reads /proc); no third-party modules.
"""

import argparse
import json
import os

TICKS = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may itself contain spaces or parentheses.
    return text[text.rindex(")") + 2 :].split()


def own_seconds(fields):
    # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    return (int(fields[11]) + int(fields[12])) / TICKS


def reaped_seconds(fields):
    return (int(fields[13]) + int(fields[14])) / TICKS


def postgres_seconds(postmaster):
    fields = stat_fields(postmaster)
    if fields is None:
        return 0.0
    total = own_seconds(fields) + reaped_seconds(fields)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        child = stat_fields(entry)
        if child is not None and int(child[1]) == postmaster:
            total += own_seconds(child)
    return total


def machine_seconds():
    with open("/proc/stat") as file:
        values = [int(v) for v in file.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user).
    idle = values[3] + values[4]
    total = sum(values[:8])
    return {
        "busy": (total - idle) / TICKS,
        "total": total / TICKS,
        # Interrupt work (loopback networking, disk completions) is charged to no process.
        "irq": (values[5] + values[6]) / TICKS,
    }


def all_processes():
    """{pid: [command, seconds]} for every live process, to find who else used the CPU."""
    processes = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = stat_fields(entry)
        if fields is None:
            continue
        try:
            with open(f"/proc/{entry}/comm") as file:
                command = file.read().strip()
        except OSError:
            continue
        # Include reaped children (cargo's rustc, a shell's commands) in their parent.
        processes[entry] = [command, round(own_seconds(fields) + reaped_seconds(fields), 2)]
    return processes


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pid", type=int, action="append", default=[])
    parser.add_argument("--postmaster", type=int)
    args = parser.parse_args()
    pids = {}
    for pid in args.pid:
        fields = stat_fields(pid)
        pids[str(pid)] = own_seconds(fields) if fields else 0.0
    snapshot = {
        "pids": pids,
        "cores": os.cpu_count(),
        "machine": machine_seconds(),
        "processes": all_processes(),
    }
    if args.postmaster:
        snapshot["postgres"] = postgres_seconds(args.postmaster)
    print(json.dumps(snapshot))


if __name__ == "__main__":
    main()
