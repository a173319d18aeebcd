"""The JSON API over the real services: every role rule and every error status."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from services.gateway.auth import (
    ASSESSOR,
    DISTRICT_ADMIN,
    ORGANISER,
    PLATFORM_ADMIN,
    ROLES,
    SCRUTINEER,
    token_digest,
)
from services.gateway.ratelimit import RateLimiter
from services.gateway.routes import COMMUNITY, MEETING, ROUTES, Route
from tests.integration.gateway.gateway_stack import PASSWORD, Stack

SUBJECTS = [{"kind": "committee"}, {"kind": "secretary", "name": "王书记"}]
ANY_ID = "0123456789abcdef"
RATE_WINDOW_SECONDS = RateLimiter(1).window_seconds


def call(
    stack: Stack,
    method: str,
    path: str,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    headers = {**(headers or {}), **({"Authorization": f"Bearer {token}"} if token else {})}
    return requests.request(method, stack.url + path, headers=headers, timeout=30, **kwargs)


def concrete(route: Route) -> str:
    return re.sub(r"<[^>]+>", ANY_ID, route.path)


def meeting(stack: Stack, admin: str, community: str = "光明社区") -> str:
    campaign = call(
        stack, "POST", "/api/campaigns", admin,
        json={"district": "吉州区", "year": 2011, "batch": "第一批试点"},
    ).json()  # fmt: skip
    answer = call(
        stack, "POST", "/api/meetings", admin,
        json={
            "campaign_id": campaign["campaign_id"], "community": community, "street": "古南街道",
            "starts_at": "2011-10-12T09:00:00+08:00", "place": "会议室",
            "expected_participants": 60, "subjects": SUBJECTS,
        },
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return str(answer.json()["meeting_id"])


def open_meeting(
    stack: Stack,
    admin: str,
    tokens: int,
    scrutineer: str | None = None,
    meeting_id: str | None = None,
    present: int = 50,
) -> tuple[str, list[str], str]:
    """A meeting (new, or `meeting_id`) with `present` representatives checked in, `tokens`
    tokens issued and voting opened by a scrutineer (a new account unless given): the
    meeting id, the tokens in clear and the scrutineer's bearer token."""
    meeting_id = meeting_id or meeting(stack, admin)
    for n in range(present):
        checked = call(stack, "POST", f"/api/meetings/{meeting_id}/check-ins", admin,
                       json={"name": f"居民{n}", "category": "resident"})  # fmt: skip
        assert checked.status_code == 200, checked.text
    issued = call(stack, "POST", f"/api/meetings/{meeting_id}/tokens", admin,
                  json={"count": tokens})  # fmt: skip
    assert issued.status_code == 200, issued.text
    scrutineer = scrutineer or stack.account(f"scrutineer-{secrets.token_hex(4)}", SCRUTINEER)
    opened = call(stack, "POST", f"/api/meetings/{meeting_id}/open", scrutineer)
    assert opened.status_code == 200, opened.text
    return meeting_id, issued.json()["tokens"], scrutineer


def test_every_endpoint_refuses_each_role_it_does_not_name_and_anyone_not_logged_in(
    stack: Stack,
) -> None:
    roles = {*ROLES, PLATFORM_ADMIN}
    tokens = {role: stack.account(f"user-{role}", role, "光明社区" if role == ORGANISER else None)
              for role in ROLES}  # fmt: skip
    # A sixth login over HTTP would meet the fixture's login limit of 5: straight in the database.
    stack.accounts.create("user-platform", PASSWORD, PLATFORM_ADMIN, None,
                          district=None)  # fmt: skip
    platform = stack.accounts.login("user-platform", PASSWORD)
    assert platform is not None
    tokens[PLATFORM_ADMIN] = platform.token
    checked = 0
    for route in ROUTES:
        if route.is_public:
            continue
        assert call(stack, route.method, concrete(route)).status_code == 401, route.name
        for role in roles - route.roles:
            answer = call(stack, route.method, concrete(route), tokens[role], json={})
            assert answer.status_code == 403, (route.name, role, answer.text)
            checked += 1
    assert checked > 40


