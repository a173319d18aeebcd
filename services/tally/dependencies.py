"""The tally's projection runner, wired to the ballot service and to the tally's own log.

Ballot events arrive by message (`deliver`); anything missed is read from the ballot log
over RPC (`read_log`), on start, on a gap and on a timer. Marks of a closed meeting come
from `meeting_ballots`, which the ballot service refuses while voting is open.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

from qunping.core.dependencies import EventLogDependency
from qunping.core.envelope import NewEvent, RecordedEvent, from_cloudevent
from qunping.core.projection import ProjectionRunner
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
        super().__init__(payloads)

    def setup(self) -> None:
        super().setup()
        self._proxy: Any = None
        projection = TallyProjection(self._ballots_of, self._publish)
        self.runner = ProjectionRunner(
            self.database, projection, self._read_ballot_log, source_log=SOURCE
        )

    def start(self) -> None:
        super().start()
        self._proxy_runner = ClusterRpcProxy(self.container.config, timeout=30)
        self._proxy = self._proxy_runner.start()

    def stop(self) -> None:
        if self._proxy is not None:
            self._proxy_runner.stop()
        super().stop()

    def get_dependency(self, worker_ctx: Any) -> Tally:  # type: ignore[override]
        return Tally(self.runner, self)

    def _read_ballot_log(self, after: int) -> Iterator[RecordedEvent]:
        while True:
            page = self._proxy[SOURCE].read_log({"after": after, "limit": PAGE})["events"]
            yield from (from_cloudevent(event) for event in page)
            if len(page) < PAGE:
                return
            after = page[-1]["position"]

    def _ballots_of(self, meeting_id: str) -> list[list[dict[str, str]]]:
        reply = self._proxy[SOURCE].meeting_ballots({"meeting_id": meeting_id})
        return [event["data"]["marks"] for event in reply["ballots"]]

    def _publish(self, stream: str, event: NewEvent) -> None:
        self.log.append(stream, [event])
