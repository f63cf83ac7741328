from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.create_transfer_request_currency import CreateTransferRequestCurrency
from ..types import UNSET, Unset

T = TypeVar("T", bound="CreateTransferRequest")


@_attrs_define
class CreateTransferRequest:
    """Serialised, it is the request's idempotency fingerprint (`routes::idempotency::Asked`).

    Attributes:
        amount (int): Minor units, > 0. Example: 1250.
        currency (CreateTransferRequestCurrency):  Example: USD.
        from_account_id (int):
        to_account_id (int):
        pending (bool | None | Unset): Hold the amount on the payer's account until the payee posts or voids it (or it
            expires) instead of moving it now. Default false.
        timeout_seconds (int | None | Unset): Seconds until a pending transfer expires: 1–604800 (default 86400); only
            with `pending`.
    """

    amount: int
    currency: CreateTransferRequestCurrency
    from_account_id: int
    to_account_id: int
    pending: bool | None | Unset = UNSET
    timeout_seconds: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        currency = self.currency.value

        from_account_id = self.from_account_id

        to_account_id = self.to_account_id

        pending: bool | None | Unset
        if isinstance(self.pending, Unset):
            pending = UNSET
        else:
            pending = self.pending

        timeout_seconds: int | None | Unset
        if isinstance(self.timeout_seconds, Unset):
            timeout_seconds = UNSET
        else:
            timeout_seconds = self.timeout_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "amount": amount,
                "currency": currency,
                "from_account_id": from_account_id,
                "to_account_id": to_account_id,
            }
        )
        if pending is not UNSET:
            field_dict["pending"] = pending
        if timeout_seconds is not UNSET:
            field_dict["timeout_seconds"] = timeout_seconds

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        amount = d.pop("amount")

        currency = CreateTransferRequestCurrency(d.pop("currency"))

        from_account_id = d.pop("from_account_id")

        to_account_id = d.pop("to_account_id")

        def _parse_pending(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        pending = _parse_pending(d.pop("pending", UNSET))

        def _parse_timeout_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout_seconds = _parse_timeout_seconds(d.pop("timeout_seconds", UNSET))

        create_transfer_request = cls(
            amount=amount,
            currency=currency,
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            pending=pending,
            timeout_seconds=timeout_seconds,
        )

        return create_transfer_request
