from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

from ..models.create_account_request_currency import CreateAccountRequestCurrency

T = TypeVar("T", bound="CreateAccountRequest")


@_attrs_define
class CreateAccountRequest:
    """
    Attributes:
        currency (CreateAccountRequestCurrency): One of USD, EUR, CAD, KRW, JPY, GBP. Example: USD.
    """

    currency: CreateAccountRequestCurrency

    def to_dict(self) -> dict[str, Any]:
        currency = self.currency.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "currency": currency,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        currency = CreateAccountRequestCurrency(d.pop("currency"))

        create_account_request = cls(
            currency=currency,
        )

        return create_account_request
