from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_transfer_request import CreateTransferRequest


T = TypeVar("T", bound="BatchRequest")


@_attrs_define
class BatchRequest:
    """
    Attributes:
        transfers (list[CreateTransferRequest]): 1–1,000 items, each the body of `POST /transfers`; they take effect in
            this order.
        atomic (bool | None | Unset): All or nothing (default false: each item on its own).
    """

    transfers: list[CreateTransferRequest]
    atomic: bool | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        transfers = []
        for transfers_item_data in self.transfers:
            transfers_item = transfers_item_data.to_dict()
            transfers.append(transfers_item)

        atomic: bool | None | Unset
        if isinstance(self.atomic, Unset):
            atomic = UNSET
        else:
            atomic = self.atomic

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "transfers": transfers,
            }
        )
        if atomic is not UNSET:
            field_dict["atomic"] = atomic

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.create_transfer_request import CreateTransferRequest

        d = dict(src_dict)
        transfers = []
        _transfers = d.pop("transfers")
        for transfers_item_data in _transfers:
            transfers_item = CreateTransferRequest.from_dict(transfers_item_data)

            transfers.append(transfers_item)

        def _parse_atomic(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        atomic = _parse_atomic(d.pop("atomic", UNSET))

        batch_request = cls(
            transfers=transfers,
            atomic=atomic,
        )

        return batch_request
