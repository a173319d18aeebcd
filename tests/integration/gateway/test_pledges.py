"""A whole 双诺双述双评 cycle through the JSON API, and the audit endpoints, over the real
services: an organiser registers a unit, drafts and signs a letter, reports on it and
starts its evaluation, which is run as a ballot meeting; the district admin downloads the
year-end export; an auditor verifies, replays and fetches a bundle and the 公示 notice."""

from __future__ import annotations

import base64
import csv
import io
import secrets
import time
from datetime import timedelta
from typing import Any

from services.gateway.auth import AUDITOR, DISTRICT_ADMIN, ORGANISER, SCRUTINEER
from services.pledge.dependencies import today_in_china
from tests.integration.gateway.gateway_stack import PLEDGE_QUORUM, Stack
from tests.integration.gateway.test_api import call

DIMENSIONS = ("承诺内容", "履诺情况", "群众满意度")
UNIT = {
    "district": "吉州区",
    "community": "光明社区",
    "name": "吉州区实验小学",
    "kind": "学校",
    "contact": {"person": "李老师", "phone": "0796-8220000"},
}


def letter(unit_id: str) -> dict[str, Any]:
    """A letter whose reporting window is open today, so its items can be reported on."""
    today = today_in_china()

    def day(offset: int) -> str:
        return (today + timedelta(days=offset)).isoformat()

    return {
        "unit_id": unit_id,
        "year": today.year,
        "period_start": day(-30),
        "period_end": day(30),
        "report_from": day(-1),
        "report_until": day(10),
        "items": [
            {
                "side": "community",
                "title": "开放社区活动室",
                "target": "每月 4 次",
                "due_date": day(5),
            },
            {"side": "unit", "title": "开放学校操场", "target": "每周末开放", "due_date": day(5)},
        ],
    }


def ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(check: Any, what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while not (value := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return value


def run_evaluation_meeting(stack: Stack, organiser: str, meeting_id: str) -> None:
    """Check-in, tokens, every voter satisfied with both sides, close: as the desk does."""
    path = f"/api/meetings/{meeting_id}"
    for n in range(PLEDGE_QUORUM):
        ok(
            call(
                stack,
                "POST",
                path + "/check-ins",
                organiser,
                json={"name": f"代表{n}", "category": "party_member"},
            )
        )
    tokens = ok(call(stack, "POST", path + "/tokens", organiser, json={"count": PLEDGE_QUORUM}))[
        "tokens"
    ]
    scrutineer = stack.account(f"scrutineer-{secrets.token_hex(4)}", SCRUTINEER)
    ok(call(stack, "POST", path + "/open", scrutineer))
    marks = [
        {"subject": subject, "dimension": dimension, "value": "满意"}
        for subject in ("pledge_community-1", "pledge_unit-1")
        for dimension in DIMENSIONS
    ]
    for token in tokens:
        ok(call(stack, "POST", path + "/ballots", json={"token": token, "marks": marks}))
    ok(call(stack, "POST", path + "/close", scrutineer))


def test_an_organiser_runs_a_pledge_cycle_and_the_district_downloads_the_year_end_export(
    stack: Stack,
) -> None:
    organiser = stack.account("organiser", ORGANISER, "光明社区")
    unit_id = ok(call(stack, "POST", "/api/units", organiser, json=UNIT))["unit_id"]
    pledge_id = ok(call(stack, "POST", "/api/pledges", organiser, json=letter(unit_id)))[
        "pledge_id"
    ]
    for side, representative in (("community", "王书记"), ("unit", "张校长")):
        signed = ok(
            call(
                stack,
                "POST",
                f"/api/pledges/{pledge_id}/signatures",
                organiser,
                json={"version": 1, "side": side, "representative": representative},
            )
        )
    assert signed["status"] == "in_force"
    for item_id, side in (("community-1", "community"), ("unit-1", "unit")):
        ok(
            call(
                stack,
                "POST",
                f"/api/pledges/{pledge_id}/reports",
                organiser,
                json={"item_id": item_id, "side": side, "status": "done", "evidence": "台账"},
            )
        )
    started = ok(
        call(
            stack,
            "POST",
            f"/api/pledges/{pledge_id}/evaluation",
            organiser,
            json={
                "street": "古南街道",
                "starts_at": "2026-12-25T09:00:00+08:00",
                "place": "社区会议室",
                "expected_participants": PLEDGE_QUORUM,
            },
        )
    )
    run_evaluation_meeting(stack, organiser, started["meeting_id"])

    def recorded() -> Any:
        detail = ok(call(stack, "GET", f"/api/pledges/{pledge_id}", organiser))
        return detail["evaluation"]["results"]

    wait_for(recorded, "the evaluation's results in the pledge log")
    listed = ok(call(stack, "GET", "/api/pledges?community=光明社区", organiser))["pledges"]
    assert [p["pledge_id"] for p in listed] == [pledge_id]

    admin = stack.account("admin", DISTRICT_ADMIN)
    year = today_in_china().year
    exported = ok(
        call(stack, "GET", f"/api/pledge-export?district=吉州区&year={year}&format=csv", admin)
    )
    assert exported["rows"] == 1
    text = base64.b64decode(exported["content_base64"]).decode("utf-8-sig")
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert "吉州区实验小学" in row.values()
    assert (
        call(
            stack, "GET", f"/api/pledge-export?district=吉州区&year={year}&format=csv", organiser
        ).status_code
        == 403
    )


def test_an_organiser_of_another_community_can_neither_see_nor_change_a_pledge(
    stack: Stack,
) -> None:
    ours = stack.account("organiser", ORGANISER, "光明社区")
    theirs = stack.account("stranger", ORGANISER, "太平桥社区")
    unit_id = ok(call(stack, "POST", "/api/units", ours, json=UNIT))["unit_id"]
    pledge_id = ok(call(stack, "POST", "/api/pledges", ours, json=letter(unit_id)))["pledge_id"]
    before = ok(call(stack, "GET", f"/api/pledges/{pledge_id}", ours))
    refusals = [
        call(stack, "POST", "/api/units", theirs, json=UNIT),
        call(stack, "GET", f"/api/units/{unit_id}", theirs),
        call(stack, "POST", "/api/pledges", theirs, json=letter(unit_id)),
        call(stack, "GET", f"/api/pledges/{pledge_id}", theirs),
        call(stack, "GET", "/api/pledges?community=光明社区", theirs),
        call(stack, "GET", "/api/pledges", theirs),
        call(
            stack,
            "POST",
            f"/api/pledges/{pledge_id}/signatures",
            theirs,
            json={"version": 1, "side": "unit", "representative": "冒名者"},
        ),
    ]
    assert [answer.status_code for answer in refusals] == [403] * len(refusals)
    assert ok(call(stack, "GET", f"/api/pledges/{pledge_id}", ours)) == before
    listed = ok(call(stack, "GET", "/api/pledges?community=光明社区", ours))["pledges"]
    assert len(listed) == 1


def test_an_auditor_verifies_replays_and_downloads_a_bundle_and_the_notice(stack: Stack) -> None:
    organiser = stack.account("organiser", ORGANISER, "光明社区")
    unit_id = ok(call(stack, "POST", "/api/units", organiser, json=UNIT))["unit_id"]
    pledge_id = ok(call(stack, "POST", "/api/pledges", organiser, json=letter(unit_id)))[
        "pledge_id"
    ]
    for side in ("community", "unit"):
        ok(
            call(
                stack,
                "POST",
                f"/api/pledges/{pledge_id}/signatures",
                organiser,
                json={"version": 1, "side": side, "representative": "代表"},
            )
        )
    meeting_id = ok(
        call(
            stack,
            "POST",
            f"/api/pledges/{pledge_id}/evaluation",
            organiser,
            json={
                "street": "古南街道",
                "starts_at": "2026-12-25T09:00:00+08:00",
                "place": "社区会议室",
                "expected_participants": PLEDGE_QUORUM,
            },
        )
    )["meeting_id"]
    run_evaluation_meeting(stack, organiser, meeting_id)
    auditor = stack.account("auditor", AUDITOR)
    wait_for(
        lambda: call(stack, "GET", f"/api/meetings/{meeting_id}/results").status_code == 200,
        "the meeting's results",
    )
    verified = ok(call(stack, "POST", "/api/audit/verify", auditor))
    assert verified["logs"] and all(log["ok"] for log in verified["logs"])
    replayed = ok(
        call(stack, "POST", "/api/audit/replay", auditor, json={"meeting_id": meeting_id})
    )
    assert replayed["differences"] == []
    bundle = ok(call(stack, "GET", f"/api/audit/bundle?meeting_id={meeting_id}", auditor))
    assert set(bundle) >= {"bundle", "verifier"}
    notice = ok(call(stack, "GET", f"/api/audit/notice?meeting_id={meeting_id}", auditor))
    assert "公示" in notice["html"]
    assert call(stack, "POST", "/api/audit/verify", organiser).status_code == 403
    both = call(
        stack, "GET", f"/api/audit/bundle?meeting_id={meeting_id}&campaign_id={meeting_id}", auditor
    )
    assert both.status_code == 400
