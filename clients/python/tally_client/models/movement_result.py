from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.account_view import AccountView
    from ..models.transfer_view import TransferView


T = TypeVar("T", bound="MovementResult")


@_attrs_define
class MovementResult:
    """The answer to a deposit or a withdrawal: the transfer and the customer's account after it.

    Attributes:
        account (AccountView): An account. `owner` is null only for a currency's reserve account (visible to bankers).
        transfer (TransferView):
    """

    account: AccountView
    transfer: TransferView
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        account = self.account.to_dict()

        transfer = self.transfer.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "account": account,
                "transfer": transfer,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.account_view import AccountView
        from ..models.transfer_view import TransferView

        d = dict(src_dict)
        account = AccountView.from_dict(d.pop("account"))

        transfer = TransferView.from_dict(d.pop("transfer"))

        movement_result = cls(
            account=account,
            transfer=transfer,
        )

        movement_result.additional_properties = d
        return movement_result

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
