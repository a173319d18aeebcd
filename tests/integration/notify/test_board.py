"""The announcement board (公示) and notify's public feed, through the real service."""

from typing import Any

import pytest

from qunping.core.errors import InvalidInput, NotFound, Refused
from tests.integration.notify.helpers import DISTRICT, announcement


def test_the_board_shows_published_notices_and_hides_withdrawn_ones(start_notify: Any) -> None:
    notify = start_notify()
    for n in (1, 2, 3):
        notify.publish_announcement(announcement(n, "notice"))
    notify.publish_announcement(announcement(4, "meeting", community="other"))

    notify.withdraw_announcement(
        {"announcement_id": "a2", "reason": "数据录入有误", "district": DISTRICT}
    )

    board = notify.announcements({"community": "光明社区"})
    assert [n["announcement_id"] for n in board] == ["a3", "a1"]
    assert board[0]["title"] == "第3号公告" and board[0]["kind"] == "notice"
    everything = notify.announcements({"include_withdrawn": True})
    assert [n["announcement_id"] for n in everything] == ["a4", "a3", "a2", "a1"]
    assert everything[2]["withdrawn"]["reason"] == "数据录入有误"
    assert everything[2]["withdrawn"]["actor"]["role"] == "district_admin"
    assert board[0]["actor"]["username"] == "organiser-光明社区"


def test_board_commands_refuse_what_the_rules_forbid_and_write_nothing(start_notify: Any) -> None:
    notify = start_notify()
    notify.publish_announcement(announcement(1))
    head = notify.public_feed({"after": 0})["head"]

    with pytest.raises(Refused):
        notify.publish_announcement(announcement(1))
    with pytest.raises(NotFound):
        notify.withdraw_announcement(
            {"announcement_id": "nope", "reason": "x", "district": DISTRICT}
        )
    with pytest.raises(InvalidInput) as refused:
        notify.publish_announcement({**announcement(2), "kind": "gossip", "community": {"$ne": 1}})
    notify.withdraw_announcement({"announcement_id": "a1", "reason": "撤回", "district": DISTRICT})
    with pytest.raises(Refused):
        notify.withdraw_announcement(
            {"announcement_id": "a1", "reason": "again", "district": DISTRICT}
        )

    assert set(refused.value.messages) == {"kind", "community"}
    assert notify.public_feed({"after": 0})["head"] == head + 1


def test_notifys_feed_carries_its_public_events_and_none_of_its_internal_ones(
    start_notify: Any,
) -> None:
    notify = start_notify()
    notify.subscribe_webhook(
        {
            "district": DISTRICT,
            "url": "http://127.0.0.1:9/",
            "event_types": ["#"],
            "secret": "x" * 16,
        }
    )
    notify.set_community_contacts(
        {"district": DISTRICT, "community": "光明社区", "emails": ["a@b.cn"]}
    )
    notify.publish_announcement(announcement(1))
    notify.withdraw_announcement({"announcement_id": "a1", "reason": "撤回", "district": DISTRICT})

    page = notify.public_feed({"after": 0, "limit": 10})

    assert [e["type"] for e in page["events"]] == [
        "qunping.notify.AnnouncementPublished",
        "qunping.notify.AnnouncementWithdrawn",
    ]
    assert [e["position"] for e in page["events"]] == [3, 4]
    assert page["next_after"] == page["head"] == 4
    assert "a@b.cn" not in str(page) and "127.0.0.1:9" not in str(page)
