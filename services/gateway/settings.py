"""The gateway's configuration: the environment, overridden by the nameko config (as in tests)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from marshmallow import fields, validate

from qunping.core.schemas import StrictSchema, load

DEFAULTS: dict[str, str] = {
    "QUNPING_SESSION_MINUTES": "480",
    "QUNPING_LOGIN_LIMIT_PER_MINUTE": "10",
    # Failed logins in a row that lock an account, and for how long (an admin may unlock).
    "QUNPING_LOCKOUT_FAILURES": "5",
    "QUNPING_LOCKOUT_MINUTES": "15",
    # A meeting room shares one Wi-Fi address: the cast limit counts a whole room at once.
    "QUNPING_CAST_LIMIT_PER_MINUTE": "1200",
    "QUNPING_MAX_BODY_BYTES": "262144",
    "QUNPING_PUBLIC_URL": "",
    # Proxies in front of the gateway that it trusts to say who the client is (an ingress
    # controller: 1); 0: the gateway is reached directly and forwarded headers are ignored.
    "QUNPING_TRUSTED_PROXY_HOPS": "0",
    "QUNPING_RPC_TIMEOUT_SECONDS": "30",
    # An audit replay reads a district's whole ballot log: minutes, not seconds.
    "QUNPING_AUDIT_RPC_TIMEOUT_SECONDS": "600",
}


class GatewaySettingsSchema(StrictSchema):
    QUNPING_SESSION_MINUTES = fields.Integer(required=True, validate=validate.Range(1, 10_080))
    QUNPING_LOGIN_LIMIT_PER_MINUTE = fields.Integer(
        required=True, validate=validate.Range(1, 10_000)
    )
    QUNPING_LOCKOUT_FAILURES = fields.Integer(required=True, validate=validate.Range(1, 1000))
    QUNPING_LOCKOUT_MINUTES = fields.Integer(required=True, validate=validate.Range(1, 10_080))
    QUNPING_CAST_LIMIT_PER_MINUTE = fields.Integer(
        required=True, validate=validate.Range(1, 1_000_000)
    )
    QUNPING_MAX_BODY_BYTES = fields.Integer(
        required=True, validate=validate.Range(1024, 64 * 1024 * 1024)
    )
    QUNPING_PUBLIC_URL = fields.String(
        required=True, validate=validate.Regexp(r"^(https?://[^\s/]+(/[^\s]*)?)?$")
    )
    QUNPING_TRUSTED_PROXY_HOPS = fields.Integer(required=True, validate=validate.Range(0, 5))
    QUNPING_RPC_TIMEOUT_SECONDS = fields.Integer(required=True, validate=validate.Range(1, 3600))
    QUNPING_AUDIT_RPC_TIMEOUT_SECONDS = fields.Integer(
        required=True, validate=validate.Range(1, 3600)
    )


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    session_minutes: int
    login_limit_per_minute: int
    lockout_failures: int
    lockout_minutes: int
    cast_limit_per_minute: int
    max_body_bytes: int
    public_url: str
    """The address voters' phones reach the gateway at (printed in slips' QR codes); empty:
    the address the organiser's own request came in on."""
    trusted_proxy_hops: int
    """How many proxies' X-Forwarded-For, -Proto and -Host entries are believed (counted
    from the gateway outwards); a client's own entries beyond them are ignored."""
    rpc_timeout_seconds: int
    audit_rpc_timeout_seconds: int

    @property
    def https(self) -> bool:
        """Whether voters and staff reach the gateway over TLS, terminated before it."""
        return self.public_url.startswith("https://")

    def timeout_for(self, service: str) -> int:
        """How long a request waits for `service` before it is answered 504."""
        return self.audit_rpc_timeout_seconds if service == "audit" else self.rpc_timeout_seconds


def gateway_settings(
    config: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> GatewaySettings:
    environ = os.environ if environ is None else environ
    raw = {key: config.get(key, environ.get(key, default)) for key, default in DEFAULTS.items()}
    values = load(GatewaySettingsSchema(), {key: str(value) for key, value in raw.items()})
    return GatewaySettings(
        session_minutes=values["QUNPING_SESSION_MINUTES"],
        login_limit_per_minute=values["QUNPING_LOGIN_LIMIT_PER_MINUTE"],
        lockout_failures=values["QUNPING_LOCKOUT_FAILURES"],
        lockout_minutes=values["QUNPING_LOCKOUT_MINUTES"],
        cast_limit_per_minute=values["QUNPING_CAST_LIMIT_PER_MINUTE"],
        max_body_bytes=values["QUNPING_MAX_BODY_BYTES"],
        public_url=values["QUNPING_PUBLIC_URL"].rstrip("/"),
        trusted_proxy_hops=values["QUNPING_TRUSTED_PROXY_HOPS"],
        rpc_timeout_seconds=values["QUNPING_RPC_TIMEOUT_SECONDS"],
        audit_rpc_timeout_seconds=values["QUNPING_AUDIT_RPC_TIMEOUT_SECONDS"],
    )
