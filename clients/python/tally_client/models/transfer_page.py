from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.transfer_view import TransferView


T = TypeVar("T", bound="TransferPage")


@_attrs_define
class TransferPage:
    """One page of a search.

    Attributes:
        transfers (list[TransferView]): Newest first.
        next_before_id (int | None | Unset): The `before_id` of the next page; null on the last page.
    """

    transfers: list[TransferView]
    next_before_id: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        transfers = []
        for transfers_item_data in self.transfers:
            transfers_item = transfers_item_data.to_dict()
            transfers.append(transfers_item)

        next_before_id: int | None | Unset
        if isinstance(self.next_before_id, Unset):
            next_before_id = UNSET
        else:
            next_before_id = self.next_before_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "transfers": transfers,
            }
        )
        if next_before_id is not UNSET:
            field_dict["next_before_id"] = next_before_id

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.transfer_view import TransferView

        d = dict(src_dict)
        transfers = []
        _transfers = d.pop("transfers")
        for transfers_item_data in _transfers:
            transfers_item = TransferView.from_dict(transfers_item_data)

            transfers.append(transfers_item)

        def _parse_next_before_id(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        next_before_id = _parse_next_before_id(d.pop("next_before_id", UNSET))

        transfer_page = cls(
            transfers=transfers,
            next_before_id=next_before_id,
        )

        transfer_page.additional_properties = d
        return transfer_page

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
