"""Pages call the services only through the API's route table: every RPC a page makes is
named by a route, so the route's roles, district and community rules judge it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from services.gateway import pages
from services.gateway.api import routes_by_name
from services.gateway.routes import ROUTES

PAGES_SOURCE = ast.parse(Path(pages.__file__).read_text(encoding="utf-8"))
ROUTE_NAMES = {route.name for route in ROUTES}


def rpcs_named_by_pages() -> list[str]:
    """`service.rpc` of every `page.fetch(...)` and `page.check(...)` in pages.py."""
    named = []
    for node in ast.walk(PAGES_SOURCE):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"fetch", "check"}
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "page"
        ):
            service, rpc = node.args[0], node.args[1]
            assert isinstance(service, ast.Constant) and isinstance(rpc, ast.Constant), (
                f"line {node.lineno}: a page names its route's service and rpc literally"
            )
            named.append(f"{service.value}.{rpc.value}")
    return named


def functions_using_the_rpc_call() -> set[str]:
    """The functions of pages.py that touch the RPC call a page is given."""
    users = set()
    for function in ast.walk(PAGES_SOURCE):
        if isinstance(function, ast.FunctionDef) and any(
            isinstance(node, ast.Attribute) and node.attr == "_call" for node in ast.walk(function)
        ):
            users.add(function.name)
    return users


def test_every_rpc_a_page_fetches_or_checks_is_named_by_a_route() -> None:
    named = rpcs_named_by_pages()

    assert len(named) >= 20
    assert [name for name in named if name not in ROUTE_NAMES] == []


def test_no_page_calls_an_rpc_except_through_fetch_or_check() -> None:
    assert functions_using_the_rpc_call() == {"__init__", "fetch", "check"}
    calls_of_call = [
        node.lineno
        for node in ast.walk(PAGES_SOURCE)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "call"
    ]
    assert calls_of_call == []


def test_two_routes_calling_the_same_rpc_are_refused_since_a_page_could_not_name_one() -> None:
    with pytest.raises(ValueError, match=r"two routes call ballot\.meeting_detail"):
        routes_by_name([*ROUTES, next(r for r in ROUTES if r.name == "ballot.meeting_detail")])


def test_every_route_is_found_by_its_name() -> None:
    assert routes_by_name(ROUTES) == {route.name: route for route in ROUTES}
