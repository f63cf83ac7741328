"""Schemathesis hooks for scripts/fuzz: real data for a share of the valid (positive) cases.

Random account and transfer ids are almost never real, so without these hooks every transfer,
post and void would answer 404 and no case would reach the code that moves money (schemathesis
warns "missing test data"); random passwords and emails mostly fail the server's own checks.
Every third positive case of the operations below, and the first of each scenario (every one of
those in `ALWAYS`), is pointed at the run's real accounts, pending transfers, payments and user,
with values the document allows, so it stays a positive case. Negative cases are never touched: they must still be refused.

Schemathesis judges "schema validation mismatch" per scenario (one operation, one run of a phase):
a scenario whose positive cases were all refused, some of them with 400 or 422, warns. Under
`--max-time` it runs an operation's fuzzing and stateful phases again in cycles, and its coverage
phase again for operations whose refusals taught it something, each time a new scenario of a few
cases. Mapping only the first case of each phase left such a later scenario with random cases only
(a random login, random account ids), which the server rightly refuses: that was the mismatch seen
now and then for POST /transfers, /transfers/batch and /users/login. So the first positive case of
every scenario is mapped, the scenario found by its id in the calling frames (schemathesis 4, pinned
in fuzz.requirements.txt); where none is found, the first of each phase, as before.
"""

import itertools
import json
import os
import sys
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import MutableMapping

import schemathesis
from schemathesis import GenerationMode

ACCOUNT = int(os.environ["FUZZ_ACCOUNT"])
PAYEE_ACCOUNT = int(os.environ["FUZZ_PAYEE_ACCOUNT"])
# Half the holds for post, half for void: neither runs out first because the other ran first.
_HOLDS = [int(i) for i in os.environ["FUZZ_PENDING"].split(",") if i]
PENDING = {"post": _HOLDS[0::2], "void": _HOLDS[1::2]}
# Payments to the depositor (10.00 each), refunded 0.01 at a time, in turn.
POSTED = [int(i) for i in os.environ["FUZZ_POSTED"].split(",") if i]
# The same payments, for reading: theirs to read however much was refunded.
READABLE = list(POSTED)
ADDRESS = os.environ["FUZZ_ADDRESS"]
TOKEN = os.environ["FUZZ_TOKEN"]
USERNAME = os.environ["FUZZ_USERNAME"]
PASSWORD = os.environ["FUZZ_PASSWORD"]
EVERY = 3
# Operations whose every positive case is mapped: to the run's depositor, any account but its own
# is 404 by design (it may not read it), so random ids would never reach the route's own checks.
ALWAYS = {"PUT /accounts/{id}/limits"}
counters = defaultdict(itertools.count)
# Where a refused mapped case is written down (scripts/fuzz prints them): a phase whose mapped
# cases were all refused is what schemathesis reports as "schema validation mismatch".
REFUSALS = os.environ.get("FUZZ_REFUSALS")
# The ids of the cases mapped, to tell them apart in after_call.
mapped = set()


def transfer(amount):
    small = 1 + abs(amount) % 100 if isinstance(amount, int) and not isinstance(amount, bool) else 1
    return {"from_account_id": ACCOUNT, "to_account_id": PAYEE_ACCOUNT, "amount": small, "currency": "USD"}


def new_user():
    name = f"fz_{uuid.uuid4().hex[:12]}"
    return {"username": name, "password": "fuzz-password", "full_name": "Fuzz", "email": f"{name}@example.com"}


def body_field(case, name):
    return case.body.get(name) if isinstance(case.body, dict) else None


def shorten_long_poll(case):
    """A long poll of GET /events may wait up to 30 s, longer than the run's request timeout
    (10 s): a valid `wait` is cut to 2 s, so the poll is still exercised but never times out."""
    query = case.query if isinstance(case.query, dict) else None
    wait = query.get("wait") if query else None
    if case.operation.path == "/events" and isinstance(wait, int) and 2 < wait <= 30:
        query["wait"] = 2


@schemathesis.hook
def before_call(context, case, **kwargs):
    shorten_long_poll(case)
    meta = getattr(case, "meta", None) or getattr(case, "_meta", None)
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return
    label = f"{case.method.upper()} {case.operation.path}"
    # Counted per scenario: each scenario's first positive case of an operation is always mapped,
    # so none of them sees only random data.
    scenario = scenario_id() or getattr(getattr(meta, "phase", None), "name", None)
    if label not in MAPPERS:
        return
    if label not in ALWAYS and next(counters[(label, scenario)]) % EVERY:
        return
    MAPPERS[label](case)
    fresh_idempotency_key(case)
    mapped.add(case.id)


