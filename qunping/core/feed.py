"""The catch-up feed: a log's public events after a position, a page at a time.

An outside system backfills from here before it goes live on `qunping.public` (or after
an outage), then deduplicates by event id: the feed and the exchange carry the same
CloudEvents. Internal events are skipped, never shown; `next_after` still moves past
them, so a page of only internal events is empty and the caller simply asks again.
"""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from qunping.core.envelope import to_cloudevent
from qunping.core.eventlog import EventLog
from qunping.core.schemas import PayloadSchemas, StrictSchema, load

MAX_PAGE = 500
SCAN_LIMIT = 5000
"""Events read per page at most, public or not, so one call stays short."""


class FeedRequest(StrictSchema):
    after = fields.Integer(required=True, strict=True, validate=validate.Range(min=0))
    limit = fields.Integer(
        load_default=100, strict=True, validate=validate.Range(min=1, max=MAX_PAGE)
    )


def public_feed(log: EventLog, public: PayloadSchemas, request: Any) -> dict[str, Any]:
    """`{"events": [CloudEvent, ...], "next_after": position, "head": position}`.

    `request` is `{"after": position, "limit": n}`; bad input raises `InvalidInput`.
    `next_after` is what to pass as `after` next; the feed is at its end once it is at or
    past `head`.
    """
    wanted = load(FeedRequest(), request)
    limit = wanted["limit"]
    after = scanned_to = wanted["after"]
    events: list[dict[str, Any]] = []
    while len(events) < limit and scanned_to - after < SCAN_LIMIT:
        batch = log.read_batch(scanned_to, min(SCAN_LIMIT, 1000))
        if not batch:
            break
        for event in batch:
            if public.is_public(event.type):
                events.append(to_cloudevent(event))
            scanned_to = event.position
            if len(events) == limit:
                break
    return {"events": events, "next_after": scanned_to, "head": log.head().position}
