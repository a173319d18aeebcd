"""The pledge log (with its relay), the book folded from it, the clock, and RPC to ballot
and tally for the 双评 saga."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import fields, validate
from nameko.standalone.rpc import ClusterRpcProxy

from qunping.core.dependencies import EventLogDependency
from qunping.core.envelope import NewEvent
from qunping.core.errors import NotFound
from qunping.core.schemas import StrictSchema, load
from services.pledge import evaluation
from services.pledge.book import PledgeBook
from services.pledge.domain import campaign_stream
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
    """What a pledge worker uses: the book, today's date, ballot and tally over RPC."""

    def __init__(self, dependency: PledgeDependency) -> None:
        self.book = dependency.book
        self.today = dependency.clock
        self.ballot = dependency.proxy["ballot"]
        self.tally = dependency.proxy["tally"]
        self._quorum = dependency.quorum

    def campaign_for(self, district: str, year: int) -> str:
        """The ballot campaign of a district's pledge evaluations of a year, created once.

        Remembered in the pledge log; the book's lock makes one worker create it. A crash
        between ballot's reply and the append leaves an empty campaign in ballot, unused.
        """
        stream = campaign_stream(district, year)
        with self.book.lock:
            self.book.refresh()
            if stream in self.book.campaigns:
                return self.book.campaigns[stream]
            created = self.ballot.create_campaign(
                {
                    "district": district,
                    "year": year,
                    "batch": evaluation.BATCH,
                    "policy": evaluation.policy(self._quorum),
                }
            )
            self.book.append_new(
                stream,
                NewEvent(
                    "EvaluationCampaignCreated",
                    {"district": district, "year": year, "campaign_id": created["campaign_id"]},
                ),
            )
            return str(created["campaign_id"])

    def results_of(self, meeting_id: str) -> dict[str, Any] | None:
        """The tally's results of a meeting, if published and not voided since."""
        try:
            results: dict[str, Any] = self.tally.results({"meeting_id": meeting_id})
        except NotFound:
            return None
        return None if results.get("void") else results


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
