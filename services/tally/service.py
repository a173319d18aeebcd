"""The tally service's entrypoints: feed the projection, answer queries."""

from __future__ import annotations

from typing import Any

from marshmallow import fields
from nameko.events import SERVICE_POOL, event_handler
from nameko.rpc import rpc
from nameko.timer import timer

from qunping.core.dependencies import SignsCheckpoints
from qunping.core.envelope import from_cloudevent
from qunping.core.errors import NotFound
from qunping.core.feed import public_feed
from qunping.core.health import HealthEndpoints
from qunping.core.schemas import Pattern, StrictSchema, load
from services.tally.dependencies import SOURCE, Tally, TallyDependency
from services.tally.events import payloads

ID = Pattern(r"^[0-9a-f]{16}$")


class MeetingRef(StrictSchema):
    meeting_id = fields.String(required=True, validate=ID)


class CampaignRef(StrictSchema):
    campaign_id = fields.String(required=True, validate=ID)


def without_id(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "_id"}


class TallyService(HealthEndpoints, SignsCheckpoints):
    name = "tally"
    tally: Tally = TallyDependency()

    @event_handler(SOURCE, "#", handler_type=SERVICE_POOL, requeue_on_error=True)
    def on_ballot_event(self, cloudevent: dict[str, Any]) -> None:
        self.tally.runner.deliver(from_cloudevent(cloudevent))

    @timer(interval=2)
    def catch_up(self) -> None:
        """A safety net: anything no message brought (a broker restart, say) is read here."""
        self.tally.runner.catch_up()

    @rpc
    def board(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A meeting's board: check-ins against quorum, issued, returned; never ratings."""
        meeting_id = load(MeetingRef(), payload)["meeting_id"]
        board = self.tally.database["boards"].find_one({"_id": meeting_id})
        if board is None:
            raise NotFound(f"meeting {meeting_id}")
        return {"meeting_id": meeting_id, **without_id(board)}

    @rpc
    def results(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A meeting's results: they exist from its close on."""
        meeting_id = load(MeetingRef(), payload)["meeting_id"]
        results = self.tally.database["results"].find_one({"_id": meeting_id})
        if results is None:
            raise NotFound(f"results of meeting {meeting_id}")
        return without_id(results)

    @rpc
    def grades(self, payload: dict[str, Any]) -> dict[str, Any]:
        campaign_id = load(CampaignRef(), payload)["campaign_id"]
        grades = self.tally.database["grades"].find(
            {"campaign_id": campaign_id}, sort=[("community", 1)]
        )
        return {"campaign_id": campaign_id, "grades": [without_id(grade) for grade in grades]}

    @rpc
    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        campaign_id = load(CampaignRef(), payload)["campaign_id"]
        summary = self.tally.database["summaries"].find_one({"_id": campaign_id})
        if summary is None:
            raise NotFound(f"summary of campaign {campaign_id}")
        # `totals` is the running sum the figures are folded from, not a figure to show.
        return {key: value for key, value in without_id(summary).items() if key != "totals"}

    @rpc
    def public_feed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The tally log's public events (results, grades) after a position."""
        return public_feed(self.tally.log, payloads, payload)

    @rpc
    def caught_up_to(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The ballot log position every read model reflects."""
        load(StrictSchema(), payload)
        return {"position": self.tally.runner.checkpoint().position}
