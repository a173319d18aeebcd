"""Signed checkpoints: a log's (position, hash) vouched for with a key MongoDB never holds.

Anyone with write access to the database can re-hash a log from an altered event to its
head and rewrite every anchor kept beside it. What they cannot do is sign: the log owner
signs `(log, position, hash, time)` with an Ed25519 key kept outside the database (a file
under `QUNPING_HOME`, a Kubernetes Secret) and appends the signature to the log as the
public `CheckpointSigned` event, so it reaches every subscriber. A checkpoint a subscriber
kept then shows the log as it was; a rewritten log disagrees with it.

The public key goes out the same way (`SigningKeyAnnounced`): the first key of a log
stands on its own, a new one carries the old key's signature over it (rotation).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from qunping.core.envelope import NewEvent, RecordedEvent, canonical_json, format_time, utc_now
from qunping.core.eventlog import EventLog, LogHead
from qunping.core.tamper import CHECKPOINT, KEY_ANNOUNCED

log = logging.getLogger(__name__)


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


class SigningKey:
    """An Ed25519 private key and the id of its public half.

    `endorsement`, after a rotation, is the replaced key's signature over this one:
    `{"endorsed_by": key id, "endorsement": signature}`."""

    def __init__(
        self, private: Ed25519PrivateKey, endorsement: Mapping[str, str] | None = None
    ) -> None:
        self._private = private
        self.endorsement = dict(endorsement) if endorsement else None
        self.public_key = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> str:
        return self._private.sign(message).hex()

    def pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def endorsement_path(path: Path) -> Path:
    return path.with_name(path.name + ".endorsement")


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL: two services starting at once must not each write a key of their own.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def load_or_create_key(path: Path) -> SigningKey:
    """The key in `path` (PEM, PKCS#8); on a first run a new one, written with mode 0600.

    A Kubernetes Secret mounts the file read-only; the file never enters MongoDB."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = SigningKey.generate()
        try:
            _write_private(path, key.pem())
        except FileExistsError:
            pass
        else:
            return key
    private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    endorsed = endorsement_path(path)
    return SigningKey(private, json.loads(endorsed.read_text()) if endorsed.exists() else None)


def rotate_key(path: Path) -> tuple[SigningKey, SigningKey]:
    """Replace the key in `path` by a new one the old one endorses; (old, new).

    The old key is kept beside it (`.retired-{key id}`) for the operator to destroy once
    the services run with the new one; the endorsement goes in `{path}.endorsement`."""
    old = load_or_create_key(path)
    new = SigningKey.generate()
    path.rename(path.with_name(f"{path.name}.retired-{old.key_id}"))
    _write_private(path, new.pem())
    endorsement = {
        "endorsed_by": old.key_id,
        "endorsement": old.sign(endorsement_message(new.public_key)),
    }
    endorsement_path(path).write_text(json.dumps(endorsement))
    new.endorsement = endorsement
    return old, new


@dataclass(frozen=True, slots=True)
class Checkpoint:
    log: str
    position: int
    hash: str
    signed_at: str
    key_id: str
    signature: str

    def message(self) -> bytes:
        """What is signed: every field but the signature, as canonical JSON."""
        signed = asdict(self)
        del signed["signature"]
        return canonical_json(signed)

    @property
    def head(self) -> LogHead:
        return LogHead(self.position, self.hash)

    def as_data(self) -> dict[str, Any]:
        return asdict(self)


def sign_head(key: SigningKey, log_name: str, head: LogHead, signed_at: str) -> Checkpoint:
    unsigned = Checkpoint(log_name, head.position, head.hash, signed_at, key.key_id, "")
    return Checkpoint(**{**unsigned.as_data(), "signature": key.sign(unsigned.message())})


def endorsement_message(public_key: bytes) -> bytes:
    return canonical_json({"endorse": public_key.hex()})


def announcement(log_name: str, key: SigningKey) -> dict[str, Any]:
    """The data of `SigningKeyAnnounced`, with the endorsement of a rotated key."""
    endorsement = key.endorsement or {}
    return {
        "log": log_name,
        "key_id": key.key_id,
        "public_key": key.public_key.hex(),
        "endorsed_by": endorsement.get("endorsed_by"),
        "endorsement": endorsement.get("endorsement"),
    }


class Keyring:
    """The public keys a log's checkpoints may be signed with, as an auditor trusts them.

    Keys a subscriber kept are trusted as given. Keys announced in the log are trusted if
    the ring is still empty (the log's first key) or if a trusted key endorsed them.
    """

    def __init__(self) -> None:
        self.keys: dict[str, Ed25519PublicKey] = {}

    def learn(self, data: Mapping[str, Any], *, trusted: bool = False) -> str | None:
        """Add an announced key; return why it was refused, if it was."""
        public = bytes.fromhex(data["public_key"])
        if key_id_of(public) != data["key_id"]:
            return f"key {data['key_id']} is not the id of the key announced with it"
        if data["key_id"] in self.keys:
            return None
        if not trusted and self.keys:
            endorser = self.keys.get(data.get("endorsed_by") or "")
            if endorser is None:
                return f"key {data['key_id']} is endorsed by no trusted key"
            try:
                endorser.verify(
                    bytes.fromhex(data["endorsement"]),
                    endorsement_message(public),
                )
            except (InvalidSignature, ValueError, TypeError):
                return f"key {data['key_id']} carries a forged endorsement"
        self.keys[data["key_id"]] = Ed25519PublicKey.from_public_bytes(public)
        return None

    def check(self, checkpoint: Checkpoint) -> str | None:
        """Why the checkpoint's signature does not hold, or None if it does."""
        key = self.keys.get(checkpoint.key_id)
        if key is None:
            return f"signed with key {checkpoint.key_id}, which no trusted announcement names"
        try:
            key.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
        except (InvalidSignature, ValueError):
            return f"the signature by key {checkpoint.key_id} does not hold: it was forged"
        return None


def printed(checkpoint: Checkpoint) -> str:
    """The checkpoint as the notice prints it and its QR code holds (`verify_bundle.py
    --checkpoint TEXT` reads it back): the time goes last, as it holds colons."""
    c = checkpoint
    return (
        f"qunping:checkpoint:{c.log}:{c.position}:{c.hash}:{c.key_id}:{c.signature}:{c.signed_at}"
    )


def checkpoint_of(data: Mapping[str, Any]) -> Checkpoint:
    return Checkpoint(**{field: data[field] for field in Checkpoint.__slots__})


def kept_by_subscriber(lines: Iterable[str]) -> tuple[list[Checkpoint], list[dict[str, Any]]]:
    """Checkpoints and key announcements from what an outside party saved: JSON Lines,
    each a CloudEvent off `qunping.public`, a webhook body or the feed (other events are
    skipped), or the bare data of a `CheckpointSigned` event."""
    checkpoints, keys = [], []
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        kind = str(record.get("type", CHECKPOINT)).rsplit(".", 1)[-1]
        data = record.get("data", record)
        if kind == CHECKPOINT:
            checkpoints.append(checkpoint_of(data))
        elif kind == KEY_ANNOUNCED:
            keys.append(dict(data))
    return checkpoints, keys


class Checkpointer:
    """Signs a log's head into the log itself, announcing its key first if need be."""

    def __init__(self, event_log: EventLog, key: SigningKey) -> None:
        self.log = event_log
        self.key = key
        self._announced = False
        self._signed: LogHead | None = None
        """The head as this process's last checkpoint left it: signing it again adds nothing."""
        self._lock = threading.Lock()

    @property
    def stream(self) -> str:
        return f"checkpoint-{self.log.name}"

    def sign(self) -> RecordedEvent | None:
        """Sign the head, unless the head already is a checkpoint (nothing new to vouch for)."""
        with self._lock:
            head = self.log.head()
            if head.position == 0 or head == self._signed:
                return None
            if self._signed is None:  # first call of this process: was the head signed before?
                [last] = self.log.read_batch(head.position - 1, 1)
                if last.type == CHECKPOINT:
                    self._signed = head
                    return None
            if not self._announced:
                head = self._announce() or head
            checkpoint = sign_head(self.key, self.log.name, head, format_time(utc_now()))
            [recorded] = self.log.append(self.stream, [NewEvent(CHECKPOINT, checkpoint.as_data())])
            self._signed = LogHead(recorded.position, recorded.hash)
            return recorded

    def latest(self) -> RecordedEvent | None:
        signed = self.log.read_stream(self.stream)
        return signed[-1] if signed else None

    def _announce(self) -> LogHead | None:
        stream = f"signingkey-{self.log.name}"
        announced = {event.data["key_id"] for event in self.log.read_stream(stream)}
        self._announced = True
        if self.key.key_id in announced:
            return None
        [recorded] = self.log.append(
            stream, [NewEvent(KEY_ANNOUNCED, announcement(self.log.name, self.key))]
        )
        log.info("log %r: announced signing key %s", self.log.name, self.key.key_id)
        return LogHead(recorded.position, recorded.hash)
