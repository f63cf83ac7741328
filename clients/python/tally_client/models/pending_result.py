from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.account_view import AccountView
    from ..models.entry_view import EntryView
    from ..models.transfer_view import TransferView


T = TypeVar("T", bound="PendingResult")


@_attrs_define
class PendingResult:
    """The answer to posting or voiding a pending transfer: the transfer, its entries when it was
    posted, and the accounts the caller owns (a banker: both).

        Attributes:
            transfer (TransferView):
            from_account (AccountView | None | Unset):
            from_entry (EntryView | None | Unset):
            to_account (AccountView | None | Unset):
            to_entry (EntryView | None | Unset):
    """

    transfer: TransferView
    from_account: AccountView | None | Unset = UNSET
    from_entry: EntryView | None | Unset = UNSET
    to_account: AccountView | None | Unset = UNSET
    to_entry: EntryView | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.account_view import AccountView
        from ..models.entry_view import EntryView

        transfer = self.transfer.to_dict()

        from_account: dict[str, Any] | None | Unset
        if isinstance(self.from_account, Unset):
            from_account = UNSET
        elif isinstance(self.from_account, AccountView):
            from_account = self.from_account.to_dict()
        else:
            from_account = self.from_account

        from_entry: dict[str, Any] | None | Unset
        if isinstance(self.from_entry, Unset):
            from_entry = UNSET
        elif isinstance(self.from_entry, EntryView):
            from_entry = self.from_entry.to_dict()
        else:
            from_entry = self.from_entry

        to_account: dict[str, Any] | None | Unset
        if isinstance(self.to_account, Unset):
            to_account = UNSET
        elif isinstance(self.to_account, AccountView):
            to_account = self.to_account.to_dict()
        else:
            to_account = self.to_account

        to_entry: dict[str, Any] | None | Unset
        if isinstance(self.to_entry, Unset):
            to_entry = UNSET
        elif isinstance(self.to_entry, EntryView):
            to_entry = self.to_entry.to_dict()
        else:
            to_entry = self.to_entry

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "transfer": transfer,
            }
        )
        if from_account is not UNSET:
            field_dict["from_account"] = from_account
        if from_entry is not UNSET:
            field_dict["from_entry"] = from_entry
        if to_account is not UNSET:
            field_dict["to_account"] = to_account
        if to_entry is not UNSET:
            field_dict["to_entry"] = to_entry

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.account_view import AccountView
        from ..models.entry_view import EntryView
        from ..models.transfer_view import TransferView

        d = dict(src_dict)
        transfer = TransferView.from_dict(d.pop("transfer"))

        def _parse_from_account(data: object) -> AccountView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                from_account_type_1 = AccountView.from_dict(data)

                return from_account_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AccountView | None | Unset, data)

        from_account = _parse_from_account(d.pop("from_account", UNSET))

        def _parse_from_entry(data: object) -> EntryView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                from_entry_type_1 = EntryView.from_dict(data)

                return from_entry_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EntryView | None | Unset, data)

        from_entry = _parse_from_entry(d.pop("from_entry", UNSET))

        def _parse_to_account(data: object) -> AccountView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                to_account_type_1 = AccountView.from_dict(data)

                return to_account_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(AccountView | None | Unset, data)

        to_account = _parse_to_account(d.pop("to_account", UNSET))

        def _parse_to_entry(data: object) -> EntryView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                to_entry_type_1 = EntryView.from_dict(data)

                return to_entry_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(EntryView | None | Unset, data)

        to_entry = _parse_to_entry(d.pop("to_entry", UNSET))

        pending_result = cls(
            transfer=transfer,
            from_account=from_account,
            from_entry=from_entry,
            to_account=to_account,
            to_entry=to_entry,
        )

        pending_result.additional_properties = d
        return pending_result

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
