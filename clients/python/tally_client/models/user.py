from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.role import Role

T = TypeVar("T", bound="User")


@_attrs_define
class User:
    """A user as the API shows it (docs/api.md): never the password hash.

    Attributes:
        created_at (datetime.datetime):
        email (str):
        full_name (str):
        password_changed_at (datetime.datetime):
        role (Role): What a user may do: depositors own accounts; bankers also deposit and see every account.
        username (str):
    """

    created_at: datetime.datetime
    email: str
    full_name: str
    password_changed_at: datetime.datetime
    role: Role
    username: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at.isoformat()

        email = self.email

        full_name = self.full_name

        password_changed_at = self.password_changed_at.isoformat()

        role = self.role.value

        username = self.username

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "email": email,
                "full_name": full_name,
                "password_changed_at": password_changed_at,
                "role": role,
                "username": username,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        email = d.pop("email")

        full_name = d.pop("full_name")

        password_changed_at = datetime.datetime.fromisoformat(
            d.pop("password_changed_at")
        )

        role = Role(d.pop("role"))

        username = d.pop("username")

        user = cls(
            created_at=created_at,
            email=email,
            full_name=full_name,
            password_changed_at=password_changed_at,
            role=role,
            username=username,
        )

        user.additional_properties = d
        return user

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
