"""Districts as tenants, for accounts: the platform's admin creates districts and their first
admin; a district's admin manages its own district's accounts and sessions and reaches
nothing of another's, even where both have a 光明社区."""

from __future__ import annotations

from typing import Any

import requests

from services.gateway.auth import PLATFORM_ADMIN
from tests.integration.gateway.gateway_stack import PASSWORD, Stack

QINGYUAN, YONGFENG = "青原区", "永丰县"


def api(stack: Stack, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, stack.url + path, timeout=30,
                            headers={"Authorization": f"Bearer {token}"}, **kwargs)  # fmt: skip


def district(stack: Stack, platform: str, name: str, admin: str) -> str:
    """A district created by the platform's admin, and its first admin's token."""
    body = {"district": name, "admin_username": admin, "admin_password": PASSWORD}
    created = api(stack, "POST", "/api/districts", platform, json=body)
    assert created.status_code == 200, created.text
    return stack.login(admin)


def organiser(stack: Stack, admin: str, username: str) -> str:
    body = {"username": username, "password": PASSWORD, "role": "organiser",
            "community": "光明社区"}  # fmt: skip
    assert api(stack, "POST", "/api/accounts", admin, json=body).status_code == 200
    return stack.login(username)


def test_the_platform_creates_districts_and_their_admins_and_reads_every_account(
    stack: Stack,
) -> None:
    platform = stack.account("platform", PLATFORM_ADMIN)
    qingyuan = district(stack, platform, QINGYUAN, "qy-admin")
    district(stack, platform, YONGFENG, "yf-admin")
    organiser(stack, qingyuan, "qy-guangming")

    second_admin = {"district": QINGYUAN, "admin_username": "qy-two", "admin_password": PASSWORD}
    again = api(stack, "POST", "/api/districts", platform, json=second_admin)
    incomplete = api(stack, "POST", "/api/districts", platform, json={"district": "新干县"})
    taken = {"district": "新干县", "admin_username": "qy-admin", "admin_password": PASSWORD}
    taken_admin = api(stack, "POST", "/api/districts", platform, json=taken)
    listed = api(stack, "GET", "/api/districts", platform).json()["districts"]
    accounts = api(stack, "GET", "/api/accounts", platform).json()["accounts"]

    assert again.status_code == 409 and incomplete.status_code == 400
    assert taken_admin.status_code == 409
    assert listed == sorted([QINGYUAN, YONGFENG])
    assert {(a["username"], a["district"]) for a in accounts} == {
        ("platform", None),
        ("qy-admin", QINGYUAN),
        ("qy-guangming", QINGYUAN),
        ("yf-admin", YONGFENG),
    }
    me = api(stack, "GET", "/api/me", qingyuan).json()
    assert (me["role"], me["district"]) == ("district_admin", QINGYUAN)


def test_a_district_admin_reaches_no_account_or_session_of_another_district(
    stack: Stack,
) -> None:
    platform = stack.account("platform", PLATFORM_ADMIN)
    qingyuan = district(stack, platform, QINGYUAN, "qy-admin")
    yongfeng = district(stack, platform, YONGFENG, "yf-admin")
    ours = organiser(stack, qingyuan, "qy-guangming")
    theirs = organiser(stack, yongfeng, "yf-guangming")
    their_sessions = api(stack, "GET", "/api/sessions", yongfeng).json()["sessions"]
    their_session = next(s for s in their_sessions if s["username"] == "yf-guangming")
    changes = stack.gateway_db["account_changes"].count_documents({})

    refused = [
        api(stack, "POST", "/api/accounts/yf-guangming/disable", qingyuan),
        api(stack, "POST", "/api/accounts/yf-guangming/enable", qingyuan),
        api(stack, "POST", "/api/accounts/yf-guangming/unlock", qingyuan),
        api(stack, "POST", "/api/accounts/yf-guangming/password", qingyuan,
            json={"password": "taken over, long"}),
        api(stack, "POST", f"/api/sessions/{their_session['session_id']}/revoke", qingyuan),
    ]  # fmt: skip

    assert [answer.status_code for answer in refused] == [404] * len(refused)
    assert stack.gateway_db["account_changes"].count_documents({}) == changes
    assert api(stack, "GET", "/api/me", theirs).status_code == 200
    assert stack.accounts.login("yf-guangming", PASSWORD) is not None
    seen = api(stack, "GET", "/api/accounts", qingyuan).json()["accounts"]
    assert sorted(a["username"] for a in seen) == ["qy-admin", "qy-guangming"]
    sessions = api(stack, "GET", "/api/sessions", qingyuan).json()["sessions"]
    assert {s["username"] for s in sessions} == {"qy-admin", "qy-guangming"}
    recorded = api(stack, "GET", "/api/account-changes", qingyuan).json()["changes"]
    assert {c["district"] for c in recorded} == {QINGYUAN}
    # Within its own district the same act is done.
    assert api(stack, "POST", "/api/accounts/qy-guangming/disable", qingyuan).status_code == 200
    assert api(stack, "GET", "/api/me", ours).status_code == 401
