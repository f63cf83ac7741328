from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.user import User


T = TypeVar("T", bound="LoginResponse")


@_attrs_define
class LoginResponse:
    """
    Attributes:
        access_token (str):
        access_token_expires_at (datetime.datetime):
        refresh_token (str):
        refresh_token_expires_at (datetime.datetime):
        session_id (UUID):
        user (User): A user as the API shows it (docs/api.md): never the password hash.
    """

    access_token: str
    access_token_expires_at: datetime.datetime
    refresh_token: str
    refresh_token_expires_at: datetime.datetime
    session_id: UUID
    user: User
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        access_token = self.access_token

        access_token_expires_at = self.access_token_expires_at.isoformat()

        refresh_token = self.refresh_token

        refresh_token_expires_at = self.refresh_token_expires_at.isoformat()

        session_id = str(self.session_id)

        user = self.user.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "access_token": access_token,
                "access_token_expires_at": access_token_expires_at,
                "refresh_token": refresh_token,
                "refresh_token_expires_at": refresh_token_expires_at,
                "session_id": session_id,
                "user": user,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls, src_dict: Mapping[str, Any]) -> Self:
        from ..models.user import User

        d = dict(src_dict)
        access_token = d.pop("access_token")

        access_token_expires_at = datetime.datetime.fromisoformat(
            d.pop("access_token_expires_at")
        )

        refresh_token = d.pop("refresh_token")

        refresh_token_expires_at = datetime.datetime.fromisoformat(
            d.pop("refresh_token_expires_at")
        )

        session_id = UUID(d.pop("session_id"))

        user = User.from_dict(d.pop("user"))

        login_response = cls(
            access_token=access_token,
            access_token_expires_at=access_token_expires_at,
            refresh_token=refresh_token,
            refresh_token_expires_at=refresh_token_expires_at,
            session_id=session_id,
            user=user,
        )

        login_response.additional_properties = d
        return login_response

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
