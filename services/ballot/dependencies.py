"""The ballot service's nameko provider: its log (with the relay that publishes it, sealed)
and one warm `BallotStore` shared by every worker."""

from __future__ import annotations

from typing import Any

from qunping.core.dependencies import EventLogDependency
from services.ballot.store import BallotStore


class BallotStoreDependency(EventLogDependency):
    def setup(self) -> None:
        super().setup()
        self.store = BallotStore(self.log)

    def get_dependency(self, worker_ctx: Any) -> BallotStore:  # type: ignore[override]
        return self.store
