"""What the gateway's own endpoints accept; every other route uses its service's schemas."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from qunping.core.schemas import StrictSchema
from services.gateway.auth import ORGANISER, PLATFORM_ADMIN, ROLES

USERNAME = validate.Regexp(r"^[A-Za-z0-9_.-]{3,40}$")


class LoginInput(StrictSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=40))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200))


PASSWORD = validate.Length(min=10, max=200)


class CreateAccount(StrictSchema):
    username = fields.String(required=True, validate=USERNAME)
    password = fields.String(required=True, validate=PASSWORD)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    community = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 100))

    @validates_schema
    def organisers_have_a_community(self, data: dict[str, Any], **_: Any) -> None:
        if (data["role"] == ORGANISER) != (data.get("community") is not None):
            raise ValidationError(
                "an organiser has a community; the other roles have none", "community"
            )


DISTRICT = validate.Length(min=1, max=40)


class NewAccount(CreateAccount):
    """An account made from the command line: of a district, or the platform's admin."""

    role = fields.String(required=True, validate=validate.OneOf((PLATFORM_ADMIN, *ROLES)))
    district = fields.String(load_default=None, allow_none=True, validate=DISTRICT)

    @validates_schema
    def districts_have_the_accounts(self, data: dict[str, Any], **_: Any) -> None:
        if (data["role"] == PLATFORM_ADMIN) != (data.get("district") is None):
            raise ValidationError(
                "a platform admin has no district; every other account has one", "district"
            )


class CreateDistrict(StrictSchema):
    district = fields.String(required=True, validate=DISTRICT)
    admin_username = fields.String(required=True, validate=USERNAME)
    admin_password = fields.String(required=True, validate=PASSWORD)


class NoInput(StrictSchema):
    """A request that takes nothing: any field is unknown."""


class AccountRef(StrictSchema):
    username = fields.String(required=True, validate=USERNAME)


class ResetPassword(AccountRef):
    password = fields.String(required=True, validate=PASSWORD)


class ChangePassword(StrictSchema):
    current_password = fields.String(required=True, validate=validate.Length(min=1, max=200))
    new_password = fields.String(required=True, validate=PASSWORD)


class SessionQuery(StrictSchema):
    username = fields.String(load_default=None, validate=USERNAME)
    """An admin's filter; an account sees only its own sessions."""


class SessionRef(StrictSchema):
    session_id = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{16}$"))


class ChangeQuery(StrictSchema):
    username = fields.String(load_default=None, validate=USERNAME)
