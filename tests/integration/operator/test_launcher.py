"""`qunping run` with real processes: stopping, being killed, restarting a dead service.

Each test runs the launcher as a person does (`qunping run`, in a session of its own as a
terminal's job), every service a real process on the test run's broker and MongoDB."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from nameko.standalone.rpc import ClusterRpcProxy

from tests.actors import Acting
from tests.integration.ballot.test_ballot_service import marks, meeting_ready
from tests.integration.operator.local_run import LocalRun, port_free, running

ALL_GONE_SECONDS = 20


@pytest.fixture
def local_run(
    tmp_path: Path, amqp_uri: str, mongo_uri: str, nameko_config: dict[str, Any]
) -> Iterator[LocalRun]:
    run = LocalRun(
        tmp_path / "home",
        {
            "AMQP_URI": amqp_uri,
            "MONGO_URI": mongo_uri,
            "QUNPING_DB_PREFIX": nameko_config["QUNPING_DB_PREFIX"],
        },
    )
    yield run
    run.stop()


def assert_all_gone(run: LocalRun, pids: dict[str, int]) -> None:
    left = {name: pid for name, pid in pids.items() if running(pid)}
    assert not left, f"services left running: {left}"
    taken = [port for port in run.ports.values() if not port_free(port)]
    assert not taken, f"ports still taken: {taken}"


def assert_a_second_run_starts_cleanly(run: LocalRun) -> None:
    run.start()
    run.wait_ready()
    assert "left over" not in run.output() and "already running" not in run.output()


@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGHUP, False)],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_ctrl_c_sigterm_and_sighup_stop_every_service_within_20_seconds_and_exit_zero(
    local_run: LocalRun, signum: int, to_group: bool
) -> None:
    local_run.start()
    local_run.wait_ready()
    pids = local_run.services()
    assert len(pids) == 6

    began = time.monotonic()
    local_run.send(signum, to_group=to_group)
    assert local_run.process is not None
    returncode = local_run.process.wait(timeout=60)
    took = time.monotonic() - began

    assert returncode == 0, local_run.output()
    assert took < ALL_GONE_SECONDS, f"took {took:.1f} s:\n{local_run.output()}"
    assert_all_gone(local_run, pids)
    assert "Stopped ballot, tally, notify, pledge, audit, gateway" in local_run.output()
    assert_a_second_run_starts_cleanly(local_run)


def test_a_launcher_killed_outright_takes_its_services_with_it(local_run: LocalRun) -> None:
    local_run.start()
    local_run.wait_ready()
    pids = local_run.services()
    beside = subprocess.run(
        [sys.executable, "-m", "qunping", "run", "--no-sample"],
        env=local_run.environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert beside.returncode == 1 and "already running from" in beside.stderr, beside.stderr

    local_run.send(signal.SIGKILL)

    deadline = time.monotonic() + ALL_GONE_SECONDS
    while any(running(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert_all_gone(local_run, pids)
    assert_a_second_run_starts_cleanly(local_run)


def test_a_killed_service_is_started_again_and_takes_ballots_while_the_others_run_on(
    local_run: LocalRun, amqp_uri: str
) -> None:
    local_run.start()
    local_run.wait_ready()
    pids = local_run.services()
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=60) as cluster:
        ballot = Acting(cluster.ballot)
        meeting_id, tokens = meeting_ready(ballot, tokens=2)
        ballot.open_voting({"meeting_id": meeting_id})
        cast = {"meeting_id": meeting_id, "marks": marks()}
        ballot.cast_ballot({**cast, "token": tokens[0]})

        os.kill(pids["ballot"], signal.SIGKILL)
        local_run.wait_for_output("ballot was killed by SIGKILL; starting it again in 1 s")
        local_run.wait_for_output("ballot is running again (restart 1)")

        ballot.cast_ballot({**cast, "token": tokens[1]})
        deadline = time.monotonic() + 60
        while cluster.tally.board({"meeting_id": meeting_id})["returned"] != 2:
            assert time.monotonic() < deadline, "the tally did not count both ballots"
            time.sleep(0.3)

    after = local_run.services()
    assert after["ballot"] != pids["ballot"]
    assert {n: p for n, p in after.items() if n != "ballot"} == {
        n: p for n, p in pids.items() if n != "ballot"
    }, "the others kept running"
    ballot_log = (local_run.home / "logs" / "ballot.log").read_text()
    assert "qunping.run: ballot was killed by SIGKILL; starting it again in 1 s" in ballot_log


def test_a_service_that_keeps_dying_at_start_is_given_up_on_with_its_reason(
    local_run: LocalRun,
) -> None:
    local_run.environ["QUNPING_WEBHOOK_MAX_ATTEMPTS"] = "0"  # notify alone refuses it
    local_run.start()

    local_run.wait_for_output("notify keeps dying at start (5 times in a row)", seconds=180)

    output = local_run.output()
    for delay in (1, 2, 4, 8):
        assert f"notify exited with status 1; starting it again in {delay} s" in output
    assert "QUNPING_WEBHOOK_MAX_ATTEMPTS" in output, "the reason, from its log"
    assert local_run.process is not None and local_run.process.poll() is None
    local_run.send(signal.SIGTERM)
    assert local_run.process.wait(timeout=60) == 0
    assert "Stopped ballot, tally, pledge, audit, gateway" in local_run.output()
