from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="LimitsRequest")


@_attrs_define
class LimitsRequest:
    """
    Attributes:
        overdraft (int): Minor units the balance may go below 0: 0 (no overdraft, the default) to 10^12. Example: 50000.
    """

    overdraft: int

    def to_dict(self) -> dict[str, Any]:
        overdraft = self.overdraft

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "overdraft": overdraft,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        overdraft = d.pop("overdraft")

        limits_request = cls(
            overdraft=overdraft,
        )

        return limits_request
