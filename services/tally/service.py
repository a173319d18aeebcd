"""The tally service's entrypoints: feed the projection, answer queries."""

from __future__ import annotations

from typing import Any

from nameko.events import SERVICE_POOL, event_handler
from nameko.rpc import rpc
from nameko.timer import timer

from qunping.core.dependencies import SignsCheckpoints
from qunping.core.envelope import from_cloudevent
from qunping.core.feed import public_feed
from qunping.core.health import HealthEndpoints
from qunping.core.schemas import StrictSchema, load
from services.tally import queries, schemas
from services.tally.dependencies import SOURCE, Tally, TallyDependency
from services.tally.events import payloads


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
        meeting_id = load(schemas.MeetingRef(), payload)["meeting_id"]
        return queries.board(self.tally.database, meeting_id)

    @rpc
    def results(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A meeting's results: they exist from its close on."""
        meeting_id = load(schemas.MeetingRef(), payload)["meeting_id"]
        return queries.results(self.tally.database, self.tally.log, meeting_id)

    @rpc
    def grades(self, payload: dict[str, Any]) -> dict[str, Any]:
        campaign_id = load(schemas.CampaignRef(), payload)["campaign_id"]
        return queries.grades(self.tally.database, campaign_id)

    @rpc
    def summary(self, payload: dict[str, Any]) -> dict[str, Any]:
        campaign_id = load(schemas.CampaignRef(), payload)["campaign_id"]
        return queries.summary(self.tally.database, campaign_id)

    @rpc
    def public_feed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The tally log's public events (results, grades) after a position."""
        return public_feed(self.tally.log, payloads, payload)

    @rpc
    def caught_up_to(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The ballot log position every read model reflects."""
        load(StrictSchema(), payload)
        return {"position": self.tally.runner.checkpoint().position}
