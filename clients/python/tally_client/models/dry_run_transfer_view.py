from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.dry_run_transfer_view_currency import DryRunTransferViewCurrency
from ..models.dry_run_transfer_view_status import DryRunTransferViewStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.dry_run_transfer_view_metadata_type_0 import (
        DryRunTransferViewMetadataType0,
    )


T = TypeVar("T", bound="DryRunTransferView")


@_attrs_define
class DryRunTransferView:
    """A transfer as a dry run says it would be: no id (always null) and no timestamps, since
    nothing is stored.

        Attributes:
            amount (int): Minor units, > 0.
            currency (DryRunTransferViewCurrency):  Example: USD.
            from_account_id (int):
            status (DryRunTransferViewStatus): `posted`, or `pending` for a pending transfer. Example: posted.
            to_account_id (int):
            description (None | str | Unset):
            id (int | None | Unset): Always null: a dry run creates no transfer.
            metadata (DryRunTransferViewMetadataType0 | None | Unset):
            reference (None | str | Unset):
    """

    amount: int
    currency: DryRunTransferViewCurrency
    from_account_id: int
    status: DryRunTransferViewStatus
    to_account_id: int
    description: None | str | Unset = UNSET
    id: int | None | Unset = UNSET
    metadata: DryRunTransferViewMetadataType0 | None | Unset = UNSET
    reference: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.dry_run_transfer_view_metadata_type_0 import (
            DryRunTransferViewMetadataType0,
        )

        amount = self.amount

        currency = self.currency.value

        from_account_id = self.from_account_id

        status = self.status.value

        to_account_id = self.to_account_id

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        id: int | None | Unset
        if isinstance(self.id, Unset):
            id = UNSET
        else:
            id = self.id

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, DryRunTransferViewMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        reference: None | str | Unset
        if isinstance(self.reference, Unset):
            reference = UNSET
        else:
            reference = self.reference

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "currency": currency,
                "from_account_id": from_account_id,
                "status": status,
                "to_account_id": to_account_id,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if id is not UNSET:
            field_dict["id"] = id
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if reference is not UNSET:
            field_dict["reference"] = reference

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.dry_run_transfer_view_metadata_type_0 import (
            DryRunTransferViewMetadataType0,
        )

        d = dict(src_dict)
        amount = d.pop("amount")

        currency = DryRunTransferViewCurrency(d.pop("currency"))

        from_account_id = d.pop("from_account_id")

        status = DryRunTransferViewStatus(d.pop("status"))

        to_account_id = d.pop("to_account_id")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_id(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        id = _parse_id(d.pop("id", UNSET))

        def _parse_metadata(
            data: object,
        ) -> DryRunTransferViewMetadataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = DryRunTransferViewMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(DryRunTransferViewMetadataType0 | None | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        def _parse_reference(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reference = _parse_reference(d.pop("reference", UNSET))

        dry_run_transfer_view = cls(
            amount=amount,
            currency=currency,
            from_account_id=from_account_id,
            status=status,
            to_account_id=to_account_id,
            description=description,
            id=id,
            metadata=metadata,
            reference=reference,
        )

        dry_run_transfer_view.additional_properties = d
        return dry_run_transfer_view

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
