from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.account_view import AccountView
    from ..models.dry_run_transfer_view import DryRunTransferView


T = TypeVar("T", bound="DryRunResult")


@_attrs_define
class DryRunResult:
    """The answer to a dry run of `POST /transfers`: the transfer it would make and the payer's
    account as it would stand after it (`to_account` too when the caller owns it).

        Attributes:
            dry_run (bool): Always true.
            from_account (AccountView): An account. `owner` is null only for a currency's reserve account (visible to
                bankers).
            transfer (DryRunTransferView): A transfer as a dry run says it would be: no id (always null) and no timestamps,
                since
                nothing is stored.
            to_account (AccountView | None | Unset):
    """

    dry_run: bool
    from_account: AccountView
    transfer: DryRunTransferView
    to_account: AccountView | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.account_view import AccountView

        dry_run = self.dry_run

        from_account = self.from_account.to_dict()

        transfer = self.transfer.to_dict()

        to_account: dict[str, Any] | None | Unset
        if isinstance(self.to_account, Unset):
            to_account = UNSET
        elif isinstance(self.to_account, AccountView):
            to_account = self.to_account.to_dict()
        else:
            to_account = self.to_account

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "dry_run": dry_run,
                "from_account": from_account,
                "transfer": transfer,
            }
        )
        if to_account is not UNSET:
            field_dict["to_account"] = to_account

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.account_view import AccountView
        from ..models.dry_run_transfer_view import DryRunTransferView

        d = dict(src_dict)
        dry_run = d.pop("dry_run")

        from_account = AccountView.from_dict(d.pop("from_account"))

        transfer = DryRunTransferView.from_dict(d.pop("transfer"))

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

        dry_run_result = cls(
            dry_run=dry_run,
            from_account=from_account,
            transfer=transfer,
            to_account=to_account,
        )

        dry_run_result.additional_properties = d
        return dry_run_result

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
