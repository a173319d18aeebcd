"""The pledge log (with its relay), the book folded from it, the clock, the quorum setting,
and RPC to ballot and tally for the 双评 saga."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import fields, validate
from nameko.standalone.rpc import ClusterRpcProxy

from qunping.core.dependencies import EventLogDependency
from qunping.core.schemas import StrictSchema, load
from services.pledge.book import PledgeBook
from services.pledge.events import payloads

CHINA = ZoneInfo("Asia/Shanghai")
"""Due dates and reporting windows are days in the districts' own time zone."""
QUORUM = "QUNPING_PLEDGE_QUORUM"
DEFAULT_QUORUM = "30"
"""Representatives an evaluation meeting needs checked in before voting opens."""


class PledgeSettings(StrictSchema):
    QUNPING_PLEDGE_QUORUM = fields.Integer(required=True, validate=validate.Range(min=1, max=1000))


def quorum_setting(config: Mapping[str, Any]) -> int:
    """From the nameko config, else the environment; a bad value stops the service."""
    raw = config.get(QUORUM, os.environ.get(QUORUM, DEFAULT_QUORUM))
    return int(load(PledgeSettings(), {QUORUM: raw})[QUORUM])


def today_in_china() -> date:
    return datetime.now(CHINA).date()


class Pledges:
    """What a pledge worker uses: the book, today's date, the evaluation quorum, and ballot
    and tally over RPC."""

    def __init__(self, dependency: PledgeDependency) -> None:
        self.book = dependency.book
        self.today = dependency.clock
        self.quorum = dependency.quorum
        self.ballot = dependency.proxy["ballot"]
        self.tally = dependency.proxy["tally"]


class PledgeDependency(EventLogDependency):
    def __init__(self) -> None:
        super().__init__(payloads)
        self.clock: Callable[[], date] = today_in_china
        """Today's date; tests set another clock rather than wait for a due date."""

    def setup(self) -> None:
        super().setup()
        self.book = PledgeBook(self.log)
        self.quorum = quorum_setting(self.container.config)
        # Started in setup, not start: nameko starts extensions all at once, and the eager
        # sweep may run before this provider's start has.
        self._proxy_runner = ClusterRpcProxy(self.container.config, timeout=30)
        self.proxy: Any = self._proxy_runner.start()

    def stop(self) -> None:
        self._proxy_runner.stop()
        super().stop()

    def kill(self) -> None:
        self._proxy_runner.stop()
        super().kill()

    def get_dependency(self, worker_ctx: Any) -> Pledges:  # type: ignore[override]
        return Pledges(self)
