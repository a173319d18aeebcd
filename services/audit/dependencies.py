"""The nameko extensions the audit service is built from: its sources, its configured timer."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider
from nameko.timer import Timer
from pymongo import MongoClient

from services.audit.sources import Sources


class ConfiguredTimer(Timer):  # type: ignore[misc]
    """nameko's timer, its interval read from the container's config at setup."""

    def __init__(self, setting: str, default: float, **kwargs: Any) -> None:
        super().__init__(interval=default, **kwargs)
        self.setting = setting
        self.default = default

    def setup(self) -> None:
        self.interval = float(self.container.config.get(self.setting, self.default))


configured_timer = ConfiguredTimer.decorator


class AuditSources(DependencyProvider):  # type: ignore[misc]
    def setup(self) -> None:
        config = self.container.config
        self.client: MongoClient[dict[str, Any]] = MongoClient(config["MONGO_URI"], tz_aware=True)
        self.sources = Sources(
            self.client, config.get("QUNPING_DB_PREFIX", "qunping_"), shared_scratch=True
        )

    def stop(self) -> None:
        self.client.close()

    def get_dependency(self, worker_ctx: Any) -> Sources:
        return self.sources
