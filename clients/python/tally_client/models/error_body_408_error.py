from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.error_body_408_error_code import ErrorBody408ErrorCode
from ..types import UNSET, Unset

T = TypeVar("T", bound="ErrorBody408Error")


@_attrs_define
class ErrorBody408Error:
    """
    Attributes:
        code (ErrorBody408ErrorCode): A stable snake_case code, e.g. `insufficient_funds`.
        message (str): A sentence for a person.
        index (int | Unset): The position of the offending item in a batch request.
    """

    code: ErrorBody408ErrorCode
    message: str
    index: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code.value

        message = self.message

        index = self.index

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
            }
        )
        if index is not UNSET:
            field_dict["index"] = index

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        code = ErrorBody408ErrorCode(d.pop("code"))

        message = d.pop("message")

        index = d.pop("index", UNSET)

        error_body_408_error = cls(
            code=code,
            message=message,
            index=index,
        )

        error_body_408_error.additional_properties = d
        return error_body_408_error

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
