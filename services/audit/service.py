"""The audit service: the auditors' tools over RPC, for the web gateway's auditor page,
and verification of every log with nobody asking.

It reads every service's database directly, as the `qunping audit` commands do, and
writes only to its one scratch database (`{prefix}audit_scratch`), one replay at a time,
emptied after each; so its MongoDB user needs `read` on the logs and `readWrite` there.

It verifies every log every `QUNPING_VERIFY_SECONDS` (default hourly) and at each
meeting's close; a failure becomes the public `TamperDetected` alert, which notify
records (the audit writes no log) and mails to the district.
"""

from __future__ import annotations

import logging
from typing import Any

from nameko.events import SERVICE_POOL, event_handler
from nameko.rpc import RpcProxy, rpc

from qunping.core.health import HealthEndpoints
from qunping.core.schemas import load
from services.audit import schemas
from services.audit.bundle import VERIFIER, bundle_jsonl
from services.audit.dependencies import AuditSources, configured_timer
from services.audit.notice import render_notice
from services.audit.replay import Scope, replay
from services.audit.sources import Sources
from services.audit.verify import announced_keys, verify_all

log = logging.getLogger(__name__)


class AuditService(HealthEndpoints):
    name = "audit"
    sources: Sources = AuditSources()
    notify: Any = RpcProxy("notify")

    @configured_timer("QUNPING_VERIFY_SECONDS", 3600)
    def verify_on_schedule(self) -> None:
        self._verify_and_alert()

    @event_handler("ballot", "VotingClosed", handler_type=SERVICE_POOL)
    def verify_at_close(self, cloudevent: dict[str, Any]) -> None:
        self._verify_and_alert()

    def _verify_and_alert(self) -> None:
        for report in verify_all(self.sources):
            if report.broken is None:
                continue
            log.error("log %r is broken: %s", report.log, report.broken)
            self.notify.report_tampering(
                {
                    "log": report.log,
                    "position": report.broken.position,
                    "stream": report.broken.stream,
                    "problem": report.broken.problem,
                    "detail": report.broken.detail,
                    "detected_by": self.name,
                }
            )

    @rpc
    def verify(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Every log's chain; `broken` names the first broken link of a log, if any."""
        load(schemas.NoArguments(), payload)
        return {
            "logs": [
                {
                    "log": report.log,
                    "checked": report.checked,
                    "head": {"position": report.head.position, "hash": report.head.hash},
                    "ok": report.ok,
                    "broken": None if report.broken is None else str(report.broken),
                    "signed_to": report.signed_to,
                }
                for report in verify_all(self.sources)
            ]
        }

    @rpc
    def keys(self, payload: dict[str, Any]) -> dict[str, Any]:
        """The public keys each log announced for its signed checkpoints, in log order."""
        load(schemas.NoArguments(), payload)
        return {"logs": announced_keys(self.sources)}

    @rpc
    def replay(self, payload: dict[str, Any]) -> dict[str, Any]:
        query = load(schemas.Replay(), payload)
        scope = Scope(
            campaign=query.get("campaign_id"),
            meeting=query.get("meeting_id"),
            district=query.get("district"),
        )
        return replay(self.sources, as_of=query.get("as_of"), scope=scope).as_dict()

    @rpc
    def export_bundle(self, payload: dict[str, Any]) -> dict[str, str]:
        """The bundle as JSON Lines text, and the standalone verifier's source."""
        query = load(schemas.ExportBundle(), payload)
        scope = Scope(campaign=query.get("campaign_id"), meeting=query.get("meeting_id"))
        bundle = "".join(bundle_jsonl(self.sources, scope))
        return {"bundle": bundle, "verifier": VERIFIER.read_text(encoding="utf-8")}

    @rpc
    def notice(self, payload: dict[str, Any]) -> dict[str, str]:
        """The printable 公示 of a meeting, as HTML."""
        meeting_id = load(schemas.MeetingRef(), payload)["meeting_id"]
        return {"html": render_notice(self.sources, meeting_id)}
