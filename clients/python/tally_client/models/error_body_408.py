from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.error_body_408_error import ErrorBody408Error


T = TypeVar("T", bound="ErrorBody408")


@_attrs_define
class ErrorBody408:
    """The error answered with 408: `error.code` is one of its codes.

    Attributes:
        error (ErrorBody408Error):
    """

    error: ErrorBody408Error
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        error = self.error.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "error": error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.error_body_408_error import ErrorBody408Error

        d = dict(src_dict)
        error = ErrorBody408Error.from_dict(d.pop("error"))

        error_body_408 = cls(
            error=error,
        )

        error_body_408.additional_properties = d
        return error_body_408

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
