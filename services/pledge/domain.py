"""The rules of the 双诺双述双评 cycle: pure, no I/O.

`Unit` and `Pledge` are rebuilt from their events and decide what new events a command
produces, or refuse it with the reason; they never change themselves while deciding (the
events, once recorded, are applied). A pledge letter's versions all stay in its stream: an
amendment is a new version that both sides sign again, and until they have, the version
in force before it stays in force.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from qunping.core.envelope import NewEvent, RecordedEvent
from qunping.core.errors import InvalidInput, Refused

SIDES = ("community", "unit")
STATUSES = ("done", "partly", "not_done")
PLEDGE_STATUSES = (
    "awaiting_signatures",
    "in_force",
    "in_force_amendment_pending",
    "under_evaluation",
    "evaluated",
)
SUBJECT_SIDES = {"pledge_community": "community", "pledge_unit": "unit"}
"""The ballot subject kinds of a pledge evaluation, and the side each rates."""
EVENT_IDS = uuid.UUID("0b6b7a8e-4f5e-4c1f-9d2a-6f3c1e0a9b17")


def new_id() -> str:
    return secrets.token_hex(8)


def deterministic_id(*parts: str) -> str:
    """The same fact always gets the same event id, so a retry or a redelivery records once."""
    return str(uuid.uuid5(EVENT_IDS, ":".join(parts)))


def campaign_stream(district: str, year: int) -> str:
    """District names are Chinese text; stream names are ASCII, so the name is hashed."""
    return f"evalcampaign-{hashlib.sha256(district.encode()).hexdigest()[:32]}-{year}"


def evaluation_campaign_created(district: str, year: int, campaign_id: str) -> NewEvent:
    """The ballot campaign a district's pledge evaluations of a year go to, remembered."""
    return NewEvent(
        "EvaluationCampaignCreated",
        {"district": district, "year": year, "campaign_id": campaign_id},
    )


@dataclass
class Unit:
    unit_id: str
    district: str = ""
    community: str = ""
    name: str = ""
    kind: str = ""
    contact: dict[str, str | None] = field(default_factory=dict)
    version: int = 0

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        self.district, self.community = data["district"], data["community"]
        self.name, self.kind, self.contact = data["name"], data["kind"], data["contact"]
        self.version = event.version

    def summary(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "district": self.district,
            "community": self.community,
            "name": self.name,
            "kind": self.kind,
            "contact": self.contact,
        }


def register_unit(
    district: str, community: str, name: str, kind: str, contact: Mapping[str, str | None]
) -> NewEvent:
    return NewEvent(
        "UnitRegistered",
        {
            "unit_id": new_id(),
            "district": district,
            "community": community,
            "name": name,
            "kind": kind,
            "contact": dict(contact),
        },
    )


def placed_items(
    items: Sequence[Mapping[str, Any]], period: Mapping[str, date]
) -> list[dict[str, Any]]:
    """Each item with an id (`community-1`, `unit-2`, numbered per side), dates as text;
    refused unless both sides commit to something within the letter's period."""
    counted = dict.fromkeys(SIDES, 0)
    placed = []
    for item in items:
        counted[item["side"]] += 1
        if not period["period_start"] <= item["due_date"] <= period["period_end"]:
            raise InvalidInput({"items": [f"{item['title']}: due date outside the period"]})
        placed.append(
            {
                "item_id": f"{item['side']}-{counted[item['side']]}",
                "side": item["side"],
                "title": item["title"],
                "target": item["target"],
                "due_date": item["due_date"].isoformat(),
            }
        )
    missing = [side for side in SIDES if not counted[side]]
    if missing:
        raise InvalidInput({"items": [f"the {side} side commits to nothing" for side in missing]})
    return placed


def checked_period(period: Mapping[str, date]) -> dict[str, str]:
    """The letter's period and its reporting window (双述), which must lie in order."""
    problems: dict[str, list[str]] = {}
    if period["period_end"] < period["period_start"]:
        problems["period_end"] = ["before the period starts"]
    if period["report_until"] < period["report_from"]:
        problems["report_until"] = ["before the reporting window opens"]
    if period["report_from"] < period["period_start"]:
        problems["report_from"] = ["before the period starts"]
    if problems:
        raise InvalidInput(problems)
    return {key: value.isoformat() for key, value in period.items()}


