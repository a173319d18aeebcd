"""`audit export`: a self-contained bundle for one meeting or campaign, and its verifier.

The bundle is JSON Lines. The first line states the scope and each log's head; then every
event of each log from the first one in scope up to the head, in position order, as a
header (log, position, stream, type, prev_hash, hash). Events in scope also carry their
full hashed body (`event`): the campaign (its policy), each meeting's schedule, opening and
closing, and the tally's results, grades and alerts for it. Everything else is a header
only, so the chain can be checked through it without showing it: above all the roster
(names of representatives) never sits beside the ballots, nor do the clerks' keyings,
token hashes or receipts, none of which the results depend on. A withheld staff act's
header still names the account that did it (`actor`). Signed checkpoints in the range go in
full, and the header states every key each log announced, so the verifier checks their
signatures.

The ballots themselves are not events of the bundle: that would show the order they were
cast in. Each closed meeting's ballot box comes last, as one `ballots` line: the marks of
each ballot, the ballots sorted by content (the multiset whose digest the close records,
so the verifier checks it against the chain). A meeting closed before the close recorded
that digest (`VotingClosed` v1 and v2) still has its ballot events in full, as then.

`verify_bundle.py`, the standalone verifier, is written beside the bundle.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qunping.core.envelope import RecordedEvent
from qunping.core.errors import NotFound
from qunping.core.tamper import CHECKPOINT, KEY_ANNOUNCED
from services.audit.replay import Scope
from services.audit.sources import Sources
from services.ballot.events import upcasters
from services.ballot.judgement import canonical_ballots

FORMAT = 2
"""2: ballot boxes as sorted `ballots` lines, the ballot events as headers (1: in full)."""
VERIFIER = Path(__file__).with_name("verify_bundle.py")
IN_SCOPE_CATEGORIES = ("meeting",)
"""A meeting's streams whose events go in full; `roster`, `tokens`, `paper` are withheld,
and `ballotbox` events too unless the meeting's close predates the ballots digest."""
WITHHELD = (
    "bodies of roster-* (representatives' names), tokens-* and paper-* events; "
    "ballotbox-* events, whose marks are in each meeting's ballots line, sorted"
)


def meetings_in(sources: Sources, scope: Scope) -> dict[str, str]:
    """The meetings (id -> campaign id) the scope covers."""
    found = {
        event.data["meeting_id"]: event.data["campaign_id"]
        for event in sources.log("ballot").read_all()
        if event.type == "MeetingScheduled" and scope.covers(event.data, event.data["meeting_id"])
    }
    if not found:
        raise NotFound(f"no meeting in {scope}")
    return found


def bundle_lines(sources: Sources, scope: Scope) -> Iterator[dict[str, Any]]:
    meetings = meetings_in(sources, scope)
    streams = {f"campaign-{campaign}" for campaign in meetings.values()} | {
        f"{category}-{meeting}" for meeting in meetings for category in IN_SCOPE_CATEGORIES
    }
    boxes, legacy = _ballot_boxes(sources, meetings)
    streams |= {f"ballotbox-{meeting}" for meeting in legacy}
    selections: dict[str, Callable[[RecordedEvent], bool]] = {
        "ballot": lambda event: event.stream in streams,
        "tally": lambda event: scope.covers(event.data),
    }
    logs: dict[str, Any] = {}
    keys: dict[str, Any] = {}
    lines: list[dict[str, Any]] = []
    for name, selected in selections.items():
        events = list(sources.log(name).read_all())
        chosen = [e.position for e in events if selected(e)]
        if not events:
            continue
        first = min(chosen, default=events[-1].position)
        logs[name] = {"head": {"position": events[-1].position, "hash": events[-1].hash}}
        keys[name] = [e.data for e in events if e.type == KEY_ANNOUNCED]
        lines += (
            _line(e, full=selected(e) or e.type == CHECKPOINT)
            for e in events[first - events[0].position :]
        )
    yield {
        "kind": "bundle",
        "format": FORMAT,
        "scope": _scope(scope),
        "logs": logs,
        "keys": keys,
        "withheld": WITHHELD,
    }
    yield from lines
    for meeting_id, marks in sorted(boxes.items()):
        yield {"kind": "ballots", "meeting_id": meeting_id, "ballots": canonical_ballots(marks)}


def _ballot_boxes(
    sources: Sources, meetings: dict[str, str]
) -> tuple[dict[str, list[Any]], set[str]]:
    """The ballots (marks only) of each meeting whose close records their digest, and the
    meetings closed before v3, whose ballot events go in full instead. An open meeting's
    ballots are in neither: they are sealed until the close."""
    marks: dict[str, list[Any]] = {}
    closed: set[str] = set()
    legacy: set[str] = set()
    for event in sources.log("ballot").read_all():
        meeting_id = event.data.get("meeting_id")
        if meeting_id not in meetings:
            continue
        if event.type == "BallotCast":
            marks.setdefault(meeting_id, []).append(upcasters.upcast(event).data["marks"])
        elif event.type == "VotingClosed":
            digest = upcasters.upcast(event).data["ballots_digest"]
            (closed if digest is not None else legacy).add(meeting_id)
    return {meeting_id: marks.get(meeting_id, []) for meeting_id in closed}, legacy


def bundle_jsonl(sources: Sources, scope: Scope) -> Iterator[str]:
    for line in bundle_lines(sources, scope):
        yield json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"


def _scope(scope: Scope) -> dict[str, str]:
    return {
        key: value
        for key, value in (("meeting", scope.meeting), ("campaign", scope.campaign))
        if value
    }


def _line(event: RecordedEvent, *, full: bool) -> dict[str, Any]:
    line: dict[str, Any] = {
        "kind": "event",
        "log": event.log,
        "position": event.position,
        "stream": event.stream,
        "type": event.type,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }
    if full:
        line["event"] = event.hashed_fields()
    elif event.data.get("actor"):
        # Who checked people in, issued ballots or keyed paper is shown; what they did
        # (the names, the hashes, the marks) is not.
        line["actor"] = event.data["actor"]
    return line


def export(sources: Sources, scope: Scope, directory: Path) -> tuple[Path, Path]:
    """Write `bundle.jsonl` and `verify_bundle.py` into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    bundle = directory / "bundle.jsonl"
    with bundle.open("w", encoding="utf-8") as file:
        file.writelines(bundle_jsonl(sources, scope))
    verifier = directory / VERIFIER.name
    shutil.copyfile(VERIFIER, verifier)
    return bundle, verifier
