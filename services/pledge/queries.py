"""The pledge service's read side: what its queries answer from the book of its log.

A query is answered from the book as of the log's head now: each one refreshes it first.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from services.pledge import export
from services.pledge.book import PledgeBook


def matches(record: Mapping[str, Any], query: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    return all(query[key] is None or record[key] == query[key] for key in keys)


def units(book: PledgeBook, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    book.refresh()
    found = [
        unit.summary()
        for unit in book.units.values()
        if matches(unit.summary(), query, ("district", "community"))
    ]
    return sorted(found, key=lambda u: (u["community"], u["name"]))


def pledges(book: PledgeBook, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    book.refresh()
    found = [
        pledge.summary()
        for pledge in book.pledges.values()
        if matches(pledge.summary(), query, ("district", "year", "community", "unit_id", "status"))
    ]
    return sorted(found, key=lambda p: (p["year"], p["community"], p["unit"]))


def overdue_items(book: PledgeBook, query: Mapping[str, Any]) -> list[dict[str, Any]]:
    book.refresh()
    items = []
    for pledge in book.pledges.values():
        if not matches(pledge.summary(), query, ("district", "community")):
            continue
        letter = pledge.letter or pledge.latest
        items += [
            {**pledge.summary(), "item": item}
            for item in letter["items"]
            if item["item_id"] in pledge.overdue and item["item_id"] not in pledge.reports
        ]
    return items


def year_end_export(book: PledgeBook, district: str, year: int, extension: str) -> dict[str, Any]:
    """Every pledge of a district's year as one file, its content in base64."""
    book.refresh()
    details = [
        pledge.detail()
        for pledge in book.pledges.values()
        if pledge.district == district and pledge.year == year
    ]
    table = export.rows(details, {u.unit_id: u.kind for u in book.units.values()})
    content = (
        export.to_csv(table) if extension == "csv" else export.to_xlsx(table, f"{year}年终考核")
    )
    return {
        "file_name": export.file_name(district, year, extension),
        "content_base64": base64.b64encode(content).decode("ascii"),
        "rows": len(table),
    }
