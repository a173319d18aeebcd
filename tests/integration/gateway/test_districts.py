"""Districts as tenants: the platform's admin creates districts and their first admin; a
district's accounts manage their own district's accounts, sessions, campaigns, meetings,
resident units and letters, and reach none of another's, even where both have a 光明社区."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from pymongo import MongoClient

from services.gateway.auth import PLATFORM_ADMIN
from services.gateway.routes import ROUTES
from tests.integration.gateway.gateway_stack import PASSWORD, Stack, start_stack
from tests.integration.gateway.test_pledges import UNIT, letter

QINGYUAN, YONGFENG = "青原区", "永丰县"


@pytest.fixture
def stack(
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
) -> Stack:
    """The stack, with room for the logins of two districts' accounts in one minute."""
    return start_stack(
        container_factory, nameko_config, mongo_client, QUNPING_LOGIN_LIMIT_PER_MINUTE=100
    )


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


def two_districts(stack: Stack) -> tuple[str, str]:
    """青原区 and 永丰县, made by the platform's admin: their admins' tokens."""
    platform = stack.account("platform", PLATFORM_ADMIN)
    return (
        district(stack, platform, QINGYUAN, "qy-admin"),
        district(stack, platform, YONGFENG, "yf-admin"),
    )


def test_a_district_admin_reaches_no_account_or_session_of_another_district(
    stack: Stack,
) -> None:
    qingyuan, yongfeng = two_districts(stack)
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


SUBJECTS = [{"kind": "committee"}, {"kind": "secretary", "name": "王书记"}]


def district_data(stack: Stack, admin: str, name: str) -> dict[str, str]:
    """A campaign of the district, a meeting of its 光明社区, a resident unit and a letter."""
    campaign = api(stack, "POST", "/api/campaigns", admin,
                   json={"year": 2011, "batch": "第一批"}).json()["campaign_id"]  # fmt: skip
    meeting = api(stack, "POST", "/api/meetings", admin, json={
        "campaign_id": campaign, "community": "光明社区", "street": "古南街道",
        "starts_at": "2011-10-12T09:00:00+08:00", "place": "会议室",
        "expected_participants": 60, "subjects": SUBJECTS,
    })  # fmt: skip
    assert meeting.status_code == 200, meeting.text
    unit = api(stack, "POST", "/api/units", admin,
               json={**UNIT, "district": name, "name": f"{name}实验小学"})  # fmt: skip
    assert unit.status_code == 200, unit.text
    pledge = api(stack, "POST", "/api/pledges", admin, json=letter(unit.json()["unit_id"]))
    assert pledge.status_code == 200, pledge.text
    return {
        "campaign_id": campaign,
        "meeting_id": meeting.json()["meeting_id"],
        "unit_id": unit.json()["unit_id"],
        "pledge_id": pledge.json()["pledge_id"],
    }


def test_every_route_naming_another_districts_campaign_meeting_unit_or_letter_is_404(
    stack: Stack,
) -> None:
    qingyuan, yongfeng = two_districts(stack)
    admins = {QINGYUAN: qingyuan, YONGFENG: yongfeng}
    theirs = district_data(stack, admins[YONGFENG], YONGFENG)
    ours = district_data(stack, admins[QINGYUAN], QINGYUAN)
    tokens = {"district_admin": admins[QINGYUAN]}
    for role in ("organiser", "assessor", "auditor", "scrutineer"):
        body = {"username": f"qy-{role}", "password": PASSWORD, "role": role,
                "community": "光明社区" if role == "organiser" else None}  # fmt: skip
        assert api(stack, "POST", "/api/accounts", admins[QINGYUAN], json=body).status_code == 200
        tokens[role] = stack.login(f"qy-{role}")
    heads = stack.log_heads()

    checked = []
    for route in ROUTES:
        named = [field for field in theirs if f"<{field}>" in route.path]
        if route.is_public or not named:
            continue
        path = route.path
        for field in named:
            path = path.replace(f"<{field}>", theirs[field])
        for role in sorted(route.roles & set(tokens)):
            answer = api(stack, route.method, path, tokens[role], json={})
            assert answer.status_code == 404, (route.name, role, answer.text)
            checked.append(route.name)
    # The same requests for one's own district's things are not refused as another's.
    own = api(stack, "GET", f"/api/campaigns/{ours['campaign_id']}", tokens["assessor"])

    assert len(set(checked)) >= 20
    assert stack.log_heads() == heads
    assert own.status_code == 200


