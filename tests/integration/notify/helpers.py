"""Helpers of the notify tests: waiting, a shared secret, announcements to publish."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.actors import organiser_of

SECRET = "s3cr3t-shared-with-the-receiver"
DISTRICT = "吉州区"
"""The district the notify tests act for (the gateway would fill it in)."""


def wait_until(condition: Callable[[], Any], timeout: float = 15, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what or condition}")


def announcement(n: int, kind: str = "notice", community: str = "光明社区") -> dict[str, Any]:
    return {
        "announcement_id": f"a{n}",
        "district": DISTRICT,
        "community": community,
        "kind": kind,
        "title": f"第{n}号公告",
        "body": "测评会定于10月12日上午9:30在社区会议室召开。",
        "actor": organiser_of(community),
    }
