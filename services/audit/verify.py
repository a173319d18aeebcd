"""`audit verify`: every log's hash chain and positions, against every anchor outside it.

The chain check itself is the core's `verify_chain`; what the audit adds is the anchors
it gathers for each log from outside that log: the relay's published checkpoint (what
subscribers received), and for the ballot log the (position, hash) every published result
was computed at, kept in the tally's log.
"""

from __future__ import annotations

from qunping.core.eventlog import LogHead
from qunping.core.verify import VerifyReport, verify_chain
from services.audit.sources import Sources

VOUCHED_BY = {"ballot": "tally"}
"""Logs whose positions another log's events vouch for (`source_position`, `source_hash`)."""


def anchors_of(sources: Sources, name: str) -> list[LogHead]:
    anchors = []
    checkpoint = sources.relay_checkpoint(name)
    if checkpoint is not None and checkpoint.position > 0:
        anchors.append(checkpoint)
    witness = VOUCHED_BY.get(name)
    if witness is not None:
        for event in sources.log(witness).read_all():
            if "source_hash" in event.data:
                anchors.append(LogHead(event.data["source_position"], event.data["source_hash"]))
    return anchors


def verify_all(sources: Sources) -> list[VerifyReport]:
    """One report per log, each naming the first broken link if there is one."""
    return [
        verify_chain(sources.log(name).read_all(), log=name, anchors=anchors_of(sources, name))
        for name in sources.logs
    ]