def test_a_district_creates_lists_and_schedules_only_its_own_even_with_the_same_community_name(
    stack: Stack,
) -> None:
    qingyuan, yongfeng = two_districts(stack)
    theirs = district_data(stack, yongfeng, YONGFENG)
    ours = district_data(stack, qingyuan, QINGYUAN)
    # Both districts have a 光明社区; the organiser of ours is not theirs.
    organiser(stack, qingyuan, "qy-guangming")
    guangming = stack.login("qy-guangming")
    heads = stack.log_heads()
    meeting = {
        "campaign_id": theirs["campaign_id"], "community": "光明社区", "street": "古南街道",
        "starts_at": "2011-10-20T09:00:00+08:00", "place": "会议室",
        "expected_participants": 60, "subjects": SUBJECTS,
    }  # fmt: skip

    into_theirs = api(stack, "POST", "/api/meetings", guangming, json=meeting)
    their_campaign = api(stack, "POST", "/api/campaigns", qingyuan,
                         json={"district": YONGFENG, "year": 2012, "batch": "第二批"})  # fmt: skip
    their_unit = api(stack, "POST", "/api/units", guangming, json={**UNIT, "district": YONGFENG})
    their_export = api(stack, "GET", f"/api/pledge-export?district={YONGFENG}&year=2011"
                       "&format=csv", qingyuan)  # fmt: skip

    assert into_theirs.status_code == 404
    assert their_campaign.status_code == their_unit.status_code == 403
    assert their_export.status_code == 403
    assert stack.log_heads() == heads
    campaigns = api(stack, "GET", "/api/campaigns", qingyuan).json()["campaigns"]
    assert [c["campaign_id"] for c in campaigns] == [ours["campaign_id"]]
    units = api(stack, "GET", "/api/units", qingyuan).json()["units"]
    assert [u["unit_id"] for u in units] == [ours["unit_id"]]
    pledges = api(stack, "GET", "/api/pledges", guangming,
                  params={"community": "光明社区"}).json()["pledges"]  # fmt: skip
    assert [p["pledge_id"] for p in pledges] == [ours["pledge_id"]]


def test_every_staff_page_naming_another_districts_things_is_refused(stack: Stack) -> None:
    qingyuan, yongfeng = two_districts(stack)
    theirs = district_data(stack, yongfeng, YONGFENG)
    ours = district_data(stack, qingyuan, QINGYUAN)
    campaign, meeting, pledge = theirs["campaign_id"], theirs["meeting_id"], theirs["pledge_id"]
    pages = [
        f"/desk/campaigns/{campaign}",
        f"/desk/meetings/{meeting}",
        f"/district?campaign_id={campaign}",
        f"/district/{campaign}/grades.csv",
        f"/district/pledge-export.csv?district={YONGFENG}&year=2011",
        f"/desk/pledges/{pledge}",
        f"/audit?run=replay&meeting_id={meeting}",
        f"/audit/bundle.zip?campaign_id={campaign}",
        f"/audit/notice/{meeting}",
    ]
    cookies = {"qp_session": qingyuan}

    statuses = {
        path: requests.get(stack.url + path, cookies=cookies, timeout=60, allow_redirects=False)
        for path in pages
    }

    assert {path: answer.status_code for path, answer in statuses.items()} == {
        path: 403 if "district=" in path else 404 for path in pages
    }
    desk = requests.get(stack.url + "/desk", cookies=cookies, timeout=60).text
    assert ours["campaign_id"] in desk and campaign not in desk
    # The public pages stay public, whoever looks.
    board = requests.get(f"{stack.url}/board/{meeting}", cookies=cookies, timeout=60)
    assert board.status_code == 200


def test_a_districts_reader_pages_through_the_ballot_log_seeing_only_its_own_districts_events(
    stack: Stack,
) -> None:
    qingyuan, yongfeng = two_districts(stack)
    theirs = district_data(stack, yongfeng, YONGFENG)
    ours = district_data(stack, qingyuan, QINGYUAN)

    seen, after, pages = [], 0, 0
    while True:
        page = api(stack, "GET", "/api/ballot/log", qingyuan, params={"after": after, "limit": 1})
        assert page.status_code == 200, page.text
        body = page.json()
        if body["last_position"] == after:
            break
        seen.extend(body["events"])
        after, pages = body["last_position"], pages + 1
    whole = stack.log_heads()

    named = {
        event["data"][field]
        for event in seen
        for field in ("campaign_id", "meeting_id")
        if field in event["data"]
    }
    # Its campaign and meeting, and what concerns the whole log (its signing key), no other.
    assert named == {ours["campaign_id"], ours["meeting_id"]}
    assert {"qunping.ballot.CampaignCreated", "qunping.ballot.MeetingScheduled"} <= {
        event["type"] for event in seen
    }
    # Their events were paged past, one position at a time, never shown.
    assert pages == whole["ballot"] > len(seen)
    assert theirs["campaign_id"] not in str(seen) and theirs["meeting_id"] not in str(seen)
