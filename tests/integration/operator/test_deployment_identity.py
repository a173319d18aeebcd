"""One vhost serves one deployment at a time: a service of another refuses to start, naming
both; `qunping infra status` and `qunping run` say what runs and what to do about it."""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from qunping.operator import infra
from qunping.operator.launcher import REFUSES_TO_START, answers_readyz
from tests.integration.operator.local_run import REPOSITORY, running


class Deployments:
    """Service processes of deployments told apart by their database prefix."""

    def __init__(self, amqp_uri: str, mongo_uri: str, mongo: MongoClient[Any], logs: Path):
        self.amqp_uri, self.mongo_uri, self.mongo, self.logs = amqp_uri, mongo_uri, mongo, logs
        self.prefixes: list[str] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    def new(self) -> str:
        prefix = f"t{uuid.uuid4().hex[:8]}_"
        self.prefixes.append(prefix)
        return prefix

    def environ(self, prefix: str, **more: str) -> dict[str, str]:
        return {
            **os.environ,
            "AMQP_URI": self.amqp_uri,
            "MONGO_URI": self.mongo_uri,
            "QUNPING_DB_PREFIX": prefix,
            **more,
        }

    def start(self, name: str, prefix: str) -> tuple[subprocess.Popen[bytes], int]:
        port = infra.free_port()
        with (self.logs / f"{prefix}{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "qunping", "service", name],
                cwd=REPOSITORY,
                env=self.environ(prefix, QUNPING_HTTP_PORT=str(port)),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process, port

    def log(self, name: str, prefix: str) -> str:
        return (self.logs / f"{prefix}{name}.log").read_text(errors="replace")

    def identity(self, prefix: str) -> str:
        document = self.mongo[f"{prefix}deployment"]["identity"].find_one()
        assert document is not None, f"no identity stored for {prefix}"
        return str(document["deployment_id"])

    def qunping(
        self, prefix: str, *arguments: str, **more: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "qunping", *arguments],
            cwd=REPOSITORY,
            env=self.environ(prefix, **more),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


@pytest.fixture
def deployments(
    amqp_uri: str, mongo_uri: str, mongo_client: MongoClient[Any], tmp_path: Path
) -> Iterator[Deployments]:
    made = Deployments(amqp_uri, mongo_uri, mongo_client, tmp_path)
    yield made
    for process in made.processes:
        made.stop(process)
    for name in mongo_client.list_database_names():
        if any(name.startswith(prefix) for prefix in made.prefixes):
            mongo_client.drop_database(name)


def wait_ready(process: subprocess.Popen[bytes], port: int, log: Any) -> None:
    deadline = time.monotonic() + 120
    while not answers_readyz(port):
        assert process.poll() is None, log()
        assert time.monotonic() < deadline, log()
        time.sleep(0.3)


def test_a_service_refuses_a_vhost_that_serves_another_deployment_and_names_both(
    deployments: Deployments,
) -> None:
    first, second = deployments.new(), deployments.new()
    ballot, port = deployments.start("ballot", first)
    wait_ready(ballot, port, lambda: deployments.log("ballot", first))

    refused, _ = deployments.start("tally", second)

    assert refused.wait(timeout=120) == REFUSES_TO_START
    said = deployments.log("tally", second)
    assert deployments.identity(first) in said and deployments.identity(second) in said, said
    assert "vhost of its own" in said

    same, same_port = deployments.start("tally", first)
    wait_ready(same, same_port, lambda: deployments.log("tally", first))

    deployments.stop(ballot)
    deployments.stop(same)
    again, again_port = deployments.start("tally", second)
    wait_ready(again, again_port, lambda: deployments.log("tally", second))


def test_status_and_run_say_what_a_previous_run_left_and_infra_down_stops_it(
    deployments: Deployments, tmp_path: Path
) -> None:
    left, other = deployments.new(), deployments.new()
    ballot, port = deployments.start("ballot", left)
    wait_ready(ballot, port, lambda: deployments.log("ballot", left))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    home = tmp_path / "home"
    home.mkdir()
    (home / "run.json").write_text(
        json.dumps(
            {
                "launcher": int(gone.stdout),  # a launcher that was killed
                "started_at": "2026-12-01T09:00:00+08:00",
                "services": {"ballot": {"pid": ballot.pid, "port": port}},
            }
        )
    )

    status = deployments.qunping(left, "infra", "status", QUNPING_HOME=str(home))

    assert "left over from a run since 2026-12-01T09:00:00+08:00" in status.stdout
    assert f"ballot pid {ballot.pid}" in status.stdout and "`qunping infra down`" in status.stdout
    assert f"deployment {deployments.identity(left)}" in status.stdout
    assert "serves it (1 service processes)" in status.stdout

    elsewhere = {"QUNPING_HOME": str(tmp_path / "elsewhere")}
    status = deployments.qunping(other, "infra", "status", **elsewhere)
    assert f"serves ANOTHER deployment, {deployments.identity(left)}" in status.stdout

    refused = deployments.qunping(other, "run", "--no-sample", **elsewhere)
    assert refused.returncode == 1
    assert deployments.identity(left) in refused.stderr
    assert deployments.identity(other) in refused.stderr, "run names this deployment too"

    down = deployments.qunping(left, "infra", "down", QUNPING_HOME=str(home))
    assert f"stopped the services a previous run left running: ballot (pid {ballot.pid})" in (
        down.stdout
    )
    ballot.wait(timeout=5)
    assert not running(ballot.pid)
    status = deployments.qunping(left, "infra", "status", QUNPING_HOME=str(home))
    assert f"services  none running from {home}" in status.stdout
    assert "serves no deployment now" in status.stdout
