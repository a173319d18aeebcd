"""A service whose handler takes seconds, run exactly as a container runs one:
through `qunping service NAME` (the image's entrypoint), in a process of its own.

Usage: python -m tests.integration.operator.drainable_service
(configured by the environment, like any service)
"""

# As in `qunping.operator.cli`: patch before pymongo or kombu create a lock or a socket.
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import time  # noqa: E402
from typing import Any  # noqa: E402

from nameko.rpc import rpc  # noqa: E402
from pymongo.database import Database  # noqa: E402

from qunping.core import registry  # noqa: E402
from qunping.core.dependencies import MongoDatabase  # noqa: E402
from qunping.core.health import HealthEndpoints  # noqa: E402

NAME = "drainable"
HANDLER_SECONDS = 2.0


class DrainableService(HealthEndpoints):
    name = NAME
    database: Database[dict[str, Any]] = MongoDatabase()

    @rpc
    def ping(self) -> str:
        return "pong"

    @rpc
    def slow(self, token: str) -> str:
        # The test waits for this mark, then sends SIGTERM while the handler still sleeps.
        self.database.started.insert_one({"token": token})
        time.sleep(HANDLER_SECONDS)
        return f"finished {token}"


if __name__ == "__main__":
    registry.SERVICES = (
        *registry.SERVICES,
        registry.Service(NAME, f"{__spec__.name}:DrainableService", registry.Scaling.HORIZONTAL),
    )
    from qunping.operator.cli import main

    main()
