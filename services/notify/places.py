"""Where things belong, as notify learns it from the public events it takes (its own MongoDB).

Fed by `places_named_by` with idempotent upserts, so an event taken twice changes nothing;
read by `concerns` as its `lookup`.
"""

from __future__ import annotations

from typing import Any

from pymongo.database import Database


class Places:
    def __init__(self, database: Database[dict[str, Any]]) -> None:
        self.places = database["places"]

    def record(self, places: list[tuple[str, str, str]]) -> None:
        for kind, thing_id, belongs_to in places:
            self.places.update_one(
                {"_id": f"{kind}:{thing_id}"}, {"$set": {"of": belongs_to}}, upsert=True
            )

    def lookup(self, kind: str, thing_id: str) -> str | None:
        document = self.places.find_one({"_id": f"{kind}:{thing_id}"})
        return None if document is None else str(document["of"])
