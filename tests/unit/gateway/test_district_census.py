"""Every API route says how it keeps to the caller's district: a route added without a way
is caught here, before it can reach another district's data."""

from __future__ import annotations

from services.gateway.api import DISTRICT_FIELD, DISTRICT_LISTS, DISTRICT_LOOKUPS
from services.gateway.routes import PLATFORM, ROUTES, Route

DEPLOYMENT_WIDE = frozenset({"audit.verify", "audit.keys"})
"""Each log's chain and keys are every district's: positions, hashes, signatures."""


def how_it_keeps_to_the_district(route: Route) -> str | None:
    fields = set(route.schema().fields)
    if route.roles == PLATFORM:
        return "the platform's own: creates districts, reads across them"
    if route.service == "gateway":
        return "the account store finds accounts and sessions of the caller's district only"
    if route.is_public:
        return "public: anyone may read or do it, whoever they are"
    if fields & set(DISTRICT_LOOKUPS) or any(f"<{f}>" in route.path for f in DISTRICT_LOOKUPS):
        return "names a campaign, meeting, unit or letter: another district's is 404"
    if DISTRICT_FIELD in fields:
        return "a district field, filled with the caller's: another named is 403"
    if route.rpc in DISTRICT_LISTS:
        return "a list of every district's, of which the gateway keeps the caller's"
    if route.rpc == "public_feed" or route.name in DEPLOYMENT_WIDE:
        return "deployment-wide on purpose: public events, or every log's chain"
    return None


def test_every_route_keeps_to_the_callers_district_in_a_way_the_district_tests_exercise() -> None:
    unaccounted = [route.name for route in ROUTES if how_it_keeps_to_the_district(route) is None]

    assert unaccounted == []


def test_every_notify_route_but_its_feed_carries_the_district() -> None:
    notify = [r for r in ROUTES if r.service == "notify" and not r.is_public]

    assert all(DISTRICT_FIELD in r.schema().fields for r in notify if r.rpc != "public_feed"), [
        r.name for r in notify if DISTRICT_FIELD not in r.schema().fields
    ]
