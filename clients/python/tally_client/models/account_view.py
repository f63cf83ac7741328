from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.account_view_currency import AccountViewCurrency
from ..models.account_view_status import AccountViewStatus
from ..types import UNSET, Unset

T = TypeVar("T", bound="AccountView")


@_attrs_define
class AccountView:
    """An account. `owner` is null only for a currency's reserve account (visible to bankers).

    Attributes:
        available (int): `balance + overdraft - held`: what transfers and withdrawals may spend (below 0 while a
            limit lowered below the account's debt is not paid back).
        balance (int): Posted balance in minor units.
        created_at (datetime.datetime):
        currency (AccountViewCurrency):  Example: USD.
        held (int): The sum of the account's pending outgoing transfers.
        id (int):
        overdraft (int): Minor units the balance may go below 0, set by a banker (0 by default).
        status (AccountViewStatus): `active`; `frozen` (refuses debits, accepts credits); `closed` (refuses both, for
            good). Example: active.
        owner (None | str | Unset):
    """

    available: int
    balance: int
    created_at: datetime.datetime
    currency: AccountViewCurrency
    held: int
    id: int
    overdraft: int
    status: AccountViewStatus
    owner: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        available = self.available

        balance = self.balance

        created_at = self.created_at.isoformat()

        currency = self.currency.value

        held = self.held

        id = self.id

        overdraft = self.overdraft

        status = self.status.value

        owner: None | str | Unset
        if isinstance(self.owner, Unset):
            owner = UNSET
        else:
            owner = self.owner

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "available": available,
                "balance": balance,
                "created_at": created_at,
                "currency": currency,
                "held": held,
                "id": id,
                "overdraft": overdraft,
                "status": status,
            }
        )
        if owner is not UNSET:
            field_dict["owner"] = owner

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        available = d.pop("available")

        balance = d.pop("balance")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        currency = AccountViewCurrency(d.pop("currency"))

        held = d.pop("held")

        id = d.pop("id")

        overdraft = d.pop("overdraft")

        status = AccountViewStatus(d.pop("status"))

        def _parse_owner(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        owner = _parse_owner(d.pop("owner", UNSET))

        account_view = cls(
            available=available,
            balance=balance,
            created_at=created_at,
            currency=currency,
            held=held,
            id=id,
            overdraft=overdraft,
            status=status,
            owner=owner,
        )

        account_view.additional_properties = d
        return account_view

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
