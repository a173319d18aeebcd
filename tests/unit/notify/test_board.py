from datetime import UTC, datetime

from qunping.core.envelope import NewEvent
from qunping.core.memory_eventlog import InMemoryEventLog
from services.notify.board import NotifyState
from services.notify.events import payloads


def folded(log: InMemoryEventLog) -> NotifyState:
    state = NotifyState()
    for event in log.read_all():
        state.apply(event)
    return state


def notice(announcement_id: str, community: str = "c1") -> dict[str, str]:
    return {
        "announcement_id": announcement_id,
        "community": community,
        "kind": "results",
        "title": "2011年测评结果公示",
        "body": "满意率 95.94%",
    }


def test_the_board_lists_live_notices_newest_first_and_withdrawn_ones_only_on_request() -> None:
    log = InMemoryEventLog(
        "notify", payload_schemas=payloads, clock=lambda: datetime(2011, 10, 12, tzinfo=UTC)
    )
    for announcement_id in ("a1", "a2", "a3"):
        log.append(
            f"announcement-{announcement_id}",
            [NewEvent("AnnouncementPublished", notice(announcement_id))],
        )
    log.append(
        "announcement-a2",
        [NewEvent("AnnouncementWithdrawn", {"announcement_id": "a2", "reason": "录入有误"})],
    )
    log.append("announcement-b1", [NewEvent("AnnouncementPublished", notice("b1", "c2"))])

    state = folded(log)

    assert [n["announcement_id"] for n in state.board("c1", False)] == ["a3", "a1"]
    assert [n["announcement_id"] for n in state.board("c1", True)] == ["a3", "a2", "a1"]
    assert state.board("c1", True)[1]["withdrawn"]["reason"] == "录入有误"
    assert [n["announcement_id"] for n in state.board(None, False)] == ["b1", "a3", "a1"]


def test_subscriptions_come_and_go_with_their_events() -> None:
    log = InMemoryEventLog("notify", payload_schemas=payloads)
    for n in (1, 2):
        log.append(
            f"subscription-s{n}",
            [
                NewEvent(
                    "WebhookSubscribed",
                    {"subscription_id": f"s{n}", "url": "http://x/", "event_types": ["ballot.*"]},
                )
            ],
        )
    log.append("subscription-s1", [NewEvent("WebhookUnsubscribed", {"subscription_id": "s1"})])

    state = folded(log)

    assert [s.subscription_id for s in state.subscribers_of("ballot.MeetingClosed")] == ["s2"]
    assert state.subscribers_of("pledge.PledgeSigned") == []
    assert state.position == 3
