"""Tally from Python, through the client generated from its OpenAPI document (tally_client).

Logs in, sends money with an Idempotency-Key (twice: the second is the stored answer), and reads
the payer's statement. Checks each outcome and exits non-zero when one is wrong.

    python clients/python/example.py BASE_URL USERNAME PASSWORD FROM_ACCOUNT TO_ACCOUNT
"""

import sys
import uuid

from tally_client import AuthenticatedClient, Client
from tally_client.api.accounts import get_account, list_entries
from tally_client.api.transfers import create_transfer
from tally_client.api.users import login
from tally_client.models import (
    CreateTransferRequest,
    CreateTransferRequestCurrency,
    LoginRequest,
    LoginResponse,
    TransferResult,
)

AMOUNT_MINOR_UNITS = 1250


def main(base_url: str, username: str, password: str, payer: int, payee: int) -> None:
    session = login.sync(
        client=Client(base_url=base_url),
        body=LoginRequest(username=username, password=password),
    )
    assert isinstance(session, LoginResponse), f"login failed: {session}"
    client = AuthenticatedClient(base_url=base_url, token=session.access_token)

    before = get_account.sync(payer, client=client)
    request = CreateTransferRequest(
        from_account_id=payer,
        to_account_id=payee,
        amount=AMOUNT_MINOR_UNITS,
        currency=CreateTransferRequestCurrency(before.currency),
    )
    key = f"example-{uuid.uuid4()}"
    first = create_transfer.sync_detailed(client=client, body=request, idempotency_key=key)
    assert isinstance(first.parsed, TransferResult), f"transfer failed: {first.content!r}"
    assert first.parsed.from_account.balance == before.balance - AMOUNT_MINOR_UNITS
    # The same key and body again: the first answer, replayed, and no second transfer.
    again = create_transfer.sync_detailed(client=client, body=request, idempotency_key=key)
    assert again.headers.get("Idempotent-Replayed") == "true", again.headers
    assert again.parsed.transfer.id == first.parsed.transfer.id

    entries = list_entries.sync(payer, client=client, limit=10)
    newest = entries[0]
    assert newest.transfer_id == first.parsed.transfer.id, entries
    assert newest.amount == -AMOUNT_MINOR_UNITS
    assert newest.balance_after == before.balance - AMOUNT_MINOR_UNITS
    after = get_account.sync(payer, client=client)
    assert after.balance == before.balance - AMOUNT_MINOR_UNITS, "moved once, not twice"
    print(
        f"example: transfer {first.parsed.transfer.id} of {AMOUNT_MINOR_UNITS} "
        f"{after.currency}, replayed once; balance {before.balance} -> {after.balance}"
    )


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    url, user, secret, from_account, to_account = sys.argv[1:]
    main(url, user, secret, int(from_account), int(to_account))
