"""A graceful stop that acknowledges what it handled, so SIGTERM neither loses nor repeats.

nameko 2.14's `QueueConsumer` closes its broker connection as soon as the last entrypoint
stops consuming, while the container still waits for running workers. A handler that
finishes after that can still reply (replies use their own connection), but its ack has no
channel left: the broker requeues the request and the next replica runs it a second time.
`DrainingQueueConsumer` keeps the connection until every message it handed out has been
acked or requeued; a kill (not a stop) still drops everything at once, as nameko intends.
"""

from __future__ import annotations

from typing import Any

import nameko.messaging
import nameko.rpc
from nameko.messaging import QueueConsumer


class DrainingQueueConsumer(QueueConsumer):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.unsettled = 0

    def handle_message(self, provider: Any, body: Any, message: Any) -> None:
        self.unsettled += 1
        super().handle_message(provider, body, message)

    def ack_message(self, message: Any) -> None:
        try:
            super().ack_message(message)
        finally:
            self.unsettled -= 1

    def requeue_message(self, message: Any) -> None:
        try:
            super().requeue_message(message)
        finally:
            self.unsettled -= 1

    def on_iteration(self) -> None:
        self._cancel_consumers_if_requested()
        # Consumers cancelled, no new message arrives; stay connected for pending acks.
        if not self._consumers and self.unsettled <= 0:
            self.should_stop = True


def install_draining_consumers() -> None:
    """Make every nameko entrypoint of this process consume through `DrainingQueueConsumer`.

    nameko picks its queue consumer from class attributes, so this must run before any
    container is created; it is what `qunping service` does.
    """
    nameko.messaging.Consumer.queue_consumer = DrainingQueueConsumer()
    nameko.rpc.RpcConsumer.queue_consumer = DrainingQueueConsumer()
    nameko.rpc.ReplyListener.queue_consumer = DrainingQueueConsumer()
