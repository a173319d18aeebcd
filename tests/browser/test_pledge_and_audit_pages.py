"""The organiser's pledge pages, the auditor's page and the district's pledge export in real
Chromium: each renders its expected text, and the forms and downloads work."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from services.gateway.auth import AUDITOR, DISTRICT_ADMIN
from services.pledge.dependencies import today_in_china
from tests.browser.test_meeting_in_browser import shot
from tests.integration.gateway.gateway_stack import DISTRICT, PASSWORD, PLEDGE_QUORUM, Stack
from tests.integration.gateway.test_api import call
from tests.integration.gateway.test_pledges import ok, run_evaluation_meeting


def logged_in(browser: Browser, stack: Stack, username: str, role: str) -> Page:
    stack.accounts.create(username, PASSWORD, role, None, district=DISTRICT)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{stack.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button")
    return page


def draft_through_the_pages(page: Page, stack: Stack) -> str:
    """Register a unit and draft its letter with the desk's forms: the letter's id."""
    page.goto(f"{stack.url}/desk/pledges")
    unit = page.locator("form[data-api='/api/units']")
    for name, value in (("district", "吉州区"), ("community", "光明社区"),
                        ("name", "吉州区实验小学"), ("kind", "学校"), ("person", "李老师"),
                        ("phone", "0796-8220000")):  # fmt: skip
        unit.locator(f"input[name={name}]").fill(value)
    unit.locator("button").click()
    draft = page.locator("form.draft")
    expect(draft).to_contain_text("吉州区实验小学")
    today = today_in_china()
    days = {"period_start": -30, "period_end": 30, "report_from": -1, "report_until": 10}
    draft.locator("input[name=year]").fill(str(today.year))
    for name, offset in days.items():
        draft.locator(f"input[name={name}]").fill((today + timedelta(days=offset)).isoformat())
    due = (today + timedelta(days=5)).isoformat()
    draft.locator("textarea[name=items]").fill(
        f"community | 开放社区活动室 | 每月 4 次 | {due}\nunit | 开放学校操场 | 每周末开放 | {due}"
    )
    draft.locator("button").click()
    expect(page).to_have_url(re.compile(r".*/desk/pledges/[0-9a-f]{16}$"))
    return page.url.rsplit("/", 1)[1]


def test_the_pledge_desk_audit_and_export_pages_render_and_their_forms_work(
    browser: Browser, stack: Stack, screenshots: Path
) -> None:
    page = logged_in(browser, stack, "admin", DISTRICT_ADMIN)
    pledge_id = draft_through_the_pages(page, stack)
    shot(page, screenshots, "pledge-letter", "承诺书", "开放学校操场", "待双方签字")
    for side, unsigned in (("community", 1), ("unit", 0)):
        sign = page.locator("form.sign").first
        sign.locator("input[name=representative]").fill(f"{side}代表")
        sign.locator("button").click()
        # The page reloads once the signature is in: one form fewer.
        expect(page.locator("form.sign")).to_have_count(unsigned)
    expect(page.locator("#pledge-status")).to_have_text("已生效")
    expect(page.locator("form.report")).to_have_count(2)
    page.goto(f"{stack.url}/desk/pledges?lang=en")
    shot(page, screenshots, "pledges-desk-english", "Pledge letters", "In force")

    admin = stack.login("admin")
    meeting_id = ok(call(stack, "POST", f"/api/pledges/{pledge_id}/evaluation", admin,
                         json={"street": "古南街道", "starts_at": "2026-12-25T09:00:00+08:00",
                               "place": "社区会议室",
                               "expected_participants": PLEDGE_QUORUM}))["meeting_id"]  # fmt: skip
    run_evaluation_meeting(stack, admin, meeting_id)

    auditor = logged_in(browser, stack, "auditor", AUDITOR)
    expect(auditor).to_have_url(f"{stack.url}/audit")
    auditor.click("#run-verify")
    shot(auditor, screenshots, "audit-verify", "审计", "选票日志", "完整")
    assert "已损坏" not in auditor.locator("#verify-results").inner_text()
    auditor.goto(f"{stack.url}/audit?run=replay&meeting_id={meeting_id}")
    shot(auditor, screenshots, "audit-replay", "与公布结果一致")
    with auditor.expect_download() as downloading:
        auditor.click(f"a[href='/audit/bundle.zip?meeting_id={meeting_id}']")
    with zipfile.ZipFile(io.BytesIO(Path(downloading.value.path()).read_bytes())) as bundle:
        assert sorted(bundle.namelist()) == ["bundle.jsonl", "verify_bundle.py"]
    auditor.goto(f"{stack.url}/audit/notice/{meeting_id}")
    shot(auditor, screenshots, "audit-notice", "公示", "光明社区")

    auditor.goto(f"{stack.url}/district")
    export = auditor.locator("#pledge-export")
    export.locator("input[name=district]").fill("吉州区")
    export.locator("input[name=year]").fill(str(today_in_china().year))
    with auditor.expect_download() as downloading:
        export.locator("button").first.click()
    assert downloading.value.suggested_filename.endswith(".xlsx")
    assert Path(downloading.value.path()).read_bytes().startswith(b"PK")
