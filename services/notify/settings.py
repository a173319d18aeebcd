"""notify's configuration: the environment, overridden by the nameko config (as in tests)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError, fields, validate

from qunping.core.schemas import StrictSchema, load
from services.notify.backoff import RetrySchedule
from services.notify.egress import DEFAULT_SERVICE_NETWORKS, EgressPolicy
from services.notify.email import SmtpSettings

DEFAULTS: dict[str, Any] = {
    "QUNPING_WEBHOOK_MAX_ATTEMPTS": "8",
    "QUNPING_WEBHOOK_RETRY_BASE_SECONDS": "2",
    "QUNPING_WEBHOOK_RETRY_MAX_SECONDS": "600",
    "QUNPING_WEBHOOK_TIMEOUT_SECONDS": "10",
    "QUNPING_SMTP_HOST": "",
    "QUNPING_SMTP_PORT": "587",
    "QUNPING_SMTP_SECURITY": "starttls",
    "QUNPING_SMTP_USER": "",
    "QUNPING_SMTP_PASSWORD": "",
    "QUNPING_SMTP_FROM": "qunping@localhost",
    "QUNPING_DISTRICT_EMAILS": "",
    "QUNPING_WEBHOOK_ALLOW": "",
    "QUNPING_WEBHOOK_DENY_NETWORKS": DEFAULT_SERVICE_NETWORKS,
}


def _allow_list(text: str) -> None:
    try:
        EgressPolicy.parse(text, "")
    except ValueError as error:
        raise ValidationError(str(error)) from None


def _networks(text: str) -> None:
    try:
        EgressPolicy.parse("", text)
    except ValueError as error:
        raise ValidationError(str(error)) from None


class NotifySettingsSchema(StrictSchema):
    QUNPING_WEBHOOK_MAX_ATTEMPTS = fields.Integer(
        required=True, validate=validate.Range(min=1, max=100)
    )
    QUNPING_WEBHOOK_RETRY_BASE_SECONDS = fields.Float(
        required=True, validate=validate.Range(min=0.01, max=3600)
    )
    QUNPING_WEBHOOK_RETRY_MAX_SECONDS = fields.Float(
        required=True, validate=validate.Range(min=0.01, max=86400)
    )
    QUNPING_WEBHOOK_TIMEOUT_SECONDS = fields.Float(
        required=True, validate=validate.Range(min=0.1, max=300)
    )
    QUNPING_SMTP_HOST = fields.String(required=True)
    QUNPING_SMTP_PORT = fields.Integer(required=True, validate=validate.Range(min=1, max=65535))
    QUNPING_SMTP_SECURITY = fields.String(
        required=True, validate=validate.OneOf(["none", "starttls", "tls"])
    )
    QUNPING_SMTP_USER = fields.String(required=True)
    QUNPING_SMTP_PASSWORD = fields.String(required=True)
    QUNPING_SMTP_FROM = fields.Email(required=True)
    QUNPING_DISTRICT_EMAILS = fields.String(required=True)
    """The platform operators' addresses (the name is older than districts as tenants):
    they receive deployment-wide alerts; each district sets its own over the API."""
    QUNPING_WEBHOOK_ALLOW = fields.String(required=True, validate=_allow_list)
    """Host names and networks webhooks may reach even though they are not public."""
    QUNPING_WEBHOOK_DENY_NETWORKS = fields.String(required=True, validate=_networks)
    """The cluster's service network(s), refused even where they look public."""


@dataclass(frozen=True, slots=True)
class NotifySettings:
    retry: RetrySchedule
    webhook_timeout_seconds: float
    smtp: SmtpSettings | None
    """None while `QUNPING_SMTP_HOST` is unset: e-mails are then recorded, not sent."""
    platform_emails: tuple[str, ...]
    """Who operates the platform: mailed the alerts about a whole log."""
    egress: EgressPolicy


def notify_settings(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> NotifySettings:
    environ = os.environ if environ is None else environ
    raw = {key: config.get(key, environ.get(key, default)) for key, default in DEFAULTS.items()}
    values = load(NotifySettingsSchema(), {key: str(value) for key, value in raw.items()})
    smtp = (
        SmtpSettings(
            host=values["QUNPING_SMTP_HOST"],
            port=values["QUNPING_SMTP_PORT"],
            security=values["QUNPING_SMTP_SECURITY"],
            user=values["QUNPING_SMTP_USER"] or None,
            password=values["QUNPING_SMTP_PASSWORD"] or None,
            sender=values["QUNPING_SMTP_FROM"],
        )
        if values["QUNPING_SMTP_HOST"]
        else None
    )
    return NotifySettings(
        retry=RetrySchedule(
            base_seconds=values["QUNPING_WEBHOOK_RETRY_BASE_SECONDS"],
            max_seconds=values["QUNPING_WEBHOOK_RETRY_MAX_SECONDS"],
            max_attempts=values["QUNPING_WEBHOOK_MAX_ATTEMPTS"],
        ),
        webhook_timeout_seconds=values["QUNPING_WEBHOOK_TIMEOUT_SECONDS"],
        smtp=smtp,
        platform_emails=tuple(
            address.strip()
            for address in values["QUNPING_DISTRICT_EMAILS"].split(",")
            if address.strip()
        ),
        egress=EgressPolicy.parse(
            values["QUNPING_WEBHOOK_ALLOW"], values["QUNPING_WEBHOOK_DENY_NETWORKS"]
        ),
    )
