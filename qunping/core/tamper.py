"""Tamper evidence at run time: every reader re-hashes what it is about to use.

An event edited in place in MongoDB keeps its old `hash`, so checking only that each
`prev_hash` links lets it through; recomputing the hash from the content does not. A
reader that finds such an event stops (`TamperDetected`) rather than use it, and the
service raises the public `TamperDetected` alert, which notify mails to the district.

The alert and the signed checkpoints (`qunping.core.checkpoints`) are events every log
that owns facts registers (`register_tamper_events`), so they reach subscribers the same
way as everything else: `qunping.public`, each service's feed, webhooks.
"""

from __future__ import annotations

import uuid

from marshmallow import fields, validate
from nameko.exceptions import deserialize_to_instance

from qunping.core.envelope import HASH, NewEvent, RecordedEvent
from qunping.core.errors import QunpingError
from qunping.core.eventlog import LogIntegrityError
from qunping.core.schemas import LOG_NAME_PATTERN, Pattern, PayloadSchemas, StrictSchema

ALERT = "TamperDetected"
CHECKPOINT = "CheckpointSigned"
KEY_ANNOUNCED = "SigningKeyAnnounced"
TAMPER_EVENTS = frozenset({ALERT, CHECKPOINT, KEY_ANNOUNCED})
"""Events every log carries beside its own facts: no projection produces them."""

ALERT_IDS = uuid.UUID("1c9a4b52-61f3-4f0e-8d7e-2b7f0c3e9a11")


class TamperDetected(LogIntegrityError):
    """A stored event no longer matches its hash, or a log disagrees with its anchors."""

    def __init__(self, log: str, position: int, stream: str | None, problem: str, detail: str):
        super().__init__(f"log {log!r} position {position}: {problem}: {detail}")
        self.log = log
        self.position = position
        self.stream = stream
        self.problem = problem
        self.detail = detail

    def alert(self, detected_by: str) -> NewEvent:
        """The public alert; the same finding by the same reader always has the same id."""
        return NewEvent(
            ALERT,
            {
                "log": self.log,
                "position": self.position,
                "stream": self.stream,
                "problem": self.problem,
                "detail": self.detail,
                "detected_by": detected_by,
            },
            event_id=str(
                uuid.uuid5(ALERT_IDS, f"{detected_by}:{self.log}:{self.position}:{self.problem}")
            ),
        )


@deserialize_to_instance
class Tampered(QunpingError):
    """`TamperDetected` as it crosses RPC: the callee refused to hand out altered events."""

    status = 500

    def __init__(self, log: str, position: int | str, stream: str | None, detail: str) -> None:
        super().__init__(log, position, stream, detail)
        # Arguments cross RPC as text: the position comes back a string.
        self.found = TamperDetected(log, int(position), stream, "altered", detail)

    def __str__(self) -> str:
        return str(self.found)


def check_content(event: RecordedEvent) -> RecordedEvent:
    """`event` itself, or `TamperDetected` if its content no longer yields its hash."""
    if event.computed_hash() != event.hash:
        raise TamperDetected(
            event.log,
            event.position,
            event.stream,
            "altered",
            "content no longer matches the event's hash (edited in place in the database)",
        )
    return event


def is_sealed(event: RecordedEvent) -> bool:
    """Whether the event travelled without its content (a ballot: `{"sealed": true}`)."""
    return event.data.get("sealed") is True


def refuse_if_altered(event: RecordedEvent) -> RecordedEvent:
    """`check_content` for an RPC answer: the caller gets `Tampered`, which crosses RPC."""
    try:
        return check_content(event)
    except TamperDetected as found:
        raise Tampered(found.log, found.position, found.stream, found.detail) from None


# -- the events ----------------------------------------------------------------------


class TamperDetectedSchema(StrictSchema):
    """A reader found a log altered: a stored event no longer matches its hash, or the log
    disagrees with a signed checkpoint. The reader stopped rather than use it."""

    log = fields.String(required=True, validate=Pattern(LOG_NAME_PATTERN))
    position = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    stream = fields.String(required=True, allow_none=True)
    problem = fields.String(required=True)
    """altered, missing, misplaced, unchained, truncated, rewritten, foreign or forged."""
    detail = fields.String(required=True)
    detected_by = fields.String(required=True)
    """Which reader: a projection (`tally`), the audit's scheduled verification (`audit`)."""


class CheckpointSignedSchema(StrictSchema):
    """The log owner vouches, with its Ed25519 key, that the log's event at `position` has
    `hash`. Keep these: with them an outside party can catch a log rewritten later, even by
    someone with full write access to the database (`qunping audit verify --checkpoints`)."""

    log = fields.String(required=True, validate=Pattern(LOG_NAME_PATTERN))
    position = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    hash = fields.String(required=True, validate=HASH)
    signed_at = fields.String(required=True)
    key_id = fields.String(required=True, validate=Pattern(r"^[0-9a-f]{16}$"))
    signature = fields.String(required=True, validate=Pattern(r"^[0-9a-f]{128}$"))
    """Ed25519 over the canonical JSON of the other five fields."""


class SigningKeyAnnouncedSchema(StrictSchema):
    """A public key the log's checkpoints are signed with. The first key of a log stands on
    its own; each later one carries the signature of the key it replaces."""

    log = fields.String(required=True, validate=Pattern(LOG_NAME_PATTERN))
    key_id = fields.String(required=True, validate=Pattern(r"^[0-9a-f]{16}$"))
    public_key = fields.String(required=True, validate=Pattern(r"^[0-9a-f]{64}$"))
    """The raw 32-byte Ed25519 public key, in hex; `key_id` is its SHA-256, cut to 16."""
    endorsed_by = fields.String(required=True, allow_none=True, validate=Pattern(r"^[0-9a-f]{16}$"))
    endorsement = fields.String(
        required=True, allow_none=True, validate=Pattern(r"^[0-9a-f]{128}$")
    )


def register_tamper_events(payloads: PayloadSchemas) -> PayloadSchemas:
    """Add the alert and the checkpoint events, all public, to a log's registry."""
    payloads.register(ALERT, public=True)(TamperDetectedSchema)
    payloads.register(CHECKPOINT, public=True)(CheckpointSignedSchema)
    payloads.register(KEY_ANNOUNCED, public=True)(SigningKeyAnnouncedSchema)
    return payloads
