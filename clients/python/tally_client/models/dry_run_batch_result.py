from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.account_view import AccountView
    from ..models.dry_run_batch_item_result import DryRunBatchItemResult


T = TypeVar("T", bound="DryRunBatchResult")


@_attrs_define
class DryRunBatchResult:
    """The answer to a dry run of `POST /transfers/batch`.

    Attributes:
        accounts (list[AccountView]): The caller's accounts the batch would change, as they would stand after it.
        dry_run (bool): Always true.
        results (list[DryRunBatchItemResult]): In request order.
    """

    accounts: list[AccountView]
    dry_run: bool
    results: list[DryRunBatchItemResult]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        accounts = []
        for accounts_item_data in self.accounts:
            accounts_item = accounts_item_data.to_dict()
            accounts.append(accounts_item)

        dry_run = self.dry_run

        results = []
        for results_item_data in self.results:
            results_item = results_item_data.to_dict()
            results.append(results_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "accounts": accounts,
                "dry_run": dry_run,
                "results": results,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.account_view import AccountView
        from ..models.dry_run_batch_item_result import DryRunBatchItemResult

        d = dict(src_dict)
        accounts = []
        _accounts = d.pop("accounts")
        for accounts_item_data in _accounts:
            accounts_item = AccountView.from_dict(accounts_item_data)

            accounts.append(accounts_item)

        dry_run = d.pop("dry_run")

        results = []
        _results = d.pop("results")
        for results_item_data in _results:
            results_item = DryRunBatchItemResult.from_dict(results_item_data)

            results.append(results_item)

        dry_run_batch_result = cls(
            accounts=accounts,
            dry_run=dry_run,
            results=results,
        )

        dry_run_batch_result.additional_properties = d
        return dry_run_batch_result

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
