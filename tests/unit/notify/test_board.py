from datetime import UTC, datetime

from qunping.core.envelope import NewEvent
from qunping.core.memory_eventlog import InMemoryEventLog
from services.notify.districts import EVERY_DISTRICT, UNKNOWN, Concern
from services.notify.domain import NotifyState
from services.notify.events import payloads

JIZHOU, QINGYUAN = "吉州区", "青原区"


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

    assert [n["announcement_id"] for n in state.board(None, "c1", False)] == ["a3", "a1"]
    assert [n["announcement_id"] for n in state.board(None, "c1", True)] == ["a3", "a2", "a1"]
    assert state.board(None, "c1", True)[1]["withdrawn"]["reason"] == "录入有误"
    assert [n["announcement_id"] for n in state.board(None, None, False)] == ["b1", "a3", "a1"]


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

    assert [s.subscription_id for s in state.subscribers_of("ballot.MeetingClosed", JIZHOU)] == [
        "s2"
    ]
    assert state.subscribers_of("pledge.PledgeSigned", JIZHOU) == []
    assert state.position == 3


def district_log() -> InMemoryEventLog:
    """Two districts, each with a 光明社区 with contacts, alert addresses and a webhook."""
    log = InMemoryEventLog("notify", payload_schemas=payloads)
    for district, short in ((JIZHOU, "jz"), (QINGYUAN, "qy")):
        log.append(
            f"subscription-{short}",
            [
                NewEvent(
                    "WebhookSubscribed",
                    {
                        "subscription_id": short,
                        "url": "http://x/",
                        "event_types": ["#"],
                        "district": district,
                    },
                    schema_version=2,
                )
            ],
        )
        contacts = {"community": "光明社区", "emails": [f"sq@{short}.cn"], "district": district}
        log.append(
            f"contacts-{short}", [NewEvent("CommunityContactsSet", contacts, schema_version=2)]
        )
        alerts = {"district": district, "emails": [f"zzb@{short}.gov.cn"]}
        log.append(f"district-contacts-{short}", [NewEvent("DistrictContactsSet", alerts)])
        published = {**notice(f"n-{short}", "光明社区"), "kind": "notice", "district": district}
        log.append(
            f"announcement-n-{short}",
            [NewEvent("AnnouncementPublished", {**published, "actor": None}, schema_version=3)],
        )
    return log


def test_a_districts_board_shows_its_own_notices_and_none_recorded_before_districts() -> None:
    log = district_log()
    log.append("announcement-old", [NewEvent("AnnouncementPublished", notice("old", "光明社区"))])

    state = folded(log)

    assert [n["announcement_id"] for n in state.board(JIZHOU, "光明社区", False)] == ["n-jz"]
    assert [n["announcement_id"] for n in state.board(QINGYUAN, None, False)] == ["n-qy"]
    assert state.announcements["old"]["district"] is None
    assert state.announcements["old"]["actor"] is None
    assert len(state.board(None, "光明社区", False)) == 3


def test_a_districts_subscription_is_offered_its_own_and_deployment_wide_events_only() -> None:
    state = folded(district_log())

    def offered(concern: Concern) -> list[str]:
        return [s.subscription_id for s in state.subscribers_of("ballot.VotingClosed", concern)]

    assert offered(JIZHOU) == ["jz"]
    assert offered(QINGYUAN) == ["qy"]
    assert offered(EVERY_DISTRICT) == ["jz", "qy"]
    assert offered(UNKNOWN) == []
    assert [s.subscription_id for s in state.subscriptions_of(JIZHOU)] == ["jz"]


def test_a_communitys_mail_goes_to_the_contacts_of_the_same_named_community_of_its_district() -> (
    None
):
    state = folded(district_log())

    assert state.mail_to("community_contacts", JIZHOU, "光明社区", ()) == [(JIZHOU, ["sq@jz.cn"])]
    assert state.mail_to("community_contacts", QINGYUAN, "光明社区", ()) == [
        (QINGYUAN, ["sq@qy.cn"])
    ]
    assert state.mail_to("community_contacts", UNKNOWN, "光明社区", ()) == []


def test_alerts_go_to_their_districts_addresses_and_whole_log_alerts_to_every_district_apart() -> (
    None
):
    state = folded(district_log())
    platform = ("ops@platform.cn",)

    assert state.mail_to("district", JIZHOU, "光明社区", platform) == [(JIZHOU, ["zzb@jz.gov.cn"])]
    assert state.mail_to("district", EVERY_DISTRICT, "", platform) == [
        (None, ["ops@platform.cn"]),
        (JIZHOU, ["zzb@jz.gov.cn"]),
        (QINGYUAN, ["zzb@qy.gov.cn"]),
    ]
    assert state.mail_to("district", UNKNOWN, "光明社区", platform) == [(None, ["ops@platform.cn"])]
    assert state.mail_to("district", "永丰县", "光明社区", platform) == [("永丰县", [])]
