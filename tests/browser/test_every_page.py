"""Every page, anonymous and logged in, in Chinese and in English, in real Chromium: no
violation of the WCAG 2.1 A and AA rules (axe-core), none of the code's internal keys in
the visible text, no label running out of its box. One stack serves the whole sweep."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext
from pymongo import MongoClient

from services.gateway.auth import DISTRICT_ADMIN, SCRUTINEER
from tests.browser.page_checks import (
    accessibility_violations,
    internal_keys_shown,
    overflowing_labels,
)
from tests.browser.test_meeting_in_browser import log_in, shot
from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_stack import Stack, stack_processes
from tests.integration.gateway.test_api import call
from tests.integration.gateway.test_pledges import UNIT, letter, ok, wait_for

SUBJECTS = [
    {"kind": "committee"},
    {"kind": "secretary", "name": "王书记"},
    {"kind": "graduate", "name": "李选聘"},
]
MEETING_AT = {"street": "古南街道", "starts_at": "2011-10-12T09:00:00+08:00", "place": "会议室"}


@dataclass
class Site:
    """A district with something on every page: a campaign, a meeting with published
    results and a grade, a meeting not yet held, a pledge letter awaiting signatures."""

    stack: Stack
    campaign: str
    closed: str
    scheduled: str
    pledge: str

    def url(self, path: str) -> str:
        return self.stack.url + path.format(
            campaign=self.campaign, closed=self.closed, scheduled=self.scheduled,
            pledge=self.pledge,
        )  # fmt: skip


def held_meeting(stack: Stack, admin: str, campaign: str) -> str:
    """Three representatives: one rates everything, one only the committee, one hands in a
    blank ballot, so every count of an item (valid, abstained, void, blank) is shown."""
    meeting = ok(call(stack, "POST", "/api/meetings", admin, json={
        "campaign_id": campaign, "community": "光明社区", "expected_participants": 3,
        "subjects": SUBJECTS, **MEETING_AT,
    }))  # fmt: skip
    path = f"/api/meetings/{meeting['meeting_id']}"
    for n in range(3):
        ok(call(stack, "POST", path + "/check-ins", admin,
                json={"name": f"代表{n}", "category": "resident"}))  # fmt: skip
    tokens = ok(call(stack, "POST", path + "/tokens", admin, json={"count": 3}))["tokens"]
    scrutineer = stack.account("scrutineer", SCRUTINEER)
    ok(call(stack, "POST", path + "/open", scrutineer))
    detail = ok(call(stack, "GET", path))
    kinds = detail["policy"]["kinds"]
    every = [
        {"subject": subject["id"], "dimension": dimension, "value": value}
        for subject in detail["subjects"]
        for dimension, value in zip(
            kinds[subject["kind"]]["dimensions"],
            ["满意", "不了解", "很好"] if subject["kind"] == "committee" else ["优秀", "称职"],
            strict=False,
        )
    ]
    committee_only = [mark for mark in every if mark["subject"] == "committee-1"]
    for token, marks in zip(tokens, (every, committee_only, []), strict=True):
        ok(call(stack, "POST", path + "/ballots", json={"token": token, "marks": marks}))
    ok(call(stack, "POST", path + "/close", scrutineer))
    wait_for(lambda: call(stack, "GET", path + "/results").status_code == 200, "results")
    return str(meeting["meeting_id"])


@pytest.fixture(scope="module")
def site(
    amqp_uri: str, mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]
) -> Iterator[Site]:
    with stack_processes(amqp_uri, mongo_uri, mongo_client, ARTIFACTS / "browser") as stack:
        admin = stack.account("admin", DISTRICT_ADMIN)
        campaign = ok(call(stack, "POST", "/api/campaigns", admin, json={
            "district": "吉州区", "year": 2011, "batch": "第一批试点",
            "policy": {"quorum": {"min_present": 3, "min_resident_percent": None}},
        }))["campaign_id"]  # fmt: skip
        closed = held_meeting(stack, admin, campaign)
        ok(call(stack, "POST", f"/api/campaigns/{campaign}/assessments", admin, json={
            "community": "光明社区", "score": 88, "assessor": "区委组织部", "basis": "年度考核",
        }))  # fmt: skip
        wait_for(
            lambda: ok(call(stack, "GET", f"/api/campaigns/{campaign}/grades", admin))["grades"],
            "the grade",
        )
        scheduled = ok(call(stack, "POST", "/api/meetings", admin, json={
            "campaign_id": campaign, "community": "太平桥社区", "expected_participants": 60,
            "subjects": SUBJECTS, **MEETING_AT,
        }))["meeting_id"]  # fmt: skip
        unit = ok(call(stack, "POST", "/api/units", admin, json=UNIT))["unit_id"]
        pledge = ok(call(stack, "POST", "/api/pledges", admin, json=letter(unit)))["pledge_id"]
        yield Site(stack, campaign, closed, scheduled, pledge)


@pytest.fixture(scope="module")
def visitors(browser: Browser, site: Site) -> Iterator[dict[str, BrowserContext]]:
    """One browser context per kind of visitor: nobody logged in, and a district admin."""
    viewport = {"viewport": {"width": 1280, "height": 900}}
    anonymous = browser.new_context(**viewport)
    admin = browser.new_context(**viewport)
    log_in(admin, site.stack.url, "admin").close()
    yield {"anonymous": anonymous, "admin": admin}
    anonymous.close()
    admin.close()


PUBLIC = (
    "/",
    "/login",
    "/vote/{scheduled}",
    "/receipt/{closed}",
    "/board/{scheduled}",
    "/board/{closed}",
    "/notice/{closed}",
    "/docs",
)
STAFF = (
    "/desk",
    "/desk/campaigns/new",
    "/desk/campaigns/{campaign}",
    "/desk/meetings/{scheduled}",
    "/desk/meetings/{closed}",
    "/district",
    "/desk/pledges",
    "/desk/pledges/{pledge}",
    "/audit",
    "/audit?run=verify",
    "/audit?run=replay&meeting_id={closed}",
    "/audit/notice/{closed}",
)
PAGES = [
    *((who, path) for path in PUBLIC for who in ("anonymous", "admin")),
    *(("admin", path) for path in STAFF),
]
NOT_CHECKED_FOR_KEYS = {"/docs"}
"""The API's documentation names its paths and fields as the API does."""


