"""A whole meeting through the pages in real Chromium: set-up, check-in, slips, 52 phones
voting, the board while open, the close, the results on the board and the 公示 sheet."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from services.gateway.auth import DISTRICT_ADMIN
from tests.integration.gateway.gateway_stack import PASSWORD, Stack

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
VOTERS = 52
PRESENT = 50
SATISFACTION = ["满意", "基本满意", "不满意", "不了解"]
EXCELLENCE = ["优秀", "称职", "基本称职", "不称职"]
MIN_SCREENSHOT_BYTES = 8_000
"""A blank or near-blank page compresses to far less than this."""


GLYPHS_DIFFER = """([first, second]) => {
    const canvas = document.createElement("canvas");
    canvas.width = 48;
    canvas.height = 48;
    const context = canvas.getContext("2d");
    context.font = "32px " + getComputedStyle(document.body).fontFamily;
    const drawn = (character) => {
        context.clearRect(0, 0, 48, 48);
        context.fillText(character, 4, 38);
        return context.getImageData(0, 0, 48, 48).data.join();
    };
    return drawn(first) !== drawn(second);
}"""
"""Whether two characters draw differently in the page's font: without a font that has
them, Chromium draws both as the same empty box."""


def shot(page: Page, directory: Path, name: str, *expected: str) -> None:
    """Save a screenshot and check it rendered: expected text on the page, not blank, and
    Chinese drawn as glyphs rather than boxes."""
    for text in expected:
        expect(page.locator("body")).to_contain_text(text)
    assert page.evaluate(GLYPHS_DIFFER, ["社", "区"]), "Chinese draws as boxes: no CJK font"
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > MIN_SCREENSHOT_BYTES, f"{name} looks blank"


def vote(browser: Browser, url: str, token: str, n: int) -> str:
    """One representative on a phone: open the slip's QR link, rate everything, confirm."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(url + f"#token={token}")
    radios = page.locator("input[type=radio]")
    groups: dict[str, list[str]] = {}
    for index in range(radios.count()):
        radio = radios.nth(index)
        groups.setdefault(radio.get_attribute("name") or "", []).append(
            radio.get_attribute("value") or ""
        )
    for name, values in groups.items():
        wanted = values[0] if n % 5 else values[min(n % 3 + 1, len(values) - 1)]
        page.check(f'input[type=radio][name="{name}"][value="{wanted}"]')
    page.click("#to-confirm")
    expect(page.locator("#summary li")).to_have_count(len(groups))
    page.click("#cast")
    code = page.locator("#receipt-code")
    expect(code).to_have_text(re.compile(r"^[0-9a-f]{4}(-[0-9a-f]{4}){3}$"))
    receipt = code.inner_text()
    context.close()
    return receipt


def log_in(context: BrowserContext, url: str, username: str) -> Page:
    page = context.new_page()
    page.goto(f"{url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button")
    return page


def cast_again(phone: Page, vote_url: str, token: str) -> str:
    """Cast with a token already used or after the close: what the voter is told."""
    phone.goto(vote_url)
    phone.fill("#token", token)
    phone.click("#to-confirm")
    phone.click("#cast")
    refusal = phone.locator("#ballot .errors")
    expect(refusal).not_to_be_empty()
    return refusal.inner_text()


def set_up_meeting(page: Page) -> str:
    """The organiser's desk: a campaign, then a meeting with its subjects."""
    campaign = page.locator("form[data-api='/api/campaigns']")
    campaign.locator("input[name=district]").fill("吉州区")
    campaign.locator("input[name=year]").fill("2011")
    campaign.locator("input[name=batch]").fill("第一批试点")
    campaign.locator("button").click()
    schedule = page.locator("form.schedule")
    schedule.locator("input[name=community]").fill("光明社区")
    schedule.locator("input[name=street]").fill("古南街道")
    schedule.locator("input[name=starts_at]").fill("2011-10-12T09:00")
    schedule.locator("input[name=place]").fill("社区会议室")
    schedule.locator("input[name=expected_participants]").fill("60")
    schedule.locator("textarea[name=subjects]").fill("committee\nsecretary 王书记\ngraduate 李选聘")
    schedule.locator("button").click()
    expect(page).to_have_url(re.compile(r".*/desk/meetings/[0-9a-f]{16}$"))
    meeting_id = page.url.rsplit("/", 1)[1]
    return meeting_id


def test_a_whole_meeting_runs_through_the_pages_with_fifty_phones(
    browser: Browser, stack: Stack, screenshots: Path
) -> None:
    stack.accounts.create("admin", PASSWORD, DISTRICT_ADMIN, None)
    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    page = log_in(desk, stack.url, "admin")
    expect(page).to_have_url(f"{stack.url}/desk")

    meeting_id = set_up_meeting(page)

    check_in = page.locator("#check-in")
    for n in range(PRESENT):
        check_in.locator("input[name=name]").fill(f"居民代表{n + 1}")
        check_in.locator("button").click()
        expect(page.locator("#desk-checked-in")).to_have_text(str(n + 1))
    shot(page, screenshots, "check-in-desk", "签到台", "光明社区")

    page.locator("#issue-tokens input[name=count]").fill(str(VOTERS))
    with desk.expect_page() as opened:
        page.locator("#issue-tokens button").click()
    slips = opened.value
    expect(slips.locator(".slip")).to_have_count(VOTERS)
    tokens = slips.locator(".slip-token").all_inner_texts()
    assert len(set(tokens)) == VOTERS
    assert slips.locator(".slip svg").count() == VOTERS
    shot(slips, screenshots, "token-slips", "选票码")
    slips.close()

    projector = desk.new_page()
    projector.goto(f"{stack.url}/board/{meeting_id}")
    shot(projector, screenshots, "board-before-voting", "会场大屏", str(PRESENT))

    page.locator("#open-voting button").click()
    expect(page.locator("h1")).to_contain_text("投票中")

    vote_url = f"{stack.url}/vote/{meeting_id}"
    receipts = [vote(browser, vote_url, token, n) for n, token in enumerate(tokens)]
    assert len(set(receipts)) == VOTERS

    phone = browser.new_context(**PHONE).new_page()
    phone.goto(vote_url + "?lang=en")
    shot(phone, screenshots, "voter-page-english", "Secret ballot", "Ballot token")
    assert cast_again(phone, vote_url + "?lang=en", tokens[0]) == (
        "This ballot token is not valid: check it. If you already pressed “Cast my ballot”, "
        "your ballot is in the box."
    )

    expect(projector.locator("#returned")).to_have_text(str(VOTERS), timeout=10_000)
    assert projector.locator("#results").count() == 0
    shot(projector, screenshots, "board-while-open", "投票进行中，只公布投票进度")

    page.locator("#close-voting button").click()
    expect(page.locator("h1")).to_contain_text("已结束")
    assert (
        cast_again(phone, vote_url + "?lang=zh", tokens[1])
        == "现在不能投票：投票尚未开始或已经结束。"
    )
    expect(projector.locator("#results")).to_be_visible(timeout=15_000)
    shot(projector, screenshots, "board-results", "测评结果", "社区两委班子", "王书记", "满意率")

    projector.goto(f"{stack.url}/notice/{meeting_id}")
    shot(projector, screenshots, "notice-sheet", "测评结果公示", "光明社区", "李选聘")

    phone.goto(f"{stack.url}/receipt/{meeting_id}?lang=zh")
    phone.fill("input[name=code]", receipts[7])
    phone.click("#check-receipt button")
    expect(phone.locator(".answer")).to_have_text("此回执对应的选票已在票箱中。")
    shot(phone, screenshots, "receipt-check", "已在票箱中")
