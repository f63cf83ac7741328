from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="AmountRequest")


@_attrs_define
class AmountRequest:
    """Serialised, it is part of the request's idempotency fingerprint.

    Attributes:
        amount (int): Minor units, > 0. Example: 1250.
    """

    amount: int

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "amount": amount,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        amount = d.pop("amount")

        amount_request = cls(
            amount=amount,
        )

        return amount_request