def screenshot_name(who: str, path: str, lang: str) -> str:
    words = "".join(c if c.isalnum() else "-" for c in path.strip("/")) or "home"
    return f"page-{who}-{re.sub('-+', '-', words).strip('-')}-{lang}"


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize(("who", "path"), PAGES)
def test_every_page_meets_wcag_2_1_aa_and_shows_labels_not_keys_in_both_languages(
    site: Site,
    visitors: dict[str, BrowserContext],
    screenshots: Path,
    who: str,
    path: str,
    lang: str,
) -> None:
    (screenshots / "pages").mkdir(exist_ok=True)
    page = visitors[who].new_page()
    separator = "&" if "?" in path else "?"
    answer = page.goto(site.url(path) + f"{separator}lang={lang}")
    assert answer is not None and answer.status == 200, f"{path}: {answer and answer.status}"
    shot(page, screenshots / "pages", screenshot_name(who, path, lang))

    assert accessibility_violations(page) == []
    if path not in NOT_CHECKED_FOR_KEYS:
        assert internal_keys_shown(page, lang) == []
    assert overflowing_labels(page) == []
    page.close()


def test_the_results_api_accounts_for_every_returned_ballot_on_each_item(site: Site) -> None:
    results = ok(call(site.stack, "GET", f"/api/meetings/{site.closed}/results"))["results"]

    counted = ("valid", "abstained", "void", "blank")
    items = [item for subject in results["subjects"] for item in subject["dimensions"]]
    assert results["returned"] == 3 and len(items) == 17
    assert all(sum(item[key] for key in counted) == 3 for item in items)
    hygiene, culture = items[1], items[2]
    assert [hygiene[key] for key in counted] == [0, 2, 0, 1], "不了解 twice, one blank ballot"
    assert [culture[key] for key in counted] == [0, 0, 2, 1], "很好 is no value of the scale"


OLD_DISTRICT_PAGE = """<!doctype html><html lang="zh-CN"><head><title>全区汇总</title></head>
<body><main>
<h1>全区汇总</h1>
<form><select name="campaign_id"><option>吉州区 2011</option></select><button>→</button></form>
<svg class="bars" viewBox="0 0 400 56" role="img" width="400">
  <text x="0" y="18" class="bar-label">graduate_excellence</text>
  <rect x="110" y="4" width="230" height="18"></rect>
  <text x="0" y="44" class="bar-label">committees</text>
  <rect x="110" y="30" width="230" height="18"></rect>
</svg>
<table><tr><td>光明社区</td><td>示范 (first)</td></tr></table>
</main></body></html>"""
"""What the district page was before: an unlabelled select, charts without a name, code keys
for labels, a label running into its bar."""


def test_the_page_checks_find_what_the_district_page_had_before(browser: Browser) -> None:
    page = browser.new_page()
    page.set_content(OLD_DISTRICT_PAGE)

    assert {found["id"] for found in accessibility_violations(page)} >= {
        "select-name",
        "svg-img-alt",
    }
    assert internal_keys_shown(page, "zh") == ["committees", "first", "graduate_excellence"]
    assert internal_keys_shown(page, "en") == ["(first)", "graduate_excellence"]
    assert any("runs into a bar" in problem for problem in overflowing_labels(page))
    page.close()
