#!/usr/bin/env python3
"""Bounded transfer load on a local Tally (127.0.0.1 only), for scripts/test-cluster.

    cluster-load.py API USERS_JSON SECONDS CLIENTS OUT_JSON

Each client sends POST /transfers between seeded accounts, each with its own Idempotency-Key.
A 503 or a broken connection is retried with the same key (at most RETRIES_MAX times), so a
transfer whose outcome was unknown is answered by what committed. Writes OUT_JSON:
{"acknowledged": [{"id", "from", "to", "amount", "key"}], "unavailable": N, "errors": N,
 "unresolved": N, "other": {status: N}}.
"""
import http.client
import json
import random
import sys
import threading
import time
import uuid
from urllib.parse import urlparse

RETRIES_MAX = 60
RETRY_PAUSE_S = 0.25
AMOUNT_MAX = 100


def main() -> None:
    api, users_path, seconds, clients, out_path = sys.argv[1:6]
    seconds, clients = float(seconds), int(clients)
    assert clients <= 64 and seconds <= 120, "bounded load only"
    target = urlparse(api)
    assert target.hostname == "127.0.0.1", "load targets loopback only"
    users = json.load(open(users_path))
    deadline = time.monotonic() + seconds
    lock = threading.Lock()
    result = {"acknowledged": [], "unavailable": 0, "errors": 0, "unresolved": 0, "other": {}}

    def client(index: int) -> None:
        rng = random.Random(index)
        conn = None
        while time.monotonic() < deadline:
            payer = users[rng.randrange(len(users))]
            payee = users[rng.randrange(len(users))]
            if payee["account_id"] == payer["account_id"]:
                continue
            amount = rng.randint(1, AMOUNT_MAX)
            body = json.dumps({"from_account_id": payer["account_id"], "to_account_id": payee["account_id"],
                               "amount": amount, "currency": payer["currency"]})
            key = uuid.uuid4().hex
            headers = {"Authorization": f"Bearer {payer['access_token']}", "Content-Type": "application/json",
                       "Idempotency-Key": key}
            for _ in range(RETRIES_MAX):
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
                    conn.request("POST", "/transfers", body, headers)
                    response = conn.getresponse()
                    data = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    with lock:
                        result["errors"] += 1
                    conn = None
                    time.sleep(RETRY_PAUSE_S)
                    continue
                if status == 503:
                    with lock:
                        result["unavailable"] += 1
                    time.sleep(RETRY_PAUSE_S)
                    continue
                with lock:
                    if status == 201:
                        transfer = json.loads(data)["transfer"]
                        result["acknowledged"].append({"id": transfer["id"], "from": payer["account_id"],
                                                       "to": payee["account_id"], "amount": amount, "key": key})
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
    print(f"load: {len(result['acknowledged'])} acknowledged, {result['unavailable']} answered 503, "
          f"{result['errors']} connection errors, {result['unresolved']} unresolved, other {result['other']}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
