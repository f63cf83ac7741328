from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.balance_at_view_currency import BalanceAtViewCurrency

T = TypeVar("T", bound="BalanceAtView")


@_attrs_define
class BalanceAtView:
    """The posted balance of an account at an instant.

    Attributes:
        account_id (int):
        at (datetime.datetime):
        balance (int):
        currency (BalanceAtViewCurrency):  Example: USD.
    """

    account_id: int
    at: datetime.datetime
    balance: int
    currency: BalanceAtViewCurrency
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        account_id = self.account_id

        at = self.at.isoformat()

        balance = self.balance

        currency = self.currency.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "account_id": account_id,
                "at": at,
                "balance": balance,
                "currency": currency,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        account_id = d.pop("account_id")

        at = datetime.datetime.fromisoformat(d.pop("at"))

        balance = d.pop("balance")

        currency = BalanceAtViewCurrency(d.pop("currency"))

        balance_at_view = cls(
            account_id=account_id,
            at=at,
            balance=balance,
            currency=currency,
        )

        balance_at_view.additional_properties = d
        return balance_at_view

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
