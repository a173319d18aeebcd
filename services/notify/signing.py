"""Webhook signatures: HMAC-SHA256 over the timestamp and the body.

The receiver recomputes `hex(HMAC-SHA256(secret, f"{timestamp}." + body))`, compares it
in constant time with the `v1=` value of `Qunping-Signature`, and refuses a timestamp
older than a few minutes, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac

TIMESTAMP_HEADER = "Qunping-Timestamp"
SIGNATURE_HEADER = "Qunping-Signature"
DELIVERY_HEADER = "Qunping-Delivery"
SCHEME = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    return f"{SCHEME}=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signed_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
