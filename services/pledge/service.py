"""The pledge service's nameko entrypoints: validate, load, decide, append, return.

The 双评 is a saga across services: `start_evaluation` schedules a ballot meeting and records
`EvaluationStarted` before it hands the meeting id to anyone, so results can only exist for
a meeting the log already waits for. The results come back as tally's `ResultsPublished`
(requeued on error, recorded once by a deterministic event id), and a timer, also run at
start, asks the tally for every evaluation still waiting, so a restart or a lost message
loses nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from nameko.events import SERVICE_POOL, event_handler
from nameko.rpc import rpc
from nameko.timer import timer

from qunping.core.dependencies import SignsCheckpoints
from qunping.core.envelope import NewEvent
from qunping.core.errors import NotFound, Refused
from qunping.core.feed import public_feed
from qunping.core.health import HealthEndpoints
from qunping.core.schemas import load
from services.pledge import domain, evaluation, queries, schemas
from services.pledge.dependencies import PledgeDependency, Pledges
from services.pledge.domain import Pledge
from services.pledge.events import payloads

SWEEP_SECONDS = 5
"""How often overdue items and waiting evaluations are looked for."""


class PledgeService(HealthEndpoints, SignsCheckpoints):
    name = "pledge"
    pledges: Pledges = PledgeDependency()

    # -- resident units ----------------------------------------------------------------

    @rpc
    def register_unit(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.RegisterUnit(), payload)
        event = domain.register_unit(
            command["district"],
            command["community"],
            command["name"],
            command["kind"],
            command["contact"],
        )
        self.pledges.book.append_new(f"unit-{event.data['unit_id']}", event)
        return {"unit_id": event.data["unit_id"]}

    @rpc
    def get_unit(self, payload: dict[str, Any]) -> dict[str, Any]:
        return self.pledges.book.unit(load(schemas.UnitRef(), payload)["unit_id"]).summary()

    @rpc
    def list_units(self, payload: dict[str, Any]) -> dict[str, Any]:
        query = load(schemas.ListUnits(), payload)
        return {"units": queries.units(self.pledges.book, query)}

    # -- 双诺: pledge letters -----------------------------------------------------------

    @rpc
    def draft_pledge(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.DraftPledge(), payload)
        unit = self.pledges.book.unit(command["unit_id"])
        event = domain.draft_pledge(unit, command["year"], period(command), command["items"])
        self.pledges.book.append_new(f"pledge-{event.data['pledge_id']}", event)
        return {"pledge_id": event.data["pledge_id"], "version": 1}

    @rpc
    def amend_pledge(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.AmendPledge(), payload)
        [amended] = self.pledges.book.decide(
            command["pledge_id"],
            lambda pledge: [pledge.amend(period(command), command["items"], command["reason"])],
        )
        return {"pledge_id": command["pledge_id"], "version": amended.data["version"]}

    @rpc
    def sign_pledge(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.SignPledge(), payload)
        self.pledges.book.decide(
            command["pledge_id"],
            lambda pledge: pledge.sign(
                command["version"], command["side"], command["representative"]
            ),
        )
        return self.pledges.book.pledge(command["pledge_id"]).summary()

    # -- 双述: fulfilment reports -------------------------------------------------------

    @rpc
    def report_item(self, payload: dict[str, Any]) -> dict[str, Any]:
        command = load(schemas.ReportItem(), payload)
        return self._report(command, Pledge.report)

    @rpc
    def correct_report(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Replace a side's report on an item; the report replaced stays in the log."""
        command = load(schemas.ReportItem(), payload)
        return self._report(command, Pledge.correct_report)

    def _report(
        self,
        command: dict[str, Any],
        decision: Callable[[Pledge, dict[str, Any], date], NewEvent],
    ) -> dict[str, Any]:
        today = self.pledges.today()
        self.pledges.book.decide(
            command["pledge_id"], lambda pledge: [decision(pledge, command, today)]
        )
        pledge = self.pledges.book.pledge(command["pledge_id"])
        return {"pledge_id": pledge.pledge_id, "fulfilment": pledge.fulfilment()}

    # -- queries ---------------------------------------------------------------------

    @rpc
    def pledge_detail(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A letter: every version with its signatures, reports, overdue items, evaluation."""
        return self.pledges.book.pledge(load(schemas.PledgeRef(), payload)["pledge_id"]).detail()

    @rpc
    def list_pledges(self, payload: dict[str, Any]) -> dict[str, Any]:
        query = load(schemas.ListPledges(), payload)
        return {"pledges": queries.pledges(self.pledges.book, query)}

    @rpc
    def overdue_items(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Items raised overdue and still without a report."""
        query = load(schemas.ListOverdue(), payload)
        return {"items": queries.overdue_items(self.pledges.book, query)}

    # -- 双评: evaluation by ballot ------------------------------------------------------

    @rpc
    def start_evaluation(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Schedule the ballot meeting rating both sides; the organiser runs it in ballot."""
        return self._evaluate(load(schemas.StartEvaluation(), payload), rerun_of=None)

    @rpc
    def rerun_evaluation(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A new meeting for a pledge whose evaluation meeting ballot has voided."""
        command = load(schemas.RerunEvaluation(), payload)
        current = self.pledges.book.pledge(command["pledge_id"]).evaluation
        if current is None:
            raise Refused("the pledge has no evaluation to re-run")
        return self._evaluate(command, rerun_of=current.meeting_id)

    def _evaluate(self, command: dict[str, Any], rerun_of: str | None) -> dict[str, Any]:
        book = self.pledges.book
        with book.lock:
            pledge = book.pledge(command["pledge_id"])
            pledge.may_start_evaluation(rerun_of)
            campaign_id = self._campaign_for(pledge.district, pledge.year)
            meeting = self.pledges.ballot.schedule_meeting(
                {
                    "campaign_id": campaign_id,
                    "community": pledge.community,
                    "street": command["street"],
                    "starts_at": command["starts_at"].isoformat(),
                    "place": command["place"],
                    "expected_participants": command["expected_participants"],
                    "subjects": evaluation.subjects(pledge.community, pledge.unit),
                    "rerun_of": rerun_of,
                    "pledge_id": pledge.pledge_id,
                    "actor": command["actor"],
                }
            )
            book.decide(
                pledge.pledge_id,
                lambda current: [
                    current.start_evaluation(meeting["meeting_id"], campaign_id, rerun_of)
                ],
            )
        return {
            "pledge_id": pledge.pledge_id,
            "campaign_id": campaign_id,
            "meeting_id": meeting["meeting_id"],
            "subjects": meeting["subjects"],
        }

    def _campaign_for(self, district: str, year: int) -> str:
        """The ballot campaign of a district's pledge evaluations of a year, created once.

        Remembered in the pledge log; the book's lock makes one worker create it. A crash
        between ballot's reply and the append leaves an empty campaign in ballot, unused.
        """
        book = self.pledges.book
        stream = domain.campaign_stream(district, year)
        with book.lock:
            book.refresh()
            if stream in book.campaigns:
                return book.campaigns[stream]
            created = self.pledges.ballot.create_campaign(
                evaluation.campaign(district, year, self.pledges.quorum)
            )
            campaign_id = str(created["campaign_id"])
            book.append_new(stream, domain.evaluation_campaign_created(district, year, campaign_id))
            return campaign_id

    @event_handler("tally", "ResultsPublished", handler_type=SERVICE_POOL, requeue_on_error=True)
    def on_results_published(self, cloudevent: dict[str, Any]) -> None:
        data = cloudevent["data"]
        self._record_results(data["meeting_id"], data["results"]["subjects"])

    def _record_results(self, meeting_id: str, subjects: list[dict[str, Any]]) -> None:
        pledge_id = self.pledges.book.awaiting(meeting_id)
        if pledge_id is not None:
            self.pledges.book.decide(
                pledge_id, lambda pledge: pledge.record_results(meeting_id, subjects)
            )

    # -- timers ----------------------------------------------------------------------

    @timer(interval=SWEEP_SECONDS, eager=True)
    def sweep(self) -> None:
        """Raise overdue items; ask the tally for results every waiting evaluation lacks.

        Overdue items first, for every pledge: a tally that does not answer only delays
        the evaluations.
        """
        book = self.pledges.book
        book.refresh()
        today = self.pledges.today()
        pledges = list(book.pledges.values())
        for pledge in pledges:
            if pledge.overdue_items(today):
                book.decide(pledge.pledge_id, lambda current: current.overdue_items(today))
        for pledge in pledges:
            meeting_id = pledge.awaiting_results
            if meeting_id is not None:
                results = self._published_results(meeting_id)
                if results is not None:
                    self._record_results(meeting_id, results["results"]["subjects"])

    def _published_results(self, meeting_id: str) -> dict[str, Any] | None:
        """The tally's results of a meeting, if published and not voided since."""
        try:
            results: dict[str, Any] = self.pledges.tally.results({"meeting_id": meeting_id})
        except NotFound:
            return None
        return None if results.get("void") else results

    # -- the year-end export, the public contract ----------------------------------------

    @rpc
    def export(self, payload: dict[str, Any]) -> dict[str, Any]:
        """年终考核: every pledge of a district's year, as CSV or XLSX (base64)."""
        query = load(schemas.Export(), payload)
        return queries.year_end_export(
            self.pledges.book, query["district"], query["year"], query["format"]
        )

    @rpc
    def public_feed(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The pledge log's public events after a position: outside systems backfill here."""
        return public_feed(self.pledges.book.log, payloads, payload)


def period(command: dict[str, Any]) -> dict[str, Any]:
    return {key: command[key] for key in domain.PERIOD_FIELDS}
