"""`audit replay`: rebuild the tally from position 0 in a scratch database and compare.

The replay runs the tally's own projection code (`TallyProjection` under a
`ProjectionRunner`) over the ballot log as stored, reading old events through the ballot
log's upcasters, into a scratch database. It then compares, document by document, the
scratch read models with the live ones, and every event the replay would publish with the
events the tally log actually holds (results, grades, alerts: their ids are deterministic).

As of a past position the replay stops there; the live read models reflect today, so only
what was published by then is compared: exactly the results an auditor holds on paper.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from qunping.core.envelope import NewEvent, RecordedEvent, start_of_day
from qunping.core.projection import CHECKPOINTS, ProjectionRunner
from qunping.core.tamper import TAMPER_EVENTS
from services.audit.sources import Sources
from services.ballot.events import upcasters
from services.ballot.judgement import ballots_digest
from services.tally.events import upcasters as tally_upcasters
from services.tally.projection import TallyProjection, marks_of

SOURCE, TALLY = "ballot", "tally"
BATCH = 5000
"""Source events per scratch transaction: nobody reads the scratch database meanwhile, so
fewer, larger commits (each touches only a few read-model documents) cost less."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Which district, campaign or meeting the comparison is about (the replay is always
    whole); a district's auditor is told of its own district's differences only."""

    campaign: str | None = None
    meeting: str | None = None
    district: str | None = None
    within: frozenset[str] | None = None
    """The district's campaigns and meetings, as the replay found them in the log."""

    def covers(self, document: Mapping[str, Any], key: Any = None) -> bool:
        named = {key, document.get("campaign_id"), document.get("meeting_id")}
        if self.within is not None and not named & self.within:
            return False
        if self.meeting is not None and self.meeting not in (key, document.get("meeting_id")):
            return False
        return self.campaign is None or self.campaign in (key, document.get("campaign_id"))


@dataclass
class ReplayReport:
    as_of: int
    replayed: int
    compared: int = 0
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of,
            "replayed": self.replayed,
            "compared": self.compared,
            "ok": self.ok,
            "differences": self.differences,
            "notes": self.notes,
        }


def position_at(sources: Sources, moment: datetime) -> int:
    """The last ballot-log position recorded at or before `moment`.

    Ballots carry only their day, so an event stamped at midnight exactly says nothing
    about the instant: the position is chosen among precisely timed events only, and a
    ballot counts as of `moment` only if a precisely timed event after it did too.
    """
    position = 0
    for event in sources.log(SOURCE).read_all():
        if event.recorded_at > moment:
            break
        if event.recorded_at != start_of_day(event.recorded_at):
            position = event.position
    return position


def live_position(sources: Sources) -> int:
    """The ballot-log position the live tally's read models reflect."""
    document = sources.database(TALLY)[CHECKPOINTS].find_one({"_id": f"tally:{SOURCE}"})
    return 0 if document is None else int(document["position"])


ATTEMPTS = 3
"""How many times a replay compares with a live tally that moved on while it ran."""


def replay(sources: Sources, *, as_of: int | None = None, scope: Scope = Scope()) -> ReplayReport:
    """Replay and compare. The live tally may commit more of the log while a replay runs
    (a close, say), and its read models would then differ from the replay's for that reason
    alone: a replay that found differences with the live tally since moved on is run again."""
    for _ in range(ATTEMPTS):
        report = _replay_once(sources, as_of, scope)
        if report.ok or as_of is not None or live_position(sources) == report.as_of:
            return report
    report.notes.append(
        f"the live tally moved on during each of {ATTEMPTS} replays: some differences may be "
        "only its progress; replay again when it is idle"
    )
    return report


