"""The pages read through the API's routes: a page refuses an account exactly as the API
refuses it the same request, and shows nothing its viewer's role could not fetch."""

from __future__ import annotations

import requests

from services.gateway.auth import DISTRICT_ADMIN, ORGANISER, PLATFORM_ADMIN
from tests.integration.gateway.gateway_stack import Stack
from tests.integration.gateway.test_api import call, meeting
from tests.integration.gateway.test_pledges import UNIT, letter, ok


def page(stack: Stack, method: str, path: str, token: str, **kwargs: object) -> requests.Response:
    return requests.request(
        method, stack.url + path, cookies={"qp_session": token}, timeout=60,
        allow_redirects=False, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def csrf_of(stack: Stack, token: str) -> str:
    principal = stack.accounts.principal(token)
    assert principal is not None
    return principal.csrf


def test_an_organiser_of_another_community_is_refused_by_the_pages_as_by_the_api(
    stack: Stack,
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    ours = stack.account("organiser", ORGANISER, "光明社区")
    stranger = stack.account("stranger", ORGANISER, "太平桥社区")
    meeting_id = meeting(stack, admin)
    unit_id = ok(call(stack, "POST", "/api/units", ours, json=UNIT))["unit_id"]
    pledge_id = ok(call(stack, "POST", "/api/pledges", ours, json=letter(unit_id)))["pledge_id"]
    heads = stack.log_heads()
    slips = {"csrf": csrf_of(stack, stranger), "count": "3"}

    as_pages = [
        page(stack, "GET", f"/desk/meetings/{meeting_id}", stranger).status_code,
        page(stack, "POST", f"/desk/meetings/{meeting_id}/slips", stranger, data=slips).status_code,
        page(stack, "GET", f"/desk/pledges/{pledge_id}", stranger).status_code,
    ]
    as_the_api = [
        call(stack, "POST", f"/api/meetings/{meeting_id}/open", stranger).status_code,
        call(
            stack, "POST", f"/api/meetings/{meeting_id}/tokens", stranger, json={"count": 3}
        ).status_code,
        call(stack, "GET", f"/api/pledges/{pledge_id}", stranger).status_code,
    ]

    assert as_pages == as_the_api == [403, 403, 403]
    assert stack.log_heads() == heads
    assert page(stack, "GET", f"/desk/meetings/{meeting_id}", admin).status_code == 200
    assert page(stack, "GET", f"/desk/pledges/{pledge_id}", ours).status_code == 200


def test_a_page_shows_the_platforms_admin_no_districts_campaigns_as_the_api_gives_none(
    stack: Stack,
) -> None:
    admin = stack.account("admin", DISTRICT_ADMIN)
    platform = stack.account("platform", PLATFORM_ADMIN)
    meeting_id = meeting(stack, admin)
    campaign_id = ok(call(stack, "GET", f"/api/meetings/{meeting_id}"))["campaign_id"]

    district_page = page(stack, "GET", "/district", platform)
    grades_file = page(stack, "GET", f"/district/{campaign_id}/grades.csv", platform)

    assert call(stack, "GET", "/api/campaigns", platform).status_code == 403
    assert call(stack, "GET", f"/api/campaigns/{campaign_id}/grades", platform).status_code == 403
    for answer in (district_page, grades_file):
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith("/login?next=")
    assert campaign_id not in district_page.text
