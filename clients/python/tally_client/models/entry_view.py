from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="EntryView")


@_attrs_define
class EntryView:
    """One side of a transfer on one account: negative for a debit.

    Attributes:
        account_id (int):
        amount (int):
        created_at (datetime.datetime):
        id (int):
        transfer_id (int):
        balance_after (int | None | Unset): The account's posted balance right after this entry; only on entries of
            accounts the
            caller owns (or to a banker).
        counterparty_account_id (int | None | Unset): On a statement: the account on the other side of the transfer.
        description (None | str | Unset): On a statement: the transfer's description, when it has one.
        reference (None | str | Unset): On a statement: the transfer's reference, on the payer's side (a debit) only.
    """

    account_id: int
    amount: int
    created_at: datetime.datetime
    id: int
    transfer_id: int
    balance_after: int | None | Unset = UNSET
    counterparty_account_id: int | None | Unset = UNSET
    description: None | str | Unset = UNSET
    reference: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        account_id = self.account_id

        amount = self.amount

        created_at = self.created_at.isoformat()

        id = self.id

        transfer_id = self.transfer_id

        balance_after: int | None | Unset
        if isinstance(self.balance_after, Unset):
            balance_after = UNSET
        else:
            balance_after = self.balance_after

        counterparty_account_id: int | None | Unset
        if isinstance(self.counterparty_account_id, Unset):
            counterparty_account_id = UNSET
        else:
            counterparty_account_id = self.counterparty_account_id

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        reference: None | str | Unset
        if isinstance(self.reference, Unset):
            reference = UNSET
        else:
            reference = self.reference

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "account_id": account_id,
                "amount": amount,
                "created_at": created_at,
                "id": id,
                "transfer_id": transfer_id,
            }
        )
        if balance_after is not UNSET:
            field_dict["balance_after"] = balance_after
        if counterparty_account_id is not UNSET:
            field_dict["counterparty_account_id"] = counterparty_account_id
        if description is not UNSET:
            field_dict["description"] = description
        if reference is not UNSET:
            field_dict["reference"] = reference

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        account_id = d.pop("account_id")

        amount = d.pop("amount")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        id = d.pop("id")

        transfer_id = d.pop("transfer_id")

        def _parse_balance_after(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        balance_after = _parse_balance_after(d.pop("balance_after", UNSET))

        def _parse_counterparty_account_id(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        counterparty_account_id = _parse_counterparty_account_id(
            d.pop("counterparty_account_id", UNSET)
        )

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_reference(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reference = _parse_reference(d.pop("reference", UNSET))

        entry_view = cls(
            account_id=account_id,
            amount=amount,
            created_at=created_at,
            id=id,
            transfer_id=transfer_id,
            balance_after=balance_after,
            counterparty_account_id=counterparty_account_id,
            description=description,
            reference=reference,
        )

        entry_view.additional_properties = d
        return entry_view

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
