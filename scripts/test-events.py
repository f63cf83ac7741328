#!/usr/bin/env python3
"""The load, the long-poll consumer and the final check of scripts/test-events (127.0.0.1 only).

    test-events.py load  APIS USERS_JSON TOTAL CLIENTS SECONDS_MAX OUT_JSON
    test-events.py poll  APIS TOKEN OUT_FILE STOP_FILE SECONDS_MAX
    test-events.py check DATABASE_URL LOAD_JSON POLL_FILE AMQP_FILE

APIS is a comma-separated list of replicas. `load` sends TOTAL transfers between seeded accounts
from CLIENTS threads, client i starting on replica i mod len(APIS), each transfer with its own
Idempotency-Key; a broken connection moves the client to the next replica and retries the same
key, a 503 retries it after a pause. `poll` long-polls GET /events as a banker, moving to the next
replica when one fails, and writes `ID TYPE DATA_ID` per event. `check` compares both consumers'
files with the database.
"""
import http.client
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

RETRIES_MAX = 120
RETRY_PAUSE_S = 0.25
AMOUNT_MAX = 100
CLIENTS_MAX = 64
TOTAL_MAX = 50_000
SECONDS_MAX = 600
POLL_LIMIT = 1000
POLL_WAIT_S = 5


def replicas(apis: str) -> list:
    targets = [urlparse(api) for api in apis.split(",")]
    assert all(t.hostname == "127.0.0.1" for t in targets), "loopback only"
    return [(t.hostname, t.port) for t in targets]


def load(apis, users_path, total, clients, seconds_max, out_path) -> None:
    total, clients, seconds_max = int(total), int(clients), float(seconds_max)
    assert total <= TOTAL_MAX and clients <= CLIENTS_MAX and seconds_max <= SECONDS_MAX, "bounded"
    targets = replicas(apis)
    users = json.load(open(users_path))
    deadline = time.monotonic() + seconds_max
    lock = threading.Lock()
    started = [0]
    result = {"acknowledged": [], "replayed": 0, "moved": 0, "unavailable": 0, "unresolved": 0,
              "other": {}}

    def take() -> bool:
        with lock:
            if started[0] >= total or time.monotonic() > deadline:
                return False
            started[0] += 1
            return True

    def client(index: int) -> None:
        rng = random.Random(index)
        current = index % len(targets)
        conn = None
        while take():
            payer, payee = rng.sample(users, 2)
            body = json.dumps({"from_account_id": payer["account_id"], "to_account_id": payee["account_id"],
                               "amount": rng.randint(1, AMOUNT_MAX), "currency": payer["currency"]})
            headers = {"Authorization": f"Bearer {payer['access_token']}", "Content-Type": "application/json",
                       "Idempotency-Key": uuid.uuid4().hex}
            for _ in range(RETRIES_MAX):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(*targets[current], timeout=30)
                    conn.request("POST", "/transfers", body, headers)
                    response = conn.getresponse()
                    data, status = response.read(), response.status
                    replayed = response.getheader("Idempotent-Replayed") == "true"
                except (OSError, http.client.HTTPException):
                    # Cut off: the transfer may or may not have committed; the same key on the
                    # other replica answers what did.
                    conn, current = None, (current + 1) % len(targets)
                    with lock:
                        result["moved"] += 1
                    time.sleep(RETRY_PAUSE_S)
                    continue
                if status == 503:
                    with lock:
                        result["unavailable"] += 1
                    time.sleep(RETRY_PAUSE_S)
                    continue
                with lock:
                    if status in (200, 201):
                        result["acknowledged"].append(json.loads(data)["transfer"]["id"])
                        result["replayed"] += replayed
                    else:
                        result["other"][str(status)] = result["other"].get(str(status), 0) + 1
                break
            else:
                with lock:
                    result["unresolved"] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    json.dump(result, open(out_path, "w"))
    print(f"test-events: load: {len(result['acknowledged'])} acknowledged ({result['replayed']} of them replayed "
          f"after a cut), {result['moved']} requests moved to the other replica, {result['unavailable']} answered "
          f"503, {result['unresolved']} unresolved, other {result['other']}", file=sys.stderr)


