"""The pinned nameko + eventlet + pymongo combination, proven under concurrent load.

A real nameko service appends through `EventLogDependency` while 300 RPC calls arrive at
once; its outbox relay publishes everything to a plain queue on the real broker.
"""

import json
import time
from collections.abc import Callable
from typing import Any

import eventlet
import kombu
from marshmallow import fields
from nameko.rpc import rpc
from nameko.standalone.rpc import ClusterRpcProxy

from qunping.core.amqp import events_exchange
from qunping.core.dependencies import EventLogDependency
from qunping.core.envelope import NewEvent
from qunping.core.eventlog import EventLog
from qunping.core.schemas import PayloadSchemas, StrictSchema
from qunping.core.verify import verify_chain

payloads = PayloadSchemas()


@payloads.register("Counted")
class Counted(StrictSchema):
    n = fields.Integer(required=True)


class LedgerService:
    name = "ledger"
    log: EventLog = EventLogDependency(payloads, poll_seconds=0.2)

    @rpc
    def count(self, stream: str, n: int) -> int:
        [event] = self.log.append(stream, [NewEvent("Counted", {"n": n})])
        return event.position


def test_a_nameko_service_appends_under_concurrent_load_and_publishes_every_event(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> None:
    calls = 300
    connection = kombu.Connection(nameko_config["AMQP_URI"])
    queue = kombu.Queue("ledger-watcher", events_exchange("ledger"), routing_key="#", durable=True)
    queue(connection.default_channel).declare()
    container = container_factory(LedgerService, nameko_config)
    container.start()

    with ClusterRpcProxy(nameko_config) as cluster:
        pending = [cluster.ledger.count.call_async(f"tally-{n % 7}", n) for n in range(calls)]
        positions = [reply.result() for reply in pending]

    received: list[int] = []

    def on_message(message: kombu.Message) -> None:
        received.append(json.loads(message.body)["position"])
        message.ack()

    deadline = time.monotonic() + 30
    with kombu.Consumer(connection, [queue], on_message=on_message):
        while len(set(received)) < calls and time.monotonic() < deadline:
            try:
                connection.drain_events(timeout=0.5)
            except TimeoutError:
                eventlet.sleep(0)
    queue(connection.default_channel).delete()
    connection.release()

    assert sorted(positions) == list(range(1, calls + 1))
    assert sorted(set(received)) == list(range(1, calls + 1))
    first_seen = list(dict.fromkeys(received))
    assert first_seen == sorted(first_seen), "published in log order"
    stored = next(dep for dep in container.extensions if isinstance(dep, EventLogDependency)).log
    assert verify_chain(stored.read_all(), log="ledger").ok
