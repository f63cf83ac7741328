"""Schemathesis hooks for scripts/fuzz: real data for a share of the valid (positive) cases.

Random account and transfer ids are almost never real, so without these hooks every transfer,
post and void would answer 404 and no case would reach the code that moves money (schemathesis
warns "missing test data"); random passwords and emails mostly fail the server's own checks.
Every third positive case of the operations below (the first of each phase among them) is pointed at the run's real accounts, pending
transfers, payments and user, with values the document allows, so it stays a positive case. Negative
cases are never touched: they must still be refused.
"""

import itertools
import os
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
USERNAME = os.environ["FUZZ_USERNAME"]
PASSWORD = os.environ["FUZZ_PASSWORD"]
EVERY = 3
counters = defaultdict(itertools.count)


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
    # Counted per phase too: each phase's first positive case of an operation is always mapped, so
    # none of them sees only random data.
    phase = getattr(getattr(meta, "phase", None), "name", None)
    if label not in MAPPERS or next(counters[(label, phase)]) % EVERY:
        return
    MAPPERS[label](case)
    fresh_idempotency_key(case)


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


def map_ending(case, action):
    if PENDING[action]:
        case.path_parameters = {**case.path_parameters, "id": PENDING[action].pop()}


def map_post(case):
    map_ending(case, "post")
    case.body = {"amount": 1}


def map_void(case):
    map_ending(case, "void")


def map_reverse(case):
    """The depositor is the payee of these payments, so a refund of 0.01 is theirs to make."""
    payment = POSTED[next(counters["reverse"]) % len(POSTED)]
    case.path_parameters = {**case.path_parameters, "id": payment}
    case.body = {"amount": 1}


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
    "POST /users": map_sign_up,
    "POST /users/login": map_login,
}

