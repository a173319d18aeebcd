"""An account's life over the real gateway: disabled and enabled, its password changed and
reset, its sessions listed and revoked, locked after failed logins (across replicas), and
every change recorded with the account that made it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from pymongo import MongoClient

from services.gateway.auth import COMMAND_LINE, DISTRICT_ADMIN, ORGANISER
from tests.integration.gateway.gateway_stack import (
    DISTRICT,
    PASSWORD,
    Stack,
    start_gateway,
    start_stack,
)

FAILURES = 3
NEW_PASSWORD = "a new password, long"


@pytest.fixture
def stack(
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
) -> Stack:
    return start_stack(
        container_factory,
        nameko_config,
        mongo_client,
        QUNPING_LOGIN_LIMIT_PER_MINUTE=1000,
        QUNPING_LOCKOUT_FAILURES=FAILURES,
    )


def api(
    url: str, method: str, path: str, token: str | None = None, **kwargs: Any
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, url + path, headers=headers, timeout=30, **kwargs)


def login(url: str, username: str, password: str = PASSWORD) -> requests.Response:
    return api(url, "POST", "/api/login", json={"username": username, "password": password})


def by_cookie(url: str, token: str) -> int:
    return requests.get(f"{url}/api/me", cookies={"qp_session": token}, timeout=30).status_code


def test_a_disabled_accounts_sessions_stop_at_once_and_it_logs_in_again_once_enabled(
    stack: Stack,
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    organiser = stack.account("organiser", ORGANISER, "光明社区")
    assert api(stack.url, "GET", "/api/me", organiser).status_code == 200

    disabled = api(stack.url, "POST", "/api/accounts/organiser/disable", admin)

    assert disabled.status_code == 200, disabled.text
    assert api(stack.url, "GET", "/api/me", organiser).status_code == 401
    assert by_cookie(stack.url, organiser) == 401
    assert login(stack.url, "organiser").status_code == 401
    listed = {
        a["username"]: a for a in api(stack.url, "GET", "/api/accounts", admin).json()["accounts"]
    }
    assert listed["organiser"]["disabled"] is True
    assert api(stack.url, "POST", "/api/accounts/admin/disable", admin).status_code == 409

    assert api(stack.url, "POST", "/api/accounts/organiser/enable", admin).status_code == 200
    assert login(stack.url, "organiser").status_code == 200
    assert api(stack.url, "POST", "/api/accounts/nobody/disable", admin).status_code == 404


def test_sessions_are_listed_and_a_revoked_one_is_refused_by_header_and_by_cookie(
    stack: Stack,
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    first = stack.account("organiser", ORGANISER, "光明社区")
    second, third = stack.login("organiser"), stack.login("organiser")
    other = stack.account("other", ORGANISER, "太平桥社区")

    mine = api(stack.url, "GET", "/api/sessions", first).json()["sessions"]
    assert [s["username"] for s in mine] == ["organiser"] * 3
    assert all("token" not in s and "_id" not in s for s in mine)
    assert api(stack.url, "GET", "/api/sessions?username=admin", first).status_code == 403
    ids = [s["session_id"] for s in mine]
    # Another account may not end them (as if there were none); the owner and the admin may.
    assert api(stack.url, "POST", f"/api/sessions/{ids[0]}/revoke", other).status_code == 404
    revoked_by_owner = api(stack.url, "POST", f"/api/sessions/{ids[0]}/revoke", first)
    revoked_by_admin = api(stack.url, "POST", f"/api/sessions/{ids[1]}/revoke", admin)

    assert revoked_by_owner.status_code == revoked_by_admin.status_code == 200
    live = [first, second, third]
    statuses = [
        (api(stack.url, "GET", "/api/me", t).status_code, by_cookie(stack.url, t)) for t in live
    ]
    assert sorted(statuses) == [(200, 200), (401, 401), (401, 401)]
    everyone = api(stack.url, "GET", "/api/sessions", admin).json()["sessions"]
    assert sorted(s["username"] for s in everyone) == ["admin", "organiser", "other"]


def test_an_account_changes_its_own_password_and_its_other_sessions_end(stack: Stack) -> None:
    token = stack.account("assessor", "assessor")
    elsewhere = stack.login("assessor")
    body = {"current_password": "not the password", "new_password": NEW_PASSWORD}

    wrong = api(stack.url, "POST", "/api/me/password", token, json=body)
    short = api(stack.url, "POST", "/api/me/password", token,
                json={"current_password": PASSWORD, "new_password": "short"})  # fmt: skip
    assert wrong.status_code == 409 and short.status_code == 400
    assert api(stack.url, "GET", "/api/me", elsewhere).status_code == 200

    body["current_password"] = PASSWORD
    assert api(stack.url, "POST", "/api/me/password", token, json=body).status_code == 200
    assert api(stack.url, "GET", "/api/me", token).status_code == 200
    assert api(stack.url, "GET", "/api/me", elsewhere).status_code == 401
    assert login(stack.url, "assessor").status_code == 401
    assert login(stack.url, "assessor", NEW_PASSWORD).status_code == 200


def test_the_lockout_holds_across_gateway_replicas_and_is_lifted_by_an_admin_or_by_time(
    stack: Stack,
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
) -> None:
    replica = start_gateway(
        container_factory, nameko_config,
        QUNPING_LOGIN_LIMIT_PER_MINUTE=1000, QUNPING_LOCKOUT_FAILURES=FAILURES,
    )  # fmt: skip
    admin = stack.account("admin", DISTRICT_ADMIN)
    stack.accounts.create("auditor", PASSWORD, "auditor", None, district=DISTRICT)
    # The failures alternate between the two replicas; the count is the database's.
    for n in range(FAILURES):
        url = (stack.url, replica)[n % 2]
        assert login(url, "auditor", "wrong password").status_code == 401

    assert login(stack.url, "auditor").status_code == 401
    assert login(replica, "auditor").status_code == 401
    listed = api(stack.url, "GET", "/api/accounts", admin).json()["accounts"]
    assert [a["locked"] for a in listed if a["username"] == "auditor"] == [True]

    assert api(replica, "POST", "/api/accounts/auditor/unlock", admin).status_code == 200
    assert login(stack.url, "auditor").status_code == 200

    for _ in range(FAILURES):
        login(replica, "auditor", "wrong password")
    assert login(stack.url, "auditor").status_code == 401
    # The lock's time passes (as if its minutes had gone by).
    stack.gateway_db["accounts"].update_one(
        {"_id": "auditor"}, {"$set": {"locked_until": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert login(replica, "auditor").status_code == 200


def test_an_admins_reset_ends_the_sessions_and_lifts_the_lock_and_every_change_is_recorded(
    stack: Stack,
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    organiser = stack.account("organiser", ORGANISER, "光明社区")
    for _ in range(FAILURES):
        login(stack.url, "organiser", "wrong password")
    assert login(stack.url, "organiser").status_code == 401
    account = {"username": "scrutineer", "password": PASSWORD, "role": "scrutineer"}
    created = api(stack.url, "POST", "/api/accounts", admin, json=account)
    assert created.status_code == 200

    reset = api(stack.url, "POST", "/api/accounts/organiser/password", admin,
                json={"password": NEW_PASSWORD})  # fmt: skip

    assert reset.status_code == 200, reset.text
    assert api(stack.url, "GET", "/api/me", organiser).status_code == 401
    assert login(stack.url, "organiser", NEW_PASSWORD).status_code == 200
    api(stack.url, "POST", "/api/accounts/scrutineer/disable", admin)
    changes = api(stack.url, "GET", "/api/account-changes", admin).json()["changes"]
    assert [(c["account"], c["change"], c["by"]) for c in changes] == [
        ("admin", "created", COMMAND_LINE),
        ("organiser", "created", COMMAND_LINE),
        ("organiser", "locked", "organiser"),
        ("scrutineer", "created", "admin"),
        ("organiser", "password reset", "admin"),
        ("scrutineer", "disabled", "admin"),
    ]
    only = api(stack.url, "GET", "/api/account-changes?username=scrutineer", admin).json()
    assert [c["change"] for c in only["changes"]] == ["created", "disabled"]