def test_an_organiser_acts_only_for_their_own_community(stack: Stack) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    theirs = meeting(stack, admin, "光明社区")
    other = meeting(stack, admin, "太平桥社区")
    organiser = stack.account("organiser", ORGANISER, "光明社区")
    scoped = [route for route in ROUTES if ORGANISER in route.roles and route.scope == MEETING]
    assert scoped
    for route in scoped:
        path = route.path.replace("<meeting_id>", other)
        answer = call(stack, route.method, path, organiser, json={})
        # Bad input is refused before scope; a well-formed request for another community is 403.
        assert answer.status_code in (400, 403), route.name
    before = stack.ballot_events()
    refused = call(stack, "POST", f"/api/meetings/{other}/check-ins", organiser,
                   json={"name": "居民", "category": "resident"})  # fmt: skip
    assert refused.status_code == 403
    assert stack.ballot_events() == before
    allowed = call(stack, "POST", f"/api/meetings/{theirs}/check-ins", organiser,
                   json={"name": "居民", "category": "resident"})  # fmt: skip
    assert allowed.status_code == 200
    for route in ROUTES:
        if ORGANISER in route.roles and route.scope == COMMUNITY:
            answer = call(stack, route.method, concrete(route), organiser,
                          json={"community": "太平桥社区"})  # fmt: skip
            assert answer.status_code in (400, 403), route.name


def test_bad_input_is_400_with_each_fields_message_and_writes_nothing(stack: Stack) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    meeting_id = meeting(stack, admin)
    before = stack.ballot_events()
    answer = call(stack, "POST", f"/api/meetings/{meeting_id}/check-ins", admin,
                  json={"name": "", "category": "mayor", "sneaky": {"$gt": ""}})  # fmt: skip
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert set(errors) == {"name", "category", "sneaky"}
    not_json = call(stack, "POST", "/api/campaigns", admin, data=b"{nope",
                    headers={"Content-Type": "application/json"})  # fmt: skip
    assert not_json.status_code == 400
    wrong_type = call(stack, "GET", "/api/ballot/log?limit=many", admin)
    assert wrong_type.status_code == 400
    assert "limit" in wrong_type.json()["errors"]
    assert stack.ballot_events() == before


def test_unknown_things_are_404_and_a_wrong_phase_is_409(stack: Stack) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    assert call(stack, "GET", f"/api/meetings/{ANY_ID}").status_code == 404
    assert call(stack, "GET", "/api/no-such-thing").status_code == 404
    meeting_id = meeting(stack, admin)
    ballot = {"token": "a" * 32, "marks": []}
    cast = call(stack, "POST", f"/api/meetings/{meeting_id}/ballots", json=ballot)
    assert cast.status_code == 409
    assert cast.json()["details"]["phase"] == "scheduled"
    below_quorum = call(stack, "POST", f"/api/meetings/{meeting_id}/open", admin)
    assert below_quorum.status_code == 409
    assert call(stack, "GET", f"/api/meetings/{meeting_id}/results").status_code == 404


def test_a_body_over_the_limit_is_413_before_it_is_read(stack: Stack) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    huge = b'{"district": "' + b"x" * 300_000 + b'"}'
    answer = call(stack, "POST", "/api/campaigns", admin, data=huge)
    assert answer.status_code == 413
    anonymous = call(stack, "POST", f"/api/meetings/{ANY_ID}/ballots", data=huge)
    assert anonymous.status_code == 413


def wait_for_a_fresh_rate_limit_window(spare_seconds: float = 15) -> None:
    """The limiter counts in fixed minutes of this process's monotonic clock (the gateway
    runs in the test process); a new minute mid-test would reset the count it checks."""
    left = RATE_WINDOW_SECONDS - time.monotonic() % RATE_WINDOW_SECONDS
    if left < spare_seconds:
        time.sleep(left)


def test_logins_are_rate_limited_and_a_wrong_password_is_401(stack: Stack) -> None:
    wait_for_a_fresh_rate_limit_window()
    stack.account("admin", DISTRICT_ADMIN)  # logs in once: 4 of the 5 a minute are left
    statuses = [
        call(
            stack, "POST", "/api/login", json={"username": "admin", "password": "wrong"}
        ).status_code
        for _ in range(6)
    ]
    assert statuses == [401] * 4 + [429] * 2


def expire_every_session(stack: Stack, token: str) -> str:
    stack.gateway_db["sessions"].update_many(
        {}, [{"$set": {"expires_at": {"$toDate": "2000-01-01T00:00:00Z"}}}]
    )
    return token


