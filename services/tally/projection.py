"""The tally's read models, projected from the ballot log.

While a meeting is open its board counts check-ins, issued and returned ballots, nothing
else: ballots reach the tally sealed, and their marks are fetched only once voting has
closed (docs/architecture.md#3-no-partial-results). At the close the results are computed,
stored and published as a
`ResultsPublished` event of the tally's own log; a community's 双评 grade follows once its
results and its superior assessment both exist; the campaign's district summary follows
every change. Every document derives from the source events alone, so a rebuild from
position 0 yields the same documents.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from qunping.core.envelope import NewEvent, RecordedEvent
from qunping.core.projection import ReadModels
from services.tally import scoring
from services.tally.events import RESULTS_VERSION

Change = tuple[dict[str, Any], int]
"""A meeting's contribution to its summary, and +1 to add it or -1 to take it back."""
BallotsOf = Callable[[str], Sequence[Sequence[dict[str, str]]]]
"""The marks of every ballot of a closed meeting."""
Publish = Callable[[str, NewEvent], None]
"""Append an event to a stream of the tally log (idempotent: ids are deterministic)."""

CLOSING = ("issued", "returned", "valid", "void", "blank", "reconciled")
"""What results say of the close: the same for a close recorded in any schema version."""
EVENT_IDS = uuid.UUID("5d0c6f1e-3b0e-4b8e-9a57-7c1f0b1a2e40")


def event_id(source: RecordedEvent, fact: str) -> str:
    """The same source event always yields the same published event id."""
    return str(uuid.uuid5(EVENT_IDS, f"{source.log}:{source.position}:{fact}"))


