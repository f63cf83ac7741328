from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from attrs import define as _attrs_define

from ..models.create_transfer_request_currency import CreateTransferRequestCurrency
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.create_transfer_request_metadata_type_0 import (
        CreateTransferRequestMetadataType0,
    )


T = TypeVar("T", bound="CreateTransferRequest")


@_attrs_define
class CreateTransferRequest:
    """Serialised, it is the request's idempotency fingerprint (`routes::idempotency::Asked`).

    Attributes:
        amount (int): Minor units, > 0. Example: 1250.
        currency (CreateTransferRequestCurrency):  Example: USD.
        from_account_id (int):
        to_account_id (int):
        description (None | str | Unset): At most 140 characters, shown to both parties. Example: Rent for March.
        metadata (CreateTransferRequestMetadataType0 | None | Unset): At most 16 keys `^[a-z0-9_]{1,40}$`, string values
            of at most 200 characters. Shown to
            the payer's owner and bankers only.
        pending (bool | None | Unset): Hold the amount on the payer's account until the payee posts or voids it (or it
            expires) instead of moving it now. Default false.
        reference (None | str | Unset): 1–64 visible ASCII characters, unique per paying account (409
            `duplicate_reference`).
            Shown to the payer's owner and bankers only. Example: INV-2026-0042.
        timeout_seconds (int | None | Unset): Seconds until a pending transfer expires: 1–604800 (default 86400); only
            with `pending`.
    """

    amount: int
    currency: CreateTransferRequestCurrency
    from_account_id: int
    to_account_id: int
    description: None | str | Unset = UNSET
    metadata: CreateTransferRequestMetadataType0 | None | Unset = UNSET
    pending: bool | None | Unset = UNSET
    reference: None | str | Unset = UNSET
    timeout_seconds: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        from ..models.create_transfer_request_metadata_type_0 import (
            CreateTransferRequestMetadataType0,
        )

        amount = self.amount

        currency = self.currency.value

        from_account_id = self.from_account_id

        to_account_id = self.to_account_id

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        metadata: dict[str, Any] | None | Unset
        if isinstance(self.metadata, Unset):
            metadata = UNSET
        elif isinstance(self.metadata, CreateTransferRequestMetadataType0):
            metadata = self.metadata.to_dict()
        else:
            metadata = self.metadata

        pending: bool | None | Unset
        if isinstance(self.pending, Unset):
            pending = UNSET
        else:
            pending = self.pending

        reference: None | str | Unset
        if isinstance(self.reference, Unset):
            reference = UNSET
        else:
            reference = self.reference

        timeout_seconds: int | None | Unset
        if isinstance(self.timeout_seconds, Unset):
            timeout_seconds = UNSET
        else:
            timeout_seconds = self.timeout_seconds

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "amount": amount,
                "currency": currency,
                "from_account_id": from_account_id,
                "to_account_id": to_account_id,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if pending is not UNSET:
            field_dict["pending"] = pending
        if reference is not UNSET:
            field_dict["reference"] = reference
        if timeout_seconds is not UNSET:
            field_dict["timeout_seconds"] = timeout_seconds

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.create_transfer_request_metadata_type_0 import (
            CreateTransferRequestMetadataType0,
        )

        d = dict(src_dict)
        amount = d.pop("amount")

        currency = CreateTransferRequestCurrency(d.pop("currency"))

        from_account_id = d.pop("from_account_id")

        to_account_id = d.pop("to_account_id")

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_metadata(
            data: object,
        ) -> CreateTransferRequestMetadataType0 | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                metadata_type_0 = CreateTransferRequestMetadataType0.from_dict(data)

                return metadata_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(CreateTransferRequestMetadataType0 | None | Unset, data)

        metadata = _parse_metadata(d.pop("metadata", UNSET))

        def _parse_pending(data: object) -> bool | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(bool | None | Unset, data)

        pending = _parse_pending(d.pop("pending", UNSET))

        def _parse_reference(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reference = _parse_reference(d.pop("reference", UNSET))

        def _parse_timeout_seconds(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        timeout_seconds = _parse_timeout_seconds(d.pop("timeout_seconds", UNSET))

        create_transfer_request = cls(
            amount=amount,
            currency=currency,
            from_account_id=from_account_id,
            to_account_id=to_account_id,
            description=description,
            metadata=metadata,
            pending=pending,
            reference=reference,
            timeout_seconds=timeout_seconds,
        )

        return create_transfer_request