PERIOD_FIELDS = ("period_start", "period_end", "report_from", "report_until")


def draft_pledge(
    unit: Unit, year: int, period: Mapping[str, date], items: Sequence[Mapping[str, Any]]
) -> NewEvent:
    """Version 1 of a letter between the unit and the community it is registered in."""
    return NewEvent(
        "PledgeDrafted",
        {
            "pledge_id": new_id(),
            "version": 1,
            "district": unit.district,
            "community": unit.community,
            "unit_id": unit.unit_id,
            "unit": unit.name,
            "year": year,
            **checked_period(period),
            "items": placed_items(items, period),
        },
    )


@dataclass
class Report:
    status: str
    evidence: str
    links: list[str]
    corrections: int = 0


@dataclass
class Evaluation:
    meeting_id: str
    campaign_id: str
    rerun_of: str | None
    results: dict[str, dict[str, Any]] | None = None


@dataclass
class Pledge:
    pledge_id: str
    district: str = ""
    community: str = ""
    unit_id: str = ""
    unit: str = ""
    year: int = 0
    versions: list[dict[str, Any]] = field(default_factory=list)
    """Every version of the letter as drafted or amended, oldest first."""
    signatures: dict[int, dict[str, str]] = field(default_factory=dict)
    """Per version, side -> representative who signed it."""
    in_force: int | None = None
    reports: dict[str, Report] = field(default_factory=dict)
    overdue: set[str] = field(default_factory=set)
    evaluations: list[Evaluation] = field(default_factory=list)
    version: int = 0
    """The stream version, for optimistic concurrency."""

    # -- folding ---------------------------------------------------------------------

    def apply(self, event: RecordedEvent) -> None:
        data = event.data
        if event.type in ("PledgeDrafted", "PledgeAmended"):
            if event.type == "PledgeDrafted":
                self.district, self.community = data["district"], data["community"]
                self.unit_id, self.unit, self.year = data["unit_id"], data["unit"], data["year"]
            self.versions.append({**data, "recorded_at": event.recorded_at.isoformat()})
            self.signatures[data["version"]] = {}
        elif event.type == "PledgeSigned":
            self.signatures[data["version"]][data["side"]] = data["representative"]
        elif event.type == "PledgeInForce":
            self.in_force = data["version"]
        elif event.type == "ItemReported":
            self.reports[data["item_id"]] = Report(data["status"], data["evidence"], data["links"])
        elif event.type == "ItemReportCorrected":
            corrected = self.reports[data["item_id"]]
            self.reports[data["item_id"]] = Report(
                data["status"], data["evidence"], data["links"], corrected.corrections + 1
            )
        elif event.type == "ItemOverdue":
            self.overdue.add(data["item_id"])
        elif event.type == "EvaluationStarted":
            self.evaluations.append(
                Evaluation(data["meeting_id"], data["campaign_id"], data["rerun_of"])
            )
        elif event.type == "EvaluationRecorded":
            self.evaluation_of(data["meeting_id"]).results = data["sides"]
        self.version = event.version

    @property
    def exists(self) -> bool:
        return self.version > 0

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[-1]

    @property
    def letter(self) -> dict[str, Any] | None:
        """The version in force, if both sides have signed one."""
        return None if self.in_force is None else self.versions[self.in_force - 1]

    def evaluation_of(self, meeting_id: str) -> Evaluation:
        return next(e for e in self.evaluations if e.meeting_id == meeting_id)

    @property
    def evaluation(self) -> Evaluation | None:
        """The current evaluation: the latest started (a re-run replaces a voided one)."""
        return self.evaluations[-1] if self.evaluations else None

    # -- 双诺: drafting, signing, amending ------------------------------------------

    def sign(self, version: int, side: str, representative: str) -> list[NewEvent]:
        if version != self.latest["version"]:
            raise Refused(
                "only the latest version can be signed",
                {"version": version, "latest": self.latest["version"]},
            )
        signed = self.signatures[version]
        if side in signed:
            raise Refused(f"the {side} side has already signed version {version}")
        events = [
            NewEvent(
                "PledgeSigned",
                {
                    "pledge_id": self.pledge_id,
                    "version": version,
                    "side": side,
                    "representative": representative,
                },
            )
        ]
        if set(signed) | {side} == set(SIDES):
            events.append(NewEvent("PledgeInForce", {**self._parties(), "version": version}))
        return events

    def amend(
        self, period: Mapping[str, date], items: Sequence[Mapping[str, Any]], reason: str
    ) -> NewEvent:
        if self.evaluations:
            raise Refused("the pledge is under evaluation: it can no longer be amended")
        placed = placed_items(items, period)
        reported = sorted(
            item_id
            for item_id in self.reports
            if not any(item["item_id"] == item_id for item in placed)
        )
        if reported:
            raise Refused("an amendment cannot drop items already reported on", {"items": reported})
        return NewEvent(
            "PledgeAmended",
            {
                **{k: v for k, v in self.latest.items() if k not in ("recorded_at", "reason")},
                "version": self.latest["version"] + 1,
                **checked_period(period),
                "items": placed,
                "reason": reason,
            },
        )

    # -- 双述: reporting -------------------------------------------------------------

    def _reportable_item(self, report: Mapping[str, Any], today: date) -> None:
        letter = self.letter
        if letter is None:
            raise Refused("the pledge is not in force: both sides must sign it first")
        item_id, side = report["item_id"], report["side"]
        if not any(i["item_id"] == item_id and i["side"] == side for i in letter["items"]):
            raise Refused(f"the {side} side has no item {item_id!r} in this pledge")
        opens, closes = letter["report_from"], letter["report_until"]
        if not date.fromisoformat(opens) <= today <= date.fromisoformat(closes):
            raise Refused(
                "outside the reporting window", {"report_from": opens, "report_until": closes}
            )

    def report(self, report: Mapping[str, Any], today: date) -> NewEvent:
        """A side's report on one of its items: `item_id`, `side`, `status`, `evidence`,
        `links`."""
        self._reportable_item(report, today)
        if report["item_id"] in self.reports:
            raise Refused(
                f"item {report['item_id']!r} is already reported on: send a correction to change it"
            )
        return NewEvent("ItemReported", self._report_data(report))

    def correct_report(self, report: Mapping[str, Any], today: date) -> NewEvent:
        self._reportable_item(report, today)
        if report["item_id"] not in self.reports:
            raise Refused(f"item {report['item_id']!r} has no report to correct")
        return NewEvent("ItemReportCorrected", self._report_data(report))

    def _report_data(self, report: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "pledge_id": self.pledge_id,
            **{key: report[key] for key in ("item_id", "side", "status", "evidence")},
            "links": list(report["links"]),
        }

    # -- overdue items ---------------------------------------------------------------

    def overdue_items(self, today: date) -> list[NewEvent]:
        """An event for each item of the letter in force past due, unreported, not yet told."""
        letter = self.letter
        if letter is None:
            return []
        return [
            self.item_overdue(item)
            for item in letter["items"]
            if date.fromisoformat(item["due_date"]) < today
            and item["item_id"] not in self.reports
            and item["item_id"] not in self.overdue
        ]

    def item_overdue(self, item: Mapping[str, Any]) -> NewEvent:
        if item["item_id"] in self.overdue:
            raise Refused(f"item {item['item_id']!r} is already overdue")
        return NewEvent(
            "ItemOverdue",
            {
                **self._parties(),
                "item_id": item["item_id"],
                "side": item["side"],
                "item_title": item["title"],
                "due_date": item["due_date"],
            },
            event_id=deterministic_id(self.pledge_id, item["item_id"], "overdue"),
        )

    # -- 双评: evaluation by ballot -------------------------------------------------

    def may_start_evaluation(self, rerun_of: str | None) -> None:
        """Refuses unless the pledge is in force and has no evaluation yet, or `rerun_of`
        names its current evaluation's meeting (which ballot re-runs only once voided)."""
        if self.letter is None:
            raise Refused("the pledge is not in force: both sides must sign it first")
        current = self.evaluation
        if rerun_of is None and current is not None:
            raise Refused(
                "the pledge has an evaluation: re-run it only once its meeting is voided",
                {"meeting_id": current.meeting_id},
            )
        if rerun_of is not None and (current is None or current.meeting_id != rerun_of):
            raise Refused("only the current evaluation's meeting can be re-run")

    def start_evaluation(self, meeting_id: str, campaign_id: str, rerun_of: str | None) -> NewEvent:
        self.may_start_evaluation(rerun_of)
        return NewEvent(
            "EvaluationStarted",
            {
                **self._parties(),
                "meeting_id": meeting_id,
                "campaign_id": campaign_id,
                "rerun_of": rerun_of,
            },
        )

    @property
    def awaiting_results(self) -> str | None:
        """The meeting whose results the saga still waits for, if any."""
        current = self.evaluation
        return current.meeting_id if current is not None and current.results is None else None

    def record_results(
        self, meeting_id: str, subjects: Sequence[Mapping[str, Any]]
    ) -> list[NewEvent]:
        """Each side's result, once, from the current meeting's published results.

        Results of a meeting the pledge no longer waits for (a duplicate, or a voided
        meeting since re-run) change nothing.
        """
        if self.awaiting_results != meeting_id:
            return []
        sides: dict[str, dict[str, Any]] = {}
        for subject in subjects:
            side = SUBJECT_SIDES.get(subject["kind"])
            if side is None:
                continue
            sides[side] = {
                "subject_id": subject["subject_id"],
                "headline": subject["headline"],
                "satisfaction": subject["rates"][subject["headline"]],
                "strict": subject["rates"].get("strict"),
                "counts": subject["counts"],
            }
        if set(sides) != set(SIDES):
            raise Refused("the meeting's results do not rate both sides", {"sides": sorted(sides)})
        return [
            NewEvent(
                "EvaluationRecorded",
                {**self._parties(), "meeting_id": meeting_id, "sides": sides},
                event_id=deterministic_id(self.pledge_id, meeting_id, "recorded"),
            )
        ]

    # -- reading ---------------------------------------------------------------------

    def _parties(self) -> dict[str, Any]:
        return {
            "pledge_id": self.pledge_id,
            "district": self.district,
            "year": self.year,
            "community": self.community,
            "unit_id": self.unit_id,
            "unit": self.unit,
        }

    def fulfilment(self) -> dict[str, dict[str, int]]:
        """Per side, how many items of the letter in force are done, partly, not done,
        unreported."""
        letter = self.letter or self.latest
        tally = {side: dict.fromkeys((*STATUSES, "unreported", "items"), 0) for side in SIDES}
        for item in letter["items"]:
            counts = tally[item["side"]]
            counts["items"] += 1
            report = self.reports.get(item["item_id"])
            counts[report.status if report else "unreported"] += 1
        return tally

    def status(self) -> str:
        if self.evaluation is not None:
            return "evaluated" if self.evaluation.results is not None else "under_evaluation"
        if self.in_force is None:
            return "awaiting_signatures"
        if self.in_force != self.latest["version"]:
            return "in_force_amendment_pending"
        return "in_force"

    def summary(self) -> dict[str, Any]:
        return {
            **self._parties(),
            "status": self.status(),
            "version": self.latest["version"],
            "in_force_version": self.in_force,
            "period_start": (self.letter or self.latest)["period_start"],
            "period_end": (self.letter or self.latest)["period_end"],
        }

    def detail(self) -> dict[str, Any]:
        current = self.evaluation
        return {
            **self.summary(),
            "letter": self.letter,
            "versions": [
                {**version, "signatures": self.signatures[version["version"]]}
                for version in self.versions
            ],
            "reports": {
                item_id: {
                    "status": report.status,
                    "evidence": report.evidence,
                    "links": report.links,
                    "corrections": report.corrections,
                }
                for item_id, report in sorted(self.reports.items())
            },
            "overdue": sorted(self.overdue),
            "fulfilment": self.fulfilment(),
            "evaluation": None
            if current is None
            else {
                "meeting_id": current.meeting_id,
                "campaign_id": current.campaign_id,
                "rerun_of": current.rerun_of,
                "results": current.results,
            },
        }
