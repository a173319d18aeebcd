"""notify's rules without servers: what each command appends, to which stream, at which
version, and what it refuses."""

from typing import Any

import pytest

from qunping.core.errors import ConcurrencyError, NotFound, Refused
from qunping.core.eventlog import ANY_VERSION, NO_STREAM
from qunping.core.memory_eventlog import InMemoryEventLog
from services.notify import domain
from services.notify.domain import NotifyState
from services.notify.events import payloads

JIZHOU, QINGYUAN = "吉州区", "青原区"
ACTOR = {"username": "admin-吉州区", "role": "district_admin"}


def folded(log: InMemoryEventLog) -> NotifyState:
    state = NotifyState()
    for event in log.read_all():
        state.apply(event)
    return state


def subscribed(log: InMemoryEventLog, subscription_id: str = "s1") -> NotifyState:
    log.append_batch(
        [
            domain.subscribe(
                subscription_id,
                {"district": JIZHOU, "url": "http://x/", "event_types": ["#"], "description": ""},
            )
        ]
    )
    return folded(log)


def published(log: InMemoryEventLog, announcement_id: str = "a1") -> NotifyState:
    log.append_batch(
        [
            domain.publish_announcement(
                {
                    "announcement_id": announcement_id,
                    "district": JIZHOU,
                    "community": "光明社区",
                    "kind": "notice",
                    "title": "测评会通知",
                    "body": "10月12日召开测评会",
                    "actor": ACTOR,
                }
            )
        ]
    )
    return folded(log)


def withdrawal(announcement_id: str = "a1", district: str = JIZHOU) -> dict[str, Any]:
    return {
        "announcement_id": announcement_id,
        "district": district,
        "reason": "录入有误",
        "actor": ACTOR,
    }


def test_a_new_subscription_goes_to_its_own_stream_which_must_not_exist_yet() -> None:
    decided = domain.subscribe("s1", {"district": JIZHOU, "url": "http://x/", "event_types": ["#"]})

    assert decided.stream == "subscription-s1"
    assert decided.expected_version == NO_STREAM
    assert [(e.type, e.schema_version) for e in decided.events] == [("WebhookSubscribed", 2)]
    assert decided.events[0].data["subscription_id"] == "s1"


def test_unsubscribing_expects_the_subscription_stream_at_the_version_it_was_decided_on() -> None:
    log = InMemoryEventLog("notify", payload_schemas=payloads)
    state = subscribed(log)

    decided = state.unsubscribe({"subscription_id": "s1", "district": JIZHOU})
    log.append_batch([decided])

    assert decided.stream == "subscription-s1"
    assert decided.expected_version == 1
    assert [e.type for e in decided.events] == ["WebhookUnsubscribed"]
    assert folded(log).subscriptions == {}


def test_another_districts_subscription_or_an_ended_one_is_not_found() -> None:
    log = InMemoryEventLog("notify", payload_schemas=payloads)
    state = subscribed(log)
    log.append_batch([state.unsubscribe({"subscription_id": "s1", "district": JIZHOU})])

    with pytest.raises(NotFound):
        state.unsubscribe({"subscription_id": "s1", "district": QINGYUAN})
    with pytest.raises(NotFound):
        folded(log).unsubscribe({"subscription_id": "s1", "district": JIZHOU})


def test_an_announcement_keeps_the_id_it_was_given_or_gets_a_new_one_on_a_new_stream() -> None:
    notice = {"district": JIZHOU, "community": "光明社区", "kind": "notice", "title": "t"}

    given = domain.publish_announcement({**notice, "announcement_id": "a1"})
    new = domain.publish_announcement(notice)

    assert given.stream == "announcement-a1"
    assert given.events[0].data["announcement_id"] == "a1"
    assert new.stream == f"announcement-{new.events[0].data['announcement_id']}"
    assert given.expected_version == new.expected_version == NO_STREAM
    assert [(e.type, e.schema_version) for e in given.events] == [("AnnouncementPublished", 3)]