def forge_a_token(stack: Stack, token: str) -> str:
    return secrets.token_urlsafe(32)


def use_the_stored_digest(stack: Stack, token: str) -> str:
    """What a copy of the gateway's database holds: it must log nobody in."""
    return token_digest(token)


def log_out(stack: Stack, token: str) -> str:
    assert call(stack, "POST", "/api/logout", token).status_code == 200
    return token


@pytest.mark.parametrize(
    "spoil", [expire_every_session, forge_a_token, use_the_stored_digest, log_out]
)
def test_an_expired_forged_or_logged_out_login_is_401_and_writes_nothing(
    stack: Stack, spoil: Callable[[Stack, str], str]
) -> None:
    token = stack.account("admin", DISTRICT_ADMIN)
    assert call(stack, "GET", "/api/me", token).json()["role"] == DISTRICT_ADMIN
    spoiled = spoil(stack, token)
    before = stack.ballot_events()
    campaign = {"district": "吉州区", "year": 2011, "batch": "第一批试点"}
    assert call(stack, "GET", "/api/me", spoiled).status_code == 401
    assert call(stack, "POST", "/api/campaigns", spoiled, json=campaign).status_code == 401
    by_cookie = requests.post(f"{stack.url}/api/campaigns", json=campaign, timeout=10,
                              cookies={"qp_session": spoiled})  # fmt: skip
    assert by_cookie.status_code == 401
    assert stack.ballot_events() == before


def test_a_session_cookie_without_the_csrf_header_cannot_change_anything(stack: Stack) -> None:
    token = stack.account("admin", DISTRICT_ADMIN)
    cookies = {"qp_session": token}
    body = {"district": "吉州区", "year": 2011, "batch": "一"}
    refused = requests.post(f"{stack.url}/api/campaigns", json=body, cookies=cookies, timeout=10)
    assert refused.status_code == 403
    csrf = stack.accounts.principal(token)
    assert csrf is not None
    accepted = requests.post(f"{stack.url}/api/campaigns", json=body, cookies=cookies,
                             headers={"X-CSRF-Token": csrf.csrf}, timeout=10)  # fmt: skip
    assert accepted.status_code == 200


def test_a_voter_casts_with_a_token_and_finds_the_receipt_in_the_ballot_box(
    stack: Stack,
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    assessor = stack.account("assessor", ASSESSOR)
    meeting_id, tokens, _ = open_meeting(stack, admin, 2)
    marks = [{"subject": "committee-1", "dimension": "社区服务", "value": "满意"}]
    cast = call(stack, "POST", f"/api/meetings/{meeting_id}/ballots",
                json={"token": tokens[0], "marks": marks})  # fmt: skip
    assert cast.status_code == 200
    again = call(stack, "POST", f"/api/meetings/{meeting_id}/ballots",
                 json={"token": tokens[0], "marks": marks})  # fmt: skip
    assert again.status_code == 409
    code = cast.json()["receipt"]
    found = call(stack, "POST", f"/api/meetings/{meeting_id}/receipts", json={"code": code})
    assert found.json()["in_ballot_box"] is True
    in_the_path = call(stack, "GET", f"/api/meetings/{meeting_id}/receipts/{code}")
    assert in_the_path.status_code == 404, "a tracking code is never part of an address"
    sealed = call(stack, "GET", f"/api/meetings/{meeting_id}/ballots", admin)
    assert sealed.status_code == 409
    assert call(stack, "POST", f"/api/meetings/{meeting_id}/close", assessor).status_code == 403


@pytest.mark.parametrize("path", ["/openapi.json"])
def test_the_openapi_document_names_every_route_with_its_statuses(stack: Stack, path: str) -> None:
    document = requests.get(stack.url + path, timeout=10).json()
    assert document["openapi"].startswith("3.")
    for route in ROUTES:
        openapi_path = re.sub(r"<([a-z_]+)>", r"{\1}", route.path)
        operation = document["paths"][openapi_path][route.method.lower()]
        assert "400" in operation["responses"]
        if not route.is_public:
            assert {"401", "403"} <= set(operation["responses"])
    docs = requests.get(stack.url + "/docs", timeout=10)
    assert docs.status_code == 200
    assert "/api/meetings/{meeting_id}/ballots" in docs.text
