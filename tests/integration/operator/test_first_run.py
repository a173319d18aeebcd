"""The first `qunping run` prints the sample district's figures, exactly the seed's, and only
once the tally has counted every meeting and graded every community."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from nameko.standalone.rpc import ClusterRpcProxy

from qunping.operator import sample
from services.ballot.service import BallotService
from services.tally.service import TallyService

SUMMARY = [
    "吉州区 2011 第一批试点社区: 15 meetings",
    "  满意率 社区两委班子      95.94%  (4797/5000; mean of communities 95.94%)",
    "  满意率 党支部书记       96.00%  (4320/4500; mean of communities 96.00%)",
    "  满意率 社区服务        97.00%  (873/900; mean of communities 97.00%)",
    "  优秀率 选聘生         96.50%  (3474/3600; mean of communities 96.50%)",
    "  双评 grades: 示范 12, 标准 3",
]


def test_the_first_run_prints_the_seeds_figures_once_every_meeting_is_counted(
    container_factory: Callable[..., Any], nameko_config: dict[str, Any], tmp_path: Path
) -> None:
    container_factory(BallotService, nameko_config).start()
    tally = container_factory(TallyService, nameko_config)
    last_community = sample.COMMUNITIES[-1][0]
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        if line.startswith(f"{last_community}:"):
            # The tally starts only now: it has the whole log to catch up on while the
            # launcher waits, as a tally that lags behind the casting would.
            tally.start()

    marker = tmp_path / "sample-campaign"
    with ClusterRpcProxy(nameko_config, timeout=120) as cluster:
        summary = sample.first_run(cluster, marker, say)
        assert summary is not None
        printed = "\n".join(said).splitlines()
        for line in SUMMARY:
            assert line in printed, "\n".join(said)

        said.clear()
        sample.first_run(cluster, marker, say)

    assert not any(line.startswith("Loading") for line in said), "loaded once only"
    assert all(line in "\n".join(said).splitlines() for line in SUMMARY)
