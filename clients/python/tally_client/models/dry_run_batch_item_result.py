from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.dry_run_transfer_view import DryRunTransferView
    from ..models.error_detail import ErrorDetail


T = TypeVar("T", bound="DryRunBatchItemResult")


@_attrs_define
class DryRunBatchItemResult:
    """One item of a batch's dry run: the transfer it would make, or why it would be refused.

    Attributes:
        error (ErrorDetail | None | Unset):
        transfer (DryRunTransferView | None | Unset):
    """

    error: ErrorDetail | None | Unset = UNSET
    transfer: DryRunTransferView | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.dry_run_transfer_view import DryRunTransferView
        from ..models.error_detail import ErrorDetail

        error: dict[str, Any] | None | Unset
        if isinstance(self.error, Unset):
            error = UNSET
        elif isinstance(self.error, ErrorDetail):
            error = self.error.to_dict()
        else:
            error = self.error

        transfer: dict[str, Any] | None | Unset
        if isinstance(self.transfer, Unset):
            transfer = UNSET
        elif isinstance(self.transfer, DryRunTransferView):
            transfer = self.transfer.to_dict()
        else:
            transfer = self.transfer

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if error is not UNSET:
            field_dict["error"] = error
        if transfer is not UNSET:
            field_dict["transfer"] = transfer

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.dry_run_transfer_view import DryRunTransferView
        from ..models.error_detail import ErrorDetail

        d = dict(src_dict)

        def _parse_error(data: object) -> ErrorDetail | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                error_type_1 = ErrorDetail.from_dict(data)

                return error_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ErrorDetail | None | Unset, data)

        error = _parse_error(d.pop("error", UNSET))

        def _parse_transfer(data: object) -> DryRunTransferView | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                transfer_type_1 = DryRunTransferView.from_dict(data)

                return transfer_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DryRunTransferView | None | Unset, data)

        transfer = _parse_transfer(d.pop("transfer", UNSET))

        dry_run_batch_item_result = cls(
            error=error,
            transfer=transfer,
        )

        dry_run_batch_item_result.additional_properties = d
        return dry_run_batch_item_result

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
