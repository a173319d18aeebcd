"""The tally's read side: what its queries answer from the read models the projection keeps."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from qunping.core.errors import NotFound
from qunping.core.eventlog import EventLog
from services.tally.events import upcasters


def without_id(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "_id"}


def board(database: Database[dict[str, Any]], meeting_id: str) -> dict[str, Any]:
    found = database["boards"].find_one({"_id": meeting_id})
    if found is None:
        raise NotFound(f"meeting {meeting_id}")
    return {"meeting_id": meeting_id, **without_id(found)}


def results(database: Database[dict[str, Any]], log: EventLog, meeting_id: str) -> dict[str, Any]:
    """A meeting's results. The projection appends `ResultsPublished` before it commits the
    read model, so whoever hears of the results at once may ask before the commit: they are
    answered from the log, as published."""
    found = database["results"].find_one({"_id": meeting_id})
    if found is not None:
        return without_id(found)
    published = [
        event
        for event in log.read_stream(f"results-{meeting_id}")
        if event.type == "ResultsPublished"
    ]
    if not published:
        raise NotFound(f"results of meeting {meeting_id}")
    return {**upcasters.upcast(published[-1]).data, "void": False}


def grades(database: Database[dict[str, Any]], campaign_id: str) -> dict[str, Any]:
    found = database["grades"].find({"campaign_id": campaign_id}, sort=[("community", 1)])
    return {"campaign_id": campaign_id, "grades": [without_id(grade) for grade in found]}


def summary(database: Database[dict[str, Any]], campaign_id: str) -> dict[str, Any]:
    found = database["summaries"].find_one({"_id": campaign_id})
    if found is None:
        raise NotFound(f"summary of campaign {campaign_id}")
    # `totals` is the running sum the figures are folded from, not a figure to show.
    return {key: value for key, value in without_id(found).items() if key != "totals"}