def poll(apis, token, out_path, stop_path, seconds_max) -> None:
    targets = replicas(apis)
    deadline = time.monotonic() + min(float(seconds_max), SECONDS_MAX)
    current, after, switches = 0, 0, 0
    with open(out_path, "a") as out:
        while time.monotonic() < deadline:
            stopping = os.path.exists(stop_path)
            try:
                conn = http.client.HTTPConnection(*targets[current], timeout=POLL_WAIT_S + 10)
                conn.request("GET", f"/events?after={after}&limit={POLL_LIMIT}&wait={0 if stopping else POLL_WAIT_S}",
                             headers={"Authorization": f"Bearer {token}"})
                response = conn.getresponse()
                page, status = response.read(), response.status
                conn.close()
            except (OSError, http.client.HTTPException):
                current, switches = (current + 1) % len(targets), switches + 1
                time.sleep(RETRY_PAUSE_S)
                continue
            if status != 200:
                time.sleep(RETRY_PAUSE_S)
                continue
            events = json.loads(page)["events"]
            for event in events:
                out.write(f"{event['id']} {event['type']} {event['data']['id']}\n")
            out.flush()
            after = json.loads(page)["last_id"] if events else after
            if stopping and not events:
                print(f"test-events: poll: stopped after event {after}, {switches} replica switches",
                      file=sys.stderr)
                return
    raise SystemExit("poll: ran past its time without being stopped")


def psql(url: str, query: str) -> list:
    return subprocess.run(["psql", "-X", "-tA", url, "-c", query], check=True, capture_output=True,
                          text=True).stdout.split()


def first_occurrences(path: str, name: str) -> tuple:
    """The events of a consumer's file, each id's first occurrence only, and the repeats."""
    seen, events, repeats = set(), [], 0
    for line in open(path):
        event_id, kind, data_id = line.split()
        event_id = int(event_id)
        if event_id in seen:
            repeats += 1
            continue
        assert not events or event_id > events[-1][0], \
            f"{name}: event {event_id} came after {events[-1][0]} (out of order)"
        seen.add(event_id)
        events.append((event_id, kind, data_id))
    return events, repeats


def check(url, load_path, poll_path, amqp_path) -> None:
    acknowledged = json.load(open(load_path))["acknowledged"]
    posted = {int(i) for i in psql(url, "SELECT id FROM transfers WHERE status = 'posted'")}
    (transfers,) = psql(url, "SELECT count(*) FROM transfers")
    (expected_events,) = psql(url, """SELECT (SELECT count(*) FROM transfers)
        + (SELECT count(*) FROM transfers WHERE ended_position IS NOT NULL)
        + (SELECT count(*) FROM accounts WHERE opened_position IS NOT NULL)""")
    expected_events = int(expected_events)
    assert int(transfers) == len(posted), f"{int(transfers) - len(posted)} transfers are not posted"
    missing = set(acknowledged) - posted
    assert not missing, f"{len(missing)} acknowledged transfers are not in the database: {sorted(missing)[:5]}"
    assert len(set(acknowledged)) == len(acknowledged), "a transfer was acknowledged twice under two keys"
    for name, path in (("GET /events", poll_path), ("RabbitMQ", amqp_path)):
        events, repeats = first_occurrences(path, name)
        ids = [event[0] for event in events]
        assert ids == list(range(1, expected_events + 1)), \
            f"{name}: {len(ids)} distinct events, ids {ids[:1]}..{ids[-1:]}; the database holds 1..{expected_events}"
        in_events = {int(data_id) for _, kind, data_id in events if kind == "transfer.posted"}
        assert in_events == posted, \
            f"{name}: {len(posted - in_events)} committed transfers have no event, {len(in_events - posted)} events no transfer"
        if name == "GET /events":
            assert repeats == 0, f"GET /events repeated {repeats} events"
        print(f"test-events: {name}: {len(ids)} events in id order with no gap, {len(in_events)} "
              f"transfer.posted = the {len(posted)} committed transfers; {repeats} repeats (deduplicated)",
              file=sys.stderr)
    print(f"test-events: database: {len(posted)} transfers committed, all {len(acknowledged)} acknowledged ones "
          f"among them", file=sys.stderr)


if __name__ == "__main__":
    commands = {"load": (load, 6), "poll": (poll, 5), "check": (check, 4)}
    command, arguments = sys.argv[1], sys.argv[2:]
    function, count = commands[command]
    assert len(arguments) == count, __doc__
    function(*arguments)