def test_an_announcement_id_already_published_is_refused_by_its_stream() -> None:
    log = InMemoryEventLog("notify", payload_schemas=payloads)
    published(log)

    with pytest.raises(ConcurrencyError):
        published(log)


def test_withdrawing_expects_the_announcement_stream_at_the_version_it_was_decided_on() -> None:
    log = InMemoryEventLog("notify", payload_schemas=payloads)
    state = published(log)

    decided = state.withdraw_announcement(withdrawal())
    log.append_batch([decided])

    assert decided.stream == "announcement-a1"
    assert decided.expected_version == 1
    assert [(e.type, e.schema_version) for e in decided.events] == [("AnnouncementWithdrawn", 3)]
    assert folded(log).announcements["a1"]["withdrawn"]["reason"] == "录入有误"


def test_an_announcement_already_withdrawn_is_refused() -> None:
    log = InMemoryEventLog("notify", payload_schemas=payloads)
    log.append_batch([published(log).withdraw_announcement(withdrawal())])

    with pytest.raises(Refused, match="already withdrawn"):
        folded(log).withdraw_announcement(withdrawal())


def test_another_districts_announcement_or_an_unknown_one_is_not_found() -> None:
    state = published(InMemoryEventLog("notify", payload_schemas=payloads))

    with pytest.raises(NotFound):
        state.withdraw_announcement(withdrawal(district=QINGYUAN))
    with pytest.raises(NotFound):
        state.withdraw_announcement(withdrawal("a2"))


def test_a_withdrawal_decided_on_a_state_that_has_since_moved_is_refused_by_the_log() -> None:
    log = InMemoryEventLog("notify", payload_schemas=payloads)
    stale = published(log)
    log.append_batch([folded(log).withdraw_announcement(withdrawal())])

    with pytest.raises(ConcurrencyError):
        log.append_batch([stale.withdraw_announcement(withdrawal())])
    assert len(log.read_stream("announcement-a1")) == 2


def test_contacts_replace_what_was_set_whatever_its_version_one_stream_per_district() -> None:
    jizhou = domain.set_community_contacts(
        {"district": JIZHOU, "community": "光明社区", "emails": ["sq@jz.cn"]}
    )
    qingyuan = domain.set_community_contacts(
        {"district": QINGYUAN, "community": "光明社区", "emails": ["sq@qy.cn"]}
    )
    alerts = domain.set_district_contacts({"district": JIZHOU, "emails": ["zzb@jz.gov.cn"]})

    assert jizhou.stream == domain.contacts_stream(JIZHOU, "光明社区")
    assert jizhou.stream != qingyuan.stream
    assert jizhou.stream.isascii() and alerts.stream.isascii()
    assert alerts.stream == domain.district_contacts_stream(JIZHOU)
    assert jizhou.expected_version == alerts.expected_version == ANY_VERSION
    assert [e.type for e in (*jizhou.events, *alerts.events)] == [
        "CommunityContactsSet",
        "DistrictContactsSet",
    ]


def test_the_same_tamper_finding_reported_twice_is_one_alert_on_its_logs_alert_stream() -> None:
    finding = {
        "log": "ballot",
        "position": 42,
        "stream": "meeting-m1",
        "problem": "hash mismatch",
        "detail": "stored hash differs",
        "detected_by": "audit",
    }
    log = InMemoryEventLog("notify", payload_schemas=payloads)

    first = domain.tamper_alert(finding)
    log.append_batch([first])
    log.append_batch([domain.tamper_alert(finding)])

    assert first.stream == "alert-ballot"
    assert first.expected_version == ANY_VERSION
    assert [e.type for e in log.read_all()] == ["TamperDetected"]
    assert finding["detected_by"] == "audit"


def test_a_dead_letter_query_lists_dead_deliveries_and_may_ask_for_no_other_status() -> None:
    assert domain.dead_letter_status(None) == domain.DEAD
    assert domain.dead_letter_status(domain.DEAD) == domain.DEAD
    with pytest.raises(Refused):
        domain.dead_letter_status(domain.PENDING)
