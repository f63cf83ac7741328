from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="WebhookView")


@_attrs_define
class WebhookView:
    """
    Attributes:
        created_at (datetime.datetime):
        created_by (str):
        delivered_id (int): The last event delivered (or skipped as not of its types).
        failures (int): Failed attempts at the next event.
        id (int):
        next_attempt_at (datetime.datetime):
        status (str): `active`, or `paused` after failing for 24 hours. Example: active.
        url (str):
        last_error (None | str | Unset):
        types (list[str] | None | Unset):
    """

    created_at: datetime.datetime
    created_by: str
    delivered_id: int
    failures: int
    id: int
    next_attempt_at: datetime.datetime
    status: str
    url: str
    last_error: None | str | Unset = UNSET
    types: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        created_by = self.created_by

        delivered_id = self.delivered_id

        failures = self.failures

        id = self.id

        next_attempt_at = self.next_attempt_at.isoformat()

        status = self.status

        url = self.url

        last_error: None | str | Unset
        if isinstance(self.last_error, Unset):
            last_error = UNSET
        else:
            last_error = self.last_error

        types: list[str] | None | Unset
        if isinstance(self.types, Unset):
            types = UNSET
        elif isinstance(self.types, list):
            types = self.types

        else:
            types = self.types

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "created_by": created_by,
                "delivered_id": delivered_id,
                "failures": failures,
                "id": id,
                "next_attempt_at": next_attempt_at,
                "status": status,
                "url": url,
            }
        )
        if last_error is not UNSET:
            field_dict["last_error"] = last_error
        if types is not UNSET:
            field_dict["types"] = types

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        created_by = d.pop("created_by")

        delivered_id = d.pop("delivered_id")

        failures = d.pop("failures")

        id = d.pop("id")

        next_attempt_at = datetime.datetime.fromisoformat(d.pop("next_attempt_at"))

        status = d.pop("status")

        url = d.pop("url")

        def _parse_last_error(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        last_error = _parse_last_error(d.pop("last_error", UNSET))

        def _parse_types(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                types_type_0 = cast(list[str], data)

                return types_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        types = _parse_types(d.pop("types", UNSET))

        webhook_view = cls(
            created_at=created_at,
            created_by=created_by,
            delivered_id=delivered_id,
            failures=failures,
            id=id,
            next_attempt_at=next_attempt_at,
            status=status,
            url=url,
            last_error=last_error,
            types=types,
        )

        webhook_view.additional_properties = d
        return webhook_view

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
