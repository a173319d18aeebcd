"""Configuration from the environment (twelve-factor), validated like every other input.

The defaults are the embedded local set-up that `qunping infra up` provides, so a fresh
clone runs with no configuration at all; a deployment sets the variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marshmallow import fields, validate

from qunping.core.amqp import CLOUDEVENTS_SERIALIZER
from qunping.core.logs import NO_CORRELATION, logging_config
from qunping.core.schemas import Pattern, StrictSchema, load

LOCAL_MONGO_PORT = 27117
DEFAULTS = {
    "AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/",
    "MONGO_URI": f"mongodb://127.0.0.1:{LOCAL_MONGO_PORT}/?directConnection=true",
    "QUNPING_DB_PREFIX": "qunping_",
    "QUNPING_MAX_WORKERS": "20",
    "QUNPING_LOG_LEVEL": "INFO",
    "QUNPING_HTTP_PORT": "8000",
    "QUNPING_LOG_FORMAT": "plain",
    "QUNPING_CHECKPOINT_SECONDS": "3600",
    "QUNPING_VERIFY_SECONDS": "3600",
}
SIGNING_KEY_NAME = "signing-key.pem"
"""The Ed25519 key the logs' checkpoints are signed with, under `QUNPING_HOME` by default."""


class SettingsSchema(StrictSchema):
    AMQP_URI = fields.String(required=True, validate=Pattern(r"^amqps?://\S+$"))
    MONGO_URI = fields.String(required=True, validate=Pattern(r"^mongodb(\+srv)?://\S+$"))
    QUNPING_DB_PREFIX = fields.String(required=True, validate=Pattern(r"^[a-z][a-z0-9_]{0,31}$"))
    QUNPING_MAX_WORKERS = fields.Integer(required=True, validate=validate.Range(min=1, max=500))
    QUNPING_LOG_LEVEL = fields.String(
        required=True, validate=validate.OneOf(["DEBUG", "INFO", "WARNING", "ERROR"])
    )
    QUNPING_HTTP_PORT = fields.Integer(required=True, validate=validate.Range(min=1, max=65535))
    QUNPING_LOG_FORMAT = fields.String(required=True, validate=validate.OneOf(["plain", "json"]))
    QUNPING_SIGNING_KEY_FILE = fields.String(required=True, validate=validate.Length(min=1))
    QUNPING_CHECKPOINT_SECONDS = fields.Integer(
        required=True, validate=validate.Range(min=1, max=3600)
    )
    """How often a growing log is signed: at least hourly."""
    QUNPING_VERIFY_SECONDS = fields.Integer(required=True, validate=validate.Range(min=1))
    """How often the audit service verifies every log."""


@dataclass(frozen=True, slots=True)
class Settings:
    amqp_uri: str
    mongo_uri: str
    db_prefix: str
    max_workers: int
    log_level: str
    http_port: int
    signing_key_file: str
    checkpoint_seconds: int
    verify_seconds: int
    log_format: str = "plain"

    def database_name(self, service: str) -> str:
        """Each service owns one database; no service reads another's."""
        return f"{self.db_prefix}{service}"

    def nameko_config(self, service: str = NO_CORRELATION) -> dict[str, Any]:
        """nameko's configuration; `service` names the service in JSON log lines."""
        return {
            "AMQP_URI": self.amqp_uri,
            "MONGO_URI": self.mongo_uri,
            "QUNPING_DB_PREFIX": self.db_prefix,
            "QUNPING_SIGNING_KEY_FILE": self.signing_key_file,
            "QUNPING_CHECKPOINT_SECONDS": self.checkpoint_seconds,
            "QUNPING_VERIFY_SECONDS": self.verify_seconds,
            "max_workers": self.max_workers,
            # Health probes, and the gateway's API, listen on every interface of the pod.
            "WEB_SERVER_ADDRESS": f"0.0.0.0:{self.http_port}",
            "serializer": "json",
            "ACCEPT": ["json", CLOUDEVENTS_SERIALIZER],
            "LOGGING": logging_config(self.log_level, self.log_format, service),
        }


def settings_from(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from `environ` (default: the process environment) over the defaults."""
    environ = os.environ if environ is None else environ
    home = environ.get("QUNPING_HOME", ".qunping")
    defaults = {**DEFAULTS, "QUNPING_SIGNING_KEY_FILE": str(Path(home) / SIGNING_KEY_NAME)}
    values = load(
        SettingsSchema(), {key: environ.get(key, default) for key, default in defaults.items()}
    )
    return Settings(
        amqp_uri=values["AMQP_URI"],
        mongo_uri=values["MONGO_URI"],
        db_prefix=values["QUNPING_DB_PREFIX"],
        max_workers=values["QUNPING_MAX_WORKERS"],
        log_level=values["QUNPING_LOG_LEVEL"],
        http_port=values["QUNPING_HTTP_PORT"],
        log_format=values["QUNPING_LOG_FORMAT"],
        signing_key_file=str(Path(values["QUNPING_SIGNING_KEY_FILE"]).resolve()),
        checkpoint_seconds=values["QUNPING_CHECKPOINT_SECONDS"],
        verify_seconds=values["QUNPING_VERIFY_SECONDS"],
    )
