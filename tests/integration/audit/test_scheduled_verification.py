"""The audit service verifies every log with nobody asking, and raises the public alert."""

import time
from collections.abc import Callable
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

from services.audit.service import AuditService
from services.audit.sources import Sources
from services.notify.service import NotifyService
from tests.integration.audit.test_audit_verify import ballots

PERIOD_SECONDS = 1


def test_the_timer_catches_an_altered_ballot_within_its_period_and_mails_the_district(
    sources: Sources, container_factory: Callable[..., Any], nameko_config: dict[str, Any]
) -> None:
    config = {
        **nameko_config,
        "QUNPING_DB_PREFIX": sources.prefix,
        "QUNPING_VERIFY_SECONDS": PERIOD_SECONDS,
        "QUNPING_DISTRICT_EMAILS": "zzb@jizhou.example",
    }
    container_factory(NotifyService, config).start()
    container_factory(AuditService, config).start()
    ballot = ballots(sources)[0]
    sources.log("ballot").collection.update_one(
        {"_id": ballot.position}, {"$set": {"events.0.data.marks.0.value": "不满意"}}
    )
    altered_at = time.monotonic()

    with ClusterRpcProxy(config, timeout=30) as cluster:
        alerts: list[dict[str, Any]] = []
        while not alerts:
            assert time.monotonic() - altered_at < 30, "no alert went out"
            time.sleep(0.2)
            feed = cluster.notify.public_feed({"after": 0, "limit": 500})["events"]
            alerts = [e for e in feed if e["type"] == "qunping.notify.TamperDetected"]
        caught_after = time.monotonic() - altered_at
        emails: list[dict[str, Any]] = []
        while not emails:
            assert time.monotonic() - altered_at < 30, "the district was not mailed"
            time.sleep(0.2)
            emails = [e for e in cluster.notify.emails({}) if "篡改警报" in e["subject"]]

    [alert] = alerts
    assert alert["data"]["position"] == ballot.position
    assert (alert["data"]["problem"], alert["data"]["detected_by"]) == ("altered", "audit")
    assert caught_after < PERIOD_SECONDS + 10
    assert emails[0]["to"] == ["zzb@jizhou.example"]
