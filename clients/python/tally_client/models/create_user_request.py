from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="CreateUserRequest")


@_attrs_define
class CreateUserRequest:
    """
    Attributes:
        email (str):
        full_name (str): 1 to 100 characters once trimmed.
        password (str): 8 to 72 bytes (JSON Schema counts characters, so only the upper bound is stated).
        username (str):
    """

    email: str
    full_name: str
    password: str
    username: str

    def to_dict(self) -> dict[str, Any]:
        email = self.email

        full_name = self.full_name

        password = self.password

        username = self.username

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "email": email,
                "full_name": full_name,
                "password": password,
                "username": username,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        d = dict(src_dict)
        email = d.pop("email")

        full_name = d.pop("full_name")

        password = d.pop("password")

        username = d.pop("username")

        create_user_request = cls(
            email=email,
            full_name=full_name,
            password=password,
            username=username,
        )

        return create_user_request
