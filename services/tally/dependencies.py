"""The tally's projection runner, wired to the ballot service and to the tally's own log.

Ballot events arrive by message (`deliver`); anything missed is read from the ballot log
over RPC (`read_log`), on start, on a gap and on a timer. Marks of a closed meeting come
from `meeting_ballots`, which the ballot service refuses while voting is open.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

from qunping.core.dependencies import EventLogDependency
from qunping.core.envelope import NewEvent, RecordedEvent, from_cloudevent
from qunping.core.errors import QunpingError
from qunping.core.projection import ProjectionRunner
from qunping.core.tamper import TamperDetected, Tampered
from services.tally.events import payloads
from services.tally.projection import TallyProjection

SOURCE = "ballot"
PAGE = 500


class Tally:
    """What a tally worker uses: the runner, the read models, the tally log."""

    def __init__(self, runner: ProjectionRunner, dependency: TallyDependency) -> None:
        self.runner = runner
        self.database = dependency.database
        self.log = dependency.log


class TallyDependency(EventLogDependency):
    def __init__(self) -> None:
        super().__init__(payloads, sign_after={"ResultsPublished"})

    def setup(self) -> None:
        super().setup()
        self._proxy: Any = None
        self._proxy_runner: Any = None
        projection = TallyProjection(self._ballots_of, self._publish)
        self.runner = ProjectionRunner(
            self.database,
            projection,
            self._read_ballot_log,
            source_log=SOURCE,
            on_tamper=self._alert,
        )

    def start(self) -> None:
        super().start()
        self.metrics.add_readings(self.runner.readings)
        self._start_proxy()

    def stop(self) -> None:
        self.metrics.remove_readings(self.runner.readings)
        self._stop_proxy()
        super().stop()

    def kill(self) -> None:
        self.metrics.remove_readings(self.runner.readings)
        super().kill()

    def _start_proxy(self) -> None:
        self._proxy_runner = ClusterRpcProxy(self.container.config, timeout=30)
        self._proxy = self._proxy_runner.start()

    def _stop_proxy(self) -> None:
        proxy_runner, self._proxy, self._proxy_runner = self._proxy_runner, None, None
        if proxy_runner is None:
            return
        with contextlib.suppress(Exception):  # its connection may be gone with the broker
            proxy_runner.stop()

    def _call_ballot(self, method: str, payload: dict[str, Any]) -> Any:
        """nameko's standalone proxy is unusable for good once its connection drops (its
        reply queue went with the broker): a failed call replaces it, and the caller (a
        requeued message, the catch-up timer) tries again with the new one."""
        if self._proxy is None:
            self._start_proxy()
        try:
            return getattr(self._proxy[SOURCE], method)(payload)
        except QunpingError:
            raise
        except Exception:
            self._stop_proxy()
            raise

    def get_dependency(self, worker_ctx: Any) -> Tally:  # type: ignore[override]
        return Tally(self.runner, self)

    def _read_ballot_log(self, after: int) -> Iterator[RecordedEvent]:
        while True:
            page = self._call_ballot("read_log", {"after": after, "limit": PAGE})["events"]
            yield from (from_cloudevent(event) for event in page)
            if len(page) < PAGE:
                return
            after = page[-1]["position"]

    def _ballots_of(self, meeting_id: str) -> list[list[dict[str, str]]]:
        try:
            reply = self._call_ballot("meeting_ballots", {"meeting_id": meeting_id})
        except Tampered as refused:  # the ballot service re-hashed a ballot and it failed
            raise refused.found from None
        return [ballot["marks"] for ballot in reply["ballots"]]

    def _alert(self, found: TamperDetected) -> None:
        """The public alert (notify mails it to the district); idempotent by its id."""
        self.log.append(
            f"alert-{found.log}", [found.alert(detected_by=self.container.service_name)]
        )

    def _publish(self, stream: str, event: NewEvent) -> None:
        self.log.append(stream, [event])
