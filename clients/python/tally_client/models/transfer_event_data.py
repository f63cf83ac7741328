from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.transfer_view_currency import TransferViewCurrency
from ..models.transfer_view_status import TransferViewStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.transfer_view_metadata_type_0 import TransferViewMetadataType0


T = TypeVar("T", bound="TransferEventData")


@_attrs_define
class TransferEventData:
    """
    Attributes:
        amount (int): Minor units, > 0.
        created_at (datetime.datetime):
        currency (TransferViewCurrency):  Example: USD.
        from_account_id (int):
        id (int):
        reversed_amount (int): How much of this transfer was refunded by reversals (0 to `amount`).
        status (TransferViewStatus): `posted` for every ordinary transfer, deposit and withdrawal; `pending`, `voided`
            or
            `expired` for holds. Example: posted.
        to_account_id (int):
        description (None | str | Unset): What the payer wrote about the transfer; shown to both parties. Absent when
            none.
        expires_at (datetime.datetime | None | Unset): Null unless the transfer was created pending.
        metadata (None | TransferViewMetadataType0 | Unset): The payer's metadata; only to the payer's owner and
            bankers. Absent when none (or not
            shown).
        posted_at (datetime.datetime | None | Unset): Null unless posted.
        reference (None | str | Unset): The payer's reference, unique per paying account; only to the payer's owner and
            bankers. Absent when none (or not shown).
        reversal_of (int | None | Unset): The transfer this one refunds; absent unless it is a reversal.
        from_balance_after (int | None | Unset): The payer's balance right after the transfer: only to its owner or a
            banker.
        to_balance_after (int | None | Unset): The payee's balance right after the transfer: only to its owner or a
            banker.
    """

    amount: int
    created_at: datetime.datetime
    currency: TransferViewCurrency
    from_account_id: int
    id: int
    reversed_amount: int
    status: TransferViewStatus
    to_account_id: int
    description: None | str | Unset = UNSET
    expires_at: datetime.datetime | None | Unset = UNSET
    metadata: None | TransferViewMetadataType0 | Unset = UNSET
    posted_at: datetime.datetime | None | Unset = UNSET
    reference: None | str | Unset = UNSET
    reversal_of: int | None | Unset = UNSET
    from_balance_after: int | None | Unset = UNSET
    to_balance_after: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.transfer_view_metadata_type_0 import TransferViewMetadataType0

        amount = self.amount

        created_at = self.created_at.isoformat()

        currency = self.currency.value

        from_account_id = self.from_account_id

        id = self.id

        reversed_amount = self.reversed_amount

        status = self.status.value

        to_account_id = self.to_account_id

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        expires_at: None | str | Unset
        if isinstance(self.expires_at, Unset):
            expires_at = UNSET
        elif isinstance(self.expires_at, datetime.datetime):
            expires_at = self.expires_at.isoformat()
        else:
            expires_at = self.expires_at

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, TransferViewMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        posted_at: None | str | Unset
        if isinstance(self.posted_at, Unset):
            posted_at = UNSET
        elif isinstance(self.posted_at, datetime.datetime):
            posted_at = self.posted_at.isoformat()
        else:
            posted_at = self.posted_at

        reference: None | str | Unset
        if isinstance(self.reference, Unset):
            reference = UNSET
        else:
            reference = self.reference

        reversal_of: int | None | Unset
        if isinstance(self.reversal_of, Unset):
            reversal_of = UNSET
        else:
            reversal_of = self.reversal_of

        from_balance_after: int | None | Unset
        if isinstance(self.from_balance_after, Unset):
            from_balance_after = UNSET
        else:
            from_balance_after = self.from_balance_after

        to_balance_after: int | None | Unset
        if isinstance(self.to_balance_after, Unset):
            to_balance_after = UNSET
        else:
            to_balance_after = self.to_balance_after

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "created_at": created_at,
                "currency": currency,
                "from_account_id": from_account_id,
                "id": id,
                "reversed_amount": reversed_amount,
                "status": status,
                "to_account_id": to_account_id,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if expires_at is not UNSET:
            field_dict["expires_at"] = expires_at
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if posted_at is not UNSET:
            field_dict["posted_at"] = posted_at
        if reference is not UNSET:
            field_dict["reference"] = reference
        if reversal_of is not UNSET:
            field_dict["reversal_of"] = reversal_of
        if from_balance_after is not UNSET:
            field_dict["from_balance_after"] = from_balance_after
        if to_balance_after is not UNSET:
            field_dict["to_balance_after"] = to_balance_after

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.transfer_view_metadata_type_0 import TransferViewMetadataType0

        d = dict(src_dict)
        amount = d.pop("amount")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        currency = TransferViewCurrency(d.pop("currency"))

        from_account_id = d.pop("from_account_id")

        id = d.pop("id")

        reversed_amount = d.pop("reversed_amount")

        status = TransferViewStatus(d.pop("status"))

        to_account_id = d.pop("to_account_id")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_expires_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                expires_at_type_0 = datetime.datetime.fromisoformat(data)

                return expires_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        expires_at = _parse_expires_at(d.pop("expires_at", UNSET))

        def _parse_metadata(data: object) -> None | TransferViewMetadataType0 | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = TransferViewMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | TransferViewMetadataType0 | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        def _parse_posted_at(data: object) -> datetime.datetime | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                posted_at_type_0 = datetime.datetime.fromisoformat(data)

                return posted_at_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(datetime.datetime | None | Unset, data)

        posted_at = _parse_posted_at(d.pop("posted_at", UNSET))

        def _parse_reference(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reference = _parse_reference(d.pop("reference", UNSET))

        def _parse_reversal_of(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        reversal_of = _parse_reversal_of(d.pop("reversal_of", UNSET))

        def _parse_from_balance_after(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        from_balance_after = _parse_from_balance_after(
            d.pop("from_balance_after", UNSET)
        )

        def _parse_to_balance_after(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        to_balance_after = _parse_to_balance_after(d.pop("to_balance_after", UNSET))

        transfer_event_data = cls(
            amount=amount,
            created_at=created_at,
            currency=currency,
            from_account_id=from_account_id,
            id=id,
            reversed_amount=reversed_amount,
            status=status,
            to_account_id=to_account_id,
            description=description,
            expires_at=expires_at,
            metadata=metadata,
            posted_at=posted_at,
            reference=reference,
            reversal_of=reversal_of,
            from_balance_after=from_balance_after,
            to_balance_after=to_balance_after,
        )

        transfer_event_data.additional_properties = d
        return transfer_event_data

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