@schemathesis.hook
def after_call(context, case, response):
    """A mapped case is valid and names real data: any 4xx to it is written down, with why."""
    trace = os.environ.get("FUZZ_TRACE")
    if trace:
        meta = getattr(case, "meta", None) or getattr(case, "_meta", None)
        with open(trace, "a", encoding="utf-8") as out:
            out.write(json.dumps({"op": f"{case.method.upper()} {case.operation.path}",
                "phase": str(getattr(getattr(meta, "phase", None), "name", None)),
                "mode": str(getattr(getattr(meta, "generation", None), "mode", None)),
                "mapped": case.id in mapped, "status": response.status_code,
                "body": case.body if isinstance(case.body, (dict, list, str)) else None,
                "answer": response.text[:200]}, default=str) + "\n")
    if case.id not in mapped or response.status_code < 400 or not REFUSALS:
        return
    label = f"{case.method.upper()} {case.operation.path}"
    if label in ALWAYS and response.status_code == 403:
        return  # the depositor's own account: refused by design (see map_limits)
    meta = getattr(case, "meta", None) or getattr(case, "_meta", None)
    phase = getattr(getattr(meta, "phase", None), "name", None)
    record = {
        "operation": f"{case.method.upper()} {case.operation.path}",
        "phase": getattr(phase, "value", str(phase)),
        "status": response.status_code,
        "answer": response.text[:400],
        "path_parameters": case.path_parameters,
        "body": case.body if isinstance(case.body, (dict, list)) else None,
    }
    with open(REFUSALS, "a", encoding="utf-8") as refusals:
        refusals.write(json.dumps(record, default=str) + "\n")


def scenario_id():
    """The id of the scenario running this case: a local of schemathesis's runner, up the stack."""
    frame = sys._getframe(1)
    while frame is not None:
        found = frame.f_locals.get("scenario_id")
        if isinstance(found, uuid.UUID):
            return found
        frame = frame.f_back
    return None


def fresh_idempotency_key(case):
    """A mapped case has a new body: under a generated key that an earlier case of the run used
    (the coverage phase sends the same boundary keys again and again) the server answers 409
    idempotency_key_reused, and a phase whose mapped cases all got 409 looks as if the document
    allowed what the server refuses. A fresh key makes the mapped case the first of its key."""
    headers = case.headers
    if not isinstance(headers, MutableMapping):
        return
    for name in list(headers):
        if name.lower() == "idempotency-key":
            headers[name] = f"fuzz-{uuid.uuid4().hex}"


def map_transfer(case):
    case.body = transfer(body_field(case, "amount"))


def map_batch(case):
    case.body = {"transfers": [transfer(None)], "atomic": body_field(case, "atomic") is True}


def map_withdrawal(case):
    case.path_parameters = {**case.path_parameters, "id": ACCOUNT}
    case.body = {"amount": 1}


def transfer_of(transfer_id):
    """The transfer as the depositor reads it: random cases post, void and refund the run's real
    transfers too (their ids are small numbers), so a mapped case first checks its target is
    still what it needs (None: unreadable)."""
    request = urllib.request.Request(
        f"{ADDRESS}/transfers/{transfer_id}", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.load(answer)
    except (OSError, ValueError):
        return None


def map_ending(case, action):
    while PENDING[action]:
        hold = PENDING[action].pop()
        if (transfer_of(hold) or {}).get("status") == "pending":
            case.path_parameters = {**case.path_parameters, "id": hold}
            return


def map_post(case):
    map_ending(case, "post")
    case.body = {"amount": 1}


def map_void(case):
    map_ending(case, "void")


def map_reverse(case):
    """The depositor is the payee of these payments, so a refund of 0.01 is theirs to make."""
    while POSTED:
        payment = POSTED[next(counters["reverse"]) % len(POSTED)]
        seen = transfer_of(payment) or {}
        if seen.get("amount", 0) - seen.get("reversed_amount", 0) >= 1:
            case.path_parameters = {**case.path_parameters, "id": payment}
            case.body = {"amount": 1}
            return
        POSTED.remove(payment)


def map_read_transfer(case):
    """Schemathesis also fills a path id with a value an earlier answer held, and a dry run's
    transfer id is always null: a scenario whose cases all asked GET /transfers/null (400, a
    path id that is not an integer) read as "schema validation mismatch", though the value came
    from no schema. A payment to the depositor is always theirs to read."""
    payment = READABLE[next(counters["read"]) % len(READABLE)]
    case.path_parameters = {**case.path_parameters, "id": payment}


def map_limits(case):
    """The run's depositor may not set limits: on its own account that is 403, as a deposit or a
    freeze answers it (a random id is someone else's or no one's: 404, and nothing is reached)."""
    case.path_parameters = {**case.path_parameters, "id": ACCOUNT}
    case.body = {"overdraft": 0}


def map_sign_up(case):
    case.body = new_user()


def map_login(case):
    case.body = {"username": USERNAME, "password": PASSWORD}


MAPPERS = {
    "POST /transfers": map_transfer,
    "POST /transfers/batch": map_batch,
    "POST /accounts/{id}/withdrawals": map_withdrawal,
    "POST /transfers/{id}/post": map_post,
    "POST /transfers/{id}/void": map_void,
    "POST /transfers/{id}/reverse": map_reverse,
    "GET /transfers/{id}": map_read_transfer,
    "PUT /accounts/{id}/limits": map_limits,
    "POST /users": map_sign_up,
    "POST /users/login": map_login,
}

