"""`audit export`: a self-contained bundle for one meeting or campaign, and its verifier.

The bundle is JSON Lines. The first line states the scope and each log's head; then every
event of each log from the first one in scope up to the head, in position order, as a
header (log, position, stream, type, prev_hash, hash). Events in scope also carry their
full hashed body (`event`): the campaign (its policy), each meeting's schedule, opening and
closing, its ballot box, and the tally's results, grades and alerts for it. Everything else
is a header only, so the chain can be checked through it without showing it: above all
the roster (names of representatives) never sits beside the ballots, nor do the clerks'
keyings or token hashes, none of which the results depend on. A withheld staff act's
header still names the account that did it (`actor`). Signed checkpoints in the range go in
full, and the header states every key each log announced, so the verifier checks their
signatures.

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

FORMAT = 1
VERIFIER = Path(__file__).with_name("verify_bundle.py")
IN_SCOPE_CATEGORIES = ("meeting", "ballotbox")
"""A meeting's streams whose events go in full; `roster`, `tokens`, `paper` are withheld."""
WITHHELD = "bodies of roster-* (representatives' names), tokens-* and paper-* events"


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
