"""Which deployment a service belongs to, and which one its RabbitMQ vhost serves.

Queues are named by service (`rpc-ballot`), not by deployment: two qunpings with different
databases on one vhost would take each other's requests and events, silently. So each
deployment has an identity, a random id kept in its MongoDB (database `{prefix}deployment`,
written once by whichever service starts first), and every running service process
announces it on its vhost by consuming from the queue `qunping.deployment`, declared with
the id as an argument.

RabbitMQ refuses to declare an existing queue with different arguments, so a service of
another deployment learns at once, and atomically, that the vhost is taken and by whom (the
refusal quotes the argument the queue has). The queue is auto-deleted when the last process
consuming from it is gone: a vhost serves a deployment while that deployment runs, and is
free for another once it has stopped. That is also what lets a test run share one vhost
among its tests, each a deployment of its own (a fresh database prefix), one after another.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from amqp.exceptions import NotFound, PreconditionFailed
from kombu.connection import Connection
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure, DuplicateKeyError

log = logging.getLogger(__name__)

ANNOUNCEMENT_QUEUE = "qunping.deployment"
# An argument RabbitMQ compares on every declaration and that takes any text. Nothing is
# published to the queue, so nothing is ever dead-lettered to this (absent) exchange; but
# declaring the queue needs `write` on it, which each service's broker user has on this
# prefix only (qunping.operator.broker_access).
_IDENTITY_ARGUMENT = "x-dead-letter-exchange"
IDENTITY_EXCHANGE_PREFIX = "qunping.deployment."
# The refusal ends "... received '<prefix>-' but current is '<prefix><id>'", cut at 255
# characters: asking with a value this short leaves room for a vhost name of 80.
_PROBE = f"{IDENTITY_EXCHANGE_PREFIX}-"
_ANNOUNCED = re.compile(r"current is (?:the value )?'qunping\.deployment\.(\w+)'")
HEARTBEAT_SECONDS = 60


@dataclass(frozen=True)
class Deployment:
    id: str
    created_at: str
    databases: str
    """Where its data is, for people: `qunping_* on 127.0.0.1:27117` (no credentials)."""


def deployment_identity(mongo_uri: str, prefix: str) -> Deployment:
    """The deployment's identity from its MongoDB, created by the first to ask; waits for
    MongoDB as long as it takes (a service started before its database waits for it)."""
    while True:
        try:
            found = _identity(mongo_uri, prefix, create=True)
        except ConnectionFailure as error:
            log.warning("waiting for MongoDB: %s", str(error).split(", Timeout")[0])
            continue
        assert found is not None
        return found


def stored_identity(mongo_uri: str, prefix: str) -> Deployment | None:
    """The deployment's identity if a service has started on these databases, else None."""
    return _identity(mongo_uri, prefix, create=False)


