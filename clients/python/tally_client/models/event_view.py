from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.account_view import AccountView
    from ..models.transfer_event_data import TransferEventData


T = TypeVar("T", bound="EventView")


@_attrs_define
class EventView:
    """One change. `data` is the transfer (with the balances right after it on the caller's own
    accounts) or the account as it stood right after the change.

        Attributes:
            created_at (datetime.datetime):
            data (AccountView | TransferEventData):
            id (int): Global, gap-free, increasing in commit order.
            type_ (str): `transfer.posted`, `transfer.pending`, `transfer.voided`, `transfer.expired`,
                `transfer.reversed`, `account.opened`, `account.frozen`, `account.unfrozen`,
                `account.closed`. Example: transfer.posted.
    """

    created_at: datetime.datetime
    data: AccountView | TransferEventData
    id: int
    type_: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.transfer_event_data import TransferEventData

        created_at = self.created_at.isoformat()

        data: dict[str, Any]
        if isinstance(self.data, TransferEventData):
            data = self.data.to_dict()
        else:
            data = self.data.to_dict()

        id = self.id

        type_ = self.type_

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "data": data,
                "id": id,
                "type": type_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.account_view import AccountView
        from ..models.transfer_event_data import TransferEventData

        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        def _parse_data(data: object) -> AccountView | TransferEventData:
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_event_data_type_0 = TransferEventData.from_dict(data)

                return componentsschemas_event_data_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            componentsschemas_event_data_type_1 = AccountView.from_dict(data)

            return componentsschemas_event_data_type_1

        data = _parse_data(d.pop("data"))

        id = d.pop("id")

        type_ = d.pop("type")

        event_view = cls(
            created_at=created_at,
            data=data,
            id=id,
            type_=type_,
        )

        event_view.additional_properties = d
        return event_view

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