class TallyProjection:
    name = "tally"
    indexes: Mapping[str, Sequence[Sequence[str]]] = {
        "results": [["campaign_id", "community"]],
        "grades": [["campaign_id"], ["community"]],
    }
    """Read-model indexes for the queries the projection itself makes."""
    collections: Sequence[str] = (
        "campaigns",
        "meetings",
        "boards",
        "results",
        "assessments",
        "grades",
        "summaries",
    )

    def __init__(self, ballots_of: BallotsOf, publish: Publish) -> None:
        self._ballots_of = ballots_of
        self._publish = publish

    def apply(self, event: RecordedEvent, models: ReadModels) -> None:
        handler = getattr(self, f"_on_{event.type}", None)
        if handler is not None:
            handler(event, models)

    # -- campaigns and meetings ------------------------------------------------------

    def _on_CampaignCreated(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        data = event.data
        models.put(
            "campaigns",
            data["campaign_id"],
            {
                "district": data["district"],
                "year": data["year"],
                "batch": data["batch"],
                "policy": data["policy"],
                "order": [data["year"], event.position],
            },
        )

    def _on_MeetingScheduled(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        data = event.data
        models.put(
            "meetings",
            data["meeting_id"],
            {
                key: data[key]
                for key in (
                    "campaign_id",
                    "community",
                    "street",
                    "starts_at",
                    "subjects",
                    "policy_hash",
                    "rerun_of",
                )
            },
        )
        models.put(
            "boards",
            data["meeting_id"],
            {
                "campaign_id": data["campaign_id"],
                "community": data["community"],
                "phase": "scheduled",
                "checked_in": 0,
                "quorum": data["policy"]["quorum"]["min_present"],
                "issued": 0,
                "returned": 0,
            },
        )

    # -- the board -------------------------------------------------------------------

    def _count(self, models: ReadModels, meeting_id: str, field: str, by: int = 1) -> None:
        board = models.get("boards", meeting_id)
        if board is not None:
            board[field] += by
            models.put("boards", meeting_id, board)

    def _phase(self, models: ReadModels, meeting_id: str, phase: str) -> None:
        board = models.get("boards", meeting_id)
        if board is not None:
            board["phase"] = phase
            models.put("boards", meeting_id, board)

    def _on_RepresentativeCheckedIn(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        self._count(models, event.data["meeting_id"], "checked_in")

    def _on_TokensIssued(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        # Sealed on the way (the count only), in full when an audit replays the log.
        data = event.data
        issued = data["count"] if "count" in data else len(data["token_hashes"])
        self._count(models, data["meeting_id"], "issued", issued)

    def _on_PaperSlipsIssued(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        self._count(models, event.data["meeting_id"], "issued", event.data["count"])

    def _on_VotingOpened(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        self._phase(models, event.data["meeting_id"], "open")

    def _on_BallotCast(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        self._count(models, event.data["meeting_id"], "returned")

    # -- results, grades, summaries --------------------------------------------------

    def _on_VotingClosed(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        meeting_id = event.data["meeting_id"]
        self._phase(models, meeting_id, "closed")
        meeting = models.get("meetings", meeting_id)
        if meeting is None or not event.data["reconciled"]:
            return
        campaign = models.get("campaigns", meeting["campaign_id"])
        assert campaign is not None
        results = scoring.meeting_results(
            campaign["policy"], meeting["subjects"], self._ballots_of(meeting_id)
        )
        document = {
            "meeting_id": meeting_id,
            "campaign_id": meeting["campaign_id"],
            "community": meeting["community"],
            "policy_hash": meeting["policy_hash"],
            "closing": {key: event.data[key] for key in CLOSING},
            "results": results,
            "source_position": event.position,
            "source_hash": event.hash,
        }
        models.put("results", meeting_id, {**document, "void": False})
        self._publish(
            f"results-{meeting_id}",
            NewEvent(
                "ResultsPublished",
                document,
                event_id=event_id(event, "results"),
                schema_version=RESULTS_VERSION,
            ),
        )
        self._grade(event, models, meeting["campaign_id"], meeting["community"])
        part = scoring.contribution(
            meeting["community"], results, campaign["policy"]["alert_below_percent"]
        )
        self._summarize(models, meeting["campaign_id"], (part, 1))
        if part["flagged"]:
            self._publish(
                f"alert-{meeting_id}",
                NewEvent(
                    "AlertRaised",
                    alert(event, meeting, part["flagged"]),
                    event_id=event_id(event, "alert"),
                ),
            )

    def _on_MeetingVoided(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        meeting_id = event.data["meeting_id"]
        self._phase(models, meeting_id, "void")
        results = models.get("results", meeting_id)
        if results is not None and not results["void"]:
            models.put("results", meeting_id, {**results, "void": True})
            self._grade(event, models, results["campaign_id"], results["community"])
            campaign = models.get("campaigns", results["campaign_id"])
            assert campaign is not None
            part = scoring.contribution(
                results["community"], results["results"], campaign["policy"]["alert_below_percent"]
            )
            left = {
                "meeting_id": meeting_id,
                "community": results["community"],
                "reason": event.data["reason"],
            }
            self._summarize(models, results["campaign_id"], (part, -1), left)

    def _on_AssessmentRecorded(self, event: RecordedEvent, models: ReadModels) -> None:  # noqa: N802
        data = event.data
        models.put(
            "assessments",
            f"{data['campaign_id']}:{data['community']}",
            {
                **{k: data[k] for k in ("campaign_id", "community", "score", "assessor", "basis")},
                # Events recorded before corrections existed have none.
                "correction": data.get("correction"),
            },
        )
        self._grade(event, models, data["campaign_id"], data["community"])
        self._summarize(models, data["campaign_id"])

    def _grade(
        self, source: RecordedEvent, models: ReadModels, campaign_id: str, community: str
    ) -> None:
        key = f"{campaign_id}:{community}"
        campaign = models.get("campaigns", campaign_id)
        assessment = models.get("assessments", key)
        if campaign is None or assessment is None:
            return
        held = [
            r
            for r in models.find("results", {"campaign_id": campaign_id, "community": community})
            if not r["void"]
        ]
        if not held:
            models.delete("grades", key)
            return
        latest = max(held, key=lambda r: r["source_position"])
        mass = scoring.mass_score(latest["results"])
        if mass is None:
            return
        policy = campaign["policy"]
        grade = scoring.composite_grade(policy, mass, assessment["score"])
        if assessment.get("correction"):
            grade["assessment_corrected"] = assessment["correction"]
        previous = self._previous_grade(models, campaign["district"], community, campaign["order"])
        document = {
            "campaign_id": campaign_id,
            "district": campaign["district"],
            "community": community,
            **grade,
            "previous_grade": previous,
            "movement": scoring.movement(policy, previous, grade["grade"]),
            "source_position": source.position,
            "order": campaign["order"],
        }
        if models.get("grades", key) == {**document, "_id": key}:
            return
        models.put("grades", key, document)
        # The correction is public on the assessment's own event; GradeAssigned keeps its shape.
        published = {
            k: v
            for k, v in document.items()
            if k not in ("order", "assessment_corrected", "district")
        }
        self._publish(
            f"grade-{campaign_id}",
            NewEvent("GradeAssigned", published, event_id=event_id(source, f"grade:{community}")),
        )

    def _previous_grade(
        self, models: ReadModels, district: str, community: str, order: list[int]
    ) -> str | None:
        """The community's grade in its district's campaign before: a community is known by
        its name within its district (two districts may each have a 光明社区)."""
        query = {"district": district, "community": community}
        earlier = [g for g in models.find("grades", query) if g["order"] < order]
        return max(earlier, key=lambda g: g["order"])["grade"] if earlier else None

    def _summarize(
        self,
        models: ReadModels,
        campaign_id: str,
        change: Change | None = None,
        voided: dict[str, str] | None = None,
    ) -> None:
        """Keep the campaign's summary: fold a meeting's contribution in or out, recount
        grades; a voided meeting whose results left it is listed, with the reason."""
        campaign = models.get("campaigns", campaign_id)
        if campaign is None:
            return
        summary = models.get("summaries", campaign_id) or {
            "campaign_id": campaign_id,
            "district": campaign["district"],
            "year": campaign["year"],
            "batch": campaign["batch"],
            "meetings": 0,
            "totals": scoring.empty_totals(),
            "flagged": [],
            "grades": {},
        }
        summary.setdefault("voided", [])
        if voided is not None:
            summary["voided"] = [*summary["voided"], voided]
        if change is not None:
            part, sign = change
            scoring.fold(summary["totals"], part, sign)
            summary["meetings"] += sign
            if sign > 0:
                summary["flagged"] += part["flagged"]
            else:
                summary["flagged"] = [f for f in summary["flagged"] if f not in part["flagged"]]
        grades: dict[str, int] = {}
        for grade in models.find("grades", {"campaign_id": campaign_id}):
            grades[grade["grade"]] = grades.get(grade["grade"], 0) + 1
        summary["grades"] = dict(sorted(grades.items()))
        models.put(
            "summaries", campaign_id, {**summary, **scoring.summary_figures(summary["totals"])}
        )


KIND_LABELS = {
    "community": "社区",
    "committee": "社区两委班子",
    "secretary": "党支部书记",
    "graduate": "选聘生",
}


def alert(
    source: RecordedEvent, meeting: dict[str, Any], flags: list[dict[str, str]]
) -> dict[str, Any]:
    """The district alert for a closed meeting's flags, worded for the e-mail."""
    communities = [flag for flag in flags if flag["kind"] == "community"]
    headline = "满意率低于预警线" if communities else "有测评对象不称职票达到预警比例"
    details = "\n".join(
        f"{flag['subject']}（{KIND_LABELS.get(flag['kind'], flag['kind'])}）：{flag['reason']}"
        for flag in flags
    )
    return {
        "campaign_id": meeting["campaign_id"],
        "meeting_id": source.data["meeting_id"],
        "community": meeting["community"],
        "headline": headline,
        "details": details,
        "flags": flags,
        "source_position": source.position,
    }


def marks_of(ballots: Sequence[RecordedEvent]) -> list[list[dict[str, str]]]:
    return [list(ballot.data["marks"]) for ballot in ballots]


def unused(*_: Any) -> None:
    """For replays that must not publish (e.g. an audit into a scratch database)."""
