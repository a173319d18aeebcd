"""The 双评 of a pledge as a ballot meeting: the campaign's policy, as data, and the subjects.

Ballot's default policy rates a committee and a secretary; a pledge evaluation rates the
community and the unit instead, each on the satisfaction scale by three dimensions, so its
campaign replaces the `kinds` and the `quorum` sections (ballot merges the rest from its
defaults and validates the whole).
"""

from __future__ import annotations

from typing import Any

DIMENSIONS = ["承诺内容", "履诺情况", "群众满意度"]


def policy(min_present: int) -> dict[str, Any]:
    def kind(label: str) -> dict[str, Any]:
        return {
            "label": label,
            "scale": "satisfaction",
            "headline": "satisfaction",
            "dimensions": DIMENSIONS,
            "named": True,
            "min": 1,
            "max": 1,
        }

    return {
        "kinds": {"pledge_community": kind("社区"), "pledge_unit": kind("驻区单位")},
        "quorum": {"min_present": min_present, "min_resident_percent": None},
    }


def campaign(district: str, year: int, min_present: int) -> dict[str, Any]:
    """What ballot's `create_campaign` is asked for a district's pledge evaluations of a year."""
    return {"district": district, "year": year, "batch": BATCH, "policy": policy(min_present)}


def subjects(community: str, unit: str) -> list[dict[str, str]]:
    return [{"kind": "pledge_community", "name": community}, {"kind": "pledge_unit", "name": unit}]


BATCH = "双诺双述双评"
"""The batch name of every pledge-evaluation campaign."""