def _replay_once(sources: Sources, as_of: int | None, scope: Scope) -> ReplayReport:
    ballot_log = sources.log(SOURCE)
    live = live_position(sources)
    until = live if as_of is None else as_of
    published: dict[str, tuple[str, NewEvent]] = {}

    ballot_boxes: dict[str, list[RecordedEvent]] = {}
    uncommitted: list[tuple[str, str]] = []
    """(meeting, what is wrong with its close)"""
    district_ids: set[str] = set()
    beyond: list[int] = []
    """The first position the log holds past `until`, if any: the live tally lags."""

    def read(after: int) -> Iterator[RecordedEvent]:
        """The log once, in order, keeping each ballot for its meeting's close: every
        ballot precedes the close in the log, so none is read twice. A close that records
        its ballots' digest must record the digest of the ballots the log holds. Reading
        on to the first event past `until` says whether there is more, without asking the
        log for its head."""
        for event in ballot_log.read_all(after):
            if event.position > until:
                beyond.append(event.position)
                return
            if event.type == "BallotCast":
                ballot_boxes.setdefault(event.stream, []).append(upcasters.upcast(event))
            elif event.type == "VotingClosed":
                meeting_id = event.data["meeting_id"]
                stated = upcasters.upcast(event).data["ballots_digest"]
                box = marks_of(ballot_boxes.get(f"ballotbox-{meeting_id}", []))
                if stated is not None and stated != ballots_digest(box):
                    uncommitted.append(
                        (
                            meeting_id,
                            f"ballot log position {event.position}: the close of meeting "
                            f"{meeting_id} commits to other ballots than the log's",
                        )
                    )
            elif event.type == "CampaignCreated" and event.data["district"] == scope.district:
                district_ids.add(event.data["campaign_id"])
            elif event.type == "MeetingScheduled" and event.data["campaign_id"] in district_ids:
                district_ids.add(event.data["meeting_id"])
            yield event

    def ballots_of(meeting_id: str) -> list[list[dict[str, str]]]:
        return marks_of(ballot_boxes.pop(f"ballotbox-{meeting_id}", []))

    def publish(stream: str, event: NewEvent) -> None:
        published[event.event_id] = (stream, event)

    projection = TallyProjection(ballots_of, publish)
    with sources.scratch() as scratch:
        stopped: list[str] = []
        runner = ProjectionRunner(
            scratch,
            projection,
            read,
            source_log=SOURCE,
            batch_size=BATCH,
            upcasters=upcasters,
            on_tamper=lambda found: stopped.append(f"the replay stopped at {found}"),
        )
        report = ReplayReport(as_of=until, replayed=runner.catch_up(), differences=stopped)
        if scope.district is not None:
            scope = replace(scope, within=frozenset(district_ids))
        report.differences += [
            wrong for meeting_id, wrong in uncommitted if scope.covers({"meeting_id": meeting_id})
        ]
        if as_of is None or as_of == live:
            _compare_read_models(sources, scratch, projection, scope, report)
        else:
            report.notes.append(
                f"as of position {until}: compared with what was published by then only "
                f"(the live read models reflect position {live})"
            )
    _compare_published(sources, published, until, scope, report)
    if as_of is None and beyond:
        report.notes.append(
            f"the live tally reflects position {live}; the log goes on from {beyond[0]}: it lags"
        )
    return report


def _compare_read_models(
    sources: Sources,
    scratch: Any,
    projection: TallyProjection,
    scope: Scope,
    report: ReplayReport,
) -> None:
    live_database = sources.database(TALLY)
    for collection in projection.collections:
        live = _documents(live_database[collection].find(), scope)
        replayed = _documents(scratch[collection].find(), scope)
        for key in sorted(live.keys() | replayed.keys(), key=str):
            report.compared += 1
            where = f"read model {collection}/{key}"
            report.differences += differences(where, live.get(key), replayed.get(key))


def _documents(found: Any, scope: Scope) -> dict[Any, dict[str, Any]]:
    return {doc["_id"]: doc for doc in found if scope.covers(doc, doc["_id"])}


def _compare_published(
    sources: Sources,
    published: Mapping[str, tuple[str, NewEvent]],
    until: int,
    scope: Scope,
    report: ReplayReport,
) -> None:
    held = {
        event.event_id: event
        for event in map(tally_upcasters.upcast, sources.log(TALLY).read_all())
        if event.data.get("source_position", 0) <= until
        and scope.covers(event.data)
        and event.type not in TAMPER_EVENTS
    }
    replayed = {key: value for key, value in published.items() if scope.covers(value[1].data)}
    for event_id in sorted(held.keys() | replayed.keys()):
        report.compared += 1
        stored, again = held.get(event_id), replayed.get(event_id)
        if stored is None:
            assert again is not None
            report.differences.append(
                f"published {again[1].type} {event_id}: the replay publishes it, "
                "the tally log lacks it"
            )
            continue
        where = f"published {stored.type} {event_id} (tally log position {stored.position})"
        if again is None:
            report.differences.append(f"{where}: the replay does not reproduce it")
            continue
        stream, event = again
        if (stream, event.type) != (stored.stream, stored.type):
            report.differences.append(f"{where}: the replay publishes it as {stream}/{event.type}")
        report.differences += differences(where, stored.data, dict(event.data))


def differences(where: str, live: Any, replayed: Any, path: str = "") -> list[str]:
    """Each place where two JSON-like values differ, as `where path: live X, replay Y`."""
    if isinstance(live, dict) and isinstance(replayed, dict):
        found = []
        for key in sorted(live.keys() | replayed.keys(), key=str):
            found += differences(
                where, live.get(key, _ABSENT), replayed.get(key, _ABSENT), f"{path}.{key}"
            )
        return found
    if isinstance(live, list) and isinstance(replayed, list) and len(live) == len(replayed):
        found = []
        for index, (a, b) in enumerate(zip(live, replayed, strict=True)):
            found += differences(where, a, b, f"{path}[{index}]")
        return found
    if live == replayed:
        return []
    return [f"{where}{path}: live {_show(live)}, replay {_show(replayed)}"]


_ABSENT = "(absent)"


def _show(value: Any) -> str:
    text = repr(value) if value is not None else "(none)"
    return text if len(text) <= 120 else text[:117] + "..."
