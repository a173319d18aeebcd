"""What every page is checked for in Chromium: axe-core's WCAG 2.1 A and AA rules, none of
the code's internal keys in the visible text, and no label running out of its box."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from qunping.core import registry
from services.ballot.domain import CLOSED, OPEN, SCHEDULED, VOID
from services.ballot.policy import DEFAULT_POLICY
from services.ballot.schemas import CATEGORIES
from services.tally.scoring import POOLS

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
MOVEMENTS = ("first", "promoted", "demoted", "kept")

INTERNAL_KEYS = frozenset(
    {
        *POOLS,
        *MOVEMENTS,
        *DEFAULT_POLICY["kinds"],
        *DEFAULT_POLICY["scales"],
        *(rate for rates in DEFAULT_POLICY["rates"].values() for rate in rates),
        *CATEGORIES,
        SCHEDULED,
        OPEN,
        CLOSED,
        VOID,
        *registry.logs(),
        "item",
        "in_force",
        "awaiting_signatures",
    }
)
"""Names the code gives things, which a page must show by their label instead."""


def internal_keys_shown(page: Page, lang: str) -> list[str]:
    """The internal keys in the page's visible text. In Chinese any of them is one; in
    English only the ones no label would use: with an underscore, or a movement in
    brackets as `(first)`."""
    text = page.locator("body").inner_text()
    if lang == "zh":
        found = {key for key in INTERNAL_KEYS if re.search(rf"(?<![\w.-]){key}(?![\w-])", text)}
    else:
        found = {key for key in INTERNAL_KEYS if "_" in key and key in text}
        found |= {f"({m})" for m in MOVEMENTS if f"({m})" in text}
    return sorted(found)


@cache
def axe_source() -> str:
    if not AXE.exists():
        raise AssertionError(f"{AXE} is missing: `make test` installs it (npm ci)")
    return AXE.read_text(encoding="utf-8")


def accessibility_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A and AA violations, each with the elements it found."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    found: list[dict[str, Any]] = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, { runOnly: { type: "tag", values: tags } });
            return result.violations.map((violation) => ({
                id: violation.id,
                impact: violation.impact,
                help: violation.help,
                nodes: violation.nodes.slice(0, 5).map((node) => node.target.join(" ")),
            }));
        }""",
        WCAG_21_AA,
    )
    return found


OVERFLOWS = Path(__file__).with_name("overflows.js")
"""A script that lists each label overflowing its box and each chart label running out of
its chart or into a bar."""


def overflowing_labels(page: Page) -> list[str]:
    found: list[str] = page.evaluate(OVERFLOWS.read_text(encoding="utf-8"))
    return found