def _identity(mongo_uri: str, prefix: str, *, create: bool) -> Deployment | None:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, serverSelectionTimeoutMS=5000)
    try:
        identity = client[f"{prefix}deployment"]["identity"]
        document = identity.find_one({"_id": "identity"})
        if document is None and create:
            created = {
                "_id": "identity",
                "deployment_id": uuid.uuid4().hex[:16],
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            # Another service of this deployment may write it first: then theirs stands.
            with contextlib.suppress(DuplicateKeyError):
                identity.insert_one(created)
            document = identity.find_one({"_id": "identity"})
    finally:
        client.close()
    if document is None:
        return None
    hosts = urlsplit(mongo_uri).netloc.rpartition("@")[2]
    return Deployment(document["deployment_id"], document["created_at"], f"{prefix}* on {hosts}")


def vhost_of(amqp_uri: str) -> str:
    parts = urlsplit(amqp_uri)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return f"vhost '{vhost}' on {parts.hostname}:{parts.port or 5672}"


class VhostTaken(Exception):
    """The vhost serves another deployment that is running now."""

    def __init__(self, amqp_uri: str, ours: Deployment, theirs: str | None, processes: int):
        other = f"qunping deployment {theirs}" if theirs else "another qunping deployment"
        super().__init__(
            f"RabbitMQ {vhost_of(amqp_uri)} already serves {other} ({processes} service "
            f"processes running), and this is deployment {ours.id} (created {ours.created_at}, "
            f"databases {ours.databases}). Two deployments on one vhost take each other's "
            "requests and events, so this one does not start. Stop the other one, or give "
            "this one a vhost of its own (AMQP_URI=amqp://user:password@host:5672/VHOST)."
        )


@dataclass(frozen=True)
class VhostState:
    serves: str | None
    """The id of the deployment the vhost serves now; None if none runs on it."""
    processes: int


def vhost_state(connection: Connection) -> VhostState:
    """Which deployment the vhost serves now, without announcing anything."""
    try:
        found = connection.channel().queue_declare(ANNOUNCEMENT_QUEUE, passive=True)
    except NotFound:
        return VhostState(None, 0)
    if found.consumer_count == 0:
        return VhostState(None, 0)  # left by a process that died before consuming
    return VhostState(_announced(connection), found.consumer_count)


def announce(connection: Connection, ours: Deployment, amqp_uri: str) -> None:
    """Consume from the announcement queue as `ours` (for as long as `connection` lives);
    raise VhostTaken if another deployment runs on the vhost."""
    for _ in range(5):
        channel = connection.channel()
        try:
            _declare(channel, f"{IDENTITY_EXCHANGE_PREFIX}{ours.id}")
            channel.basic_consume(ANNOUNCEMENT_QUEUE, no_ack=True, callback=lambda _: None)
            return
        except NotFound:
            continue  # deleted as stale by a starter between our declare and consume
        except PreconditionFailed:
            pass  # announced by another deployment
        try:
            found = connection.channel().queue_declare(ANNOUNCEMENT_QUEUE, passive=True)
        except NotFound:
            continue  # its last process has just gone
        if found.consumer_count > 0:
            raise VhostTaken(amqp_uri, ours, _announced(connection), found.consumer_count)
        # Announced by a process that died before consuming: nobody runs it.
        _delete_unused(connection)
    raise RuntimeError(f"could not announce deployment {ours.id} on {vhost_of(amqp_uri)}")


def _declare(channel: Any, identity: str) -> Any:
    # Classic whatever the broker's default queue type (a quorum queue is never auto-deleted);
    # durable, since RabbitMQ 4 deprecates transient queues that are not exclusive.
    return channel.queue_declare(
        ANNOUNCEMENT_QUEUE,
        durable=True,
        auto_delete=True,
        arguments={"x-queue-type": "classic", _IDENTITY_ARGUMENT: identity},
    )


def _announced(connection: Connection) -> str | None:
    """The id the announcement queue was declared with: declaring it with another value is
    refused, quoting the queue's own."""
    try:
        _declare(connection.channel(), _PROBE)
    except PreconditionFailed as refusal:
        found = _ANNOUNCED.search(str(refusal.reply_text))
        return found.group(1) if found else None
    # The queue had gone meanwhile, and this made a new one: take it away again.
    _delete_unused(connection)
    return None


def _delete_unused(connection: Connection) -> None:
    # Refused (PreconditionFailed) if a consumer came meanwhile: then it stays, rightly.
    with contextlib.suppress(NotFound, PreconditionFailed):
        connection.channel().queue_delete(ANNOUNCEMENT_QUEUE, if_unused=True)


class Announcement:
    """A service process's announcement of its deployment, for as long as it runs.

    `claim` announces (or raises VhostTaken) before the service consumes anything; `hold`
    then keeps the connection alive in a thread, and announces again after the broker
    comes back. Finding the vhost taken then, the process stops itself (SIGTERM, so it
    drains), and its next start says why it refuses.
    """

    def __init__(self, amqp_uri: str, ours: Deployment) -> None:
        self.amqp_uri = amqp_uri
        self.ours = ours
        self._connection: Connection | None = None

    def claim(self) -> None:
        connection = Connection(self.amqp_uri, heartbeat=HEARTBEAT_SECONDS)
        connection.ensure_connection(
            max_retries=None,
            interval_max=5,
            errback=lambda error, _: log.warning("waiting for RabbitMQ: %s", error),
        )
        try:
            announce(connection, self.ours, self.amqp_uri)
        except Exception:
            connection.release()
            raise
        self._connection = connection

    def hold_in_background(self) -> threading.Thread:
        holder = threading.Thread(target=self.hold, name="deployment-announcement", daemon=True)
        holder.start()
        return holder

    def hold(self) -> None:
        while True:
            try:
                if self._connection is None:
                    self.claim()
                assert self._connection is not None
                try:
                    self._connection.drain_events(timeout=HEARTBEAT_SECONDS / 4)
                except TimeoutError:
                    self._connection.heartbeat_check()
            except VhostTaken as taken:
                log.error("stopping: %s", taken)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            except Exception as error:  # whatever broke the connection, a new one mends it
                log.warning("deployment announcement lost (%s); announcing again", error)
                self._drop()
                time.sleep(1)

    def _drop(self) -> None:
        if self._connection is not None:
            # Already broken, most likely; all that matters is a new one.
            with contextlib.suppress(Exception):
                self._connection.release()
            self._connection = None
