"""Every API route says how it keeps to the caller's district: a route added without a way
is caught here, before it can reach another district's data."""

from __future__ import annotations

from collections.abc import Callable

from services.gateway.api import DISTRICT_FIELD, DISTRICT_LISTS, DISTRICT_LOOKUPS
from services.gateway.routes import PLATFORM, ROUTES, Route

DEPLOYMENT_WIDE = frozenset({"audit.verify", "audit.keys"})
"""Each log's chain and keys are every district's: positions, hashes, signatures."""


def names_a_thing(route: Route) -> bool:
    fields = set(route.schema().fields)
    return bool(fields & set(DISTRICT_LOOKUPS)) or any(
        f"<{field}>" in route.path for field in DISTRICT_LOOKUPS
    )


WAYS: tuple[tuple[str, Callable[[Route], bool]], ...] = (
    ("the platform's own: creates districts, reads across them", lambda r: r.roles == PLATFORM),
    ("the account store finds the caller's district's accounts and sessions only",
     lambda r: r.service == "gateway"),
    ("public: anyone may read or do it, whoever they are", lambda r: r.is_public),
    ("names a campaign, meeting, unit or letter: another district's is 404", names_a_thing),
    ("a district field, filled with the caller's: another named is 403",
     lambda r: DISTRICT_FIELD in r.schema().fields),
    ("a list of every district's, of which the gateway keeps the caller's",
     lambda r: r.rpc in DISTRICT_LISTS),
    ("deployment-wide on purpose: public events, or every log's chain",
     lambda r: r.rpc == "public_feed" or r.name in DEPLOYMENT_WIDE),
)  # fmt: skip


def how_it_keeps_to_the_district(route: Route) -> str | None:
    return next((way for way, applies in WAYS if applies(route)), None)


def test_every_route_keeps_to_the_callers_district_in_a_way_the_district_tests_exercise() -> None:
    unaccounted = [route.name for route in ROUTES if how_it_keeps_to_the_district(route) is None]

    assert unaccounted == []


def test_every_notify_route_but_its_feed_carries_the_district() -> None:
    notify = [r for r in ROUTES if r.service == "notify" and not r.is_public]

    assert all(DISTRICT_FIELD in r.schema().fields for r in notify if r.rpc != "public_feed"), [
        r.name for r in notify if DISTRICT_FIELD not in r.schema().fields
    ]
