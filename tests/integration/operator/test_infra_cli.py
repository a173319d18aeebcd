"""`qunping infra up|down|status` as an operator runs it: idempotent, and data survives."""

import os
import subprocess
import sys
import time
from pathlib import Path

from pymongo import MongoClient

from qunping.operator.infra import free_port
from tests.integration.operator.local_run import running


def qunping(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qunping", *args],
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


def test_infra_up_is_idempotent_and_mongodb_data_survives_a_restart(
    tmp_path: Path, amqp_uri: str
) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("MONGO_URI",)},
        "QUNPING_HOME": str(tmp_path / "home"),
        "QUNPING_MONGO_PORT": str(port),
        "AMQP_URI": amqp_uri,
    }
    uri = f"mongodb://127.0.0.1:{port}/?directConnection=true"
    try:
        first = qunping("infra", "up", env=env)
        assert first.returncode == 0, first.stderr
        assert "started secantusd-py" in first.stdout and "rabbitmq  up" in first.stdout
        again = qunping("infra", "up", env=env)
        assert again.returncode == 0 and "started secantusd-py" not in again.stdout, (
            "twice does no harm"
        )
        with MongoClient(uri) as client:
            client.survivors.notes.insert_one({"_id": "光明社区"})

        status = qunping("infra", "status", env=env)
        assert status.returncode == 0 and f"127.0.0.1:{port}" in status.stdout

        assert "stopped secantusd-py" in qunping("infra", "down", env=env).stdout
        assert "left running" in qunping("infra", "down", env=env).stdout, (
            "a broker found running stays"
        )
        down = qunping("infra", "status", env=env)
        assert down.returncode == 1 and "mongodb   DOWN" in down.stdout

        assert qunping("infra", "up", "--only", "mongodb", env=env).returncode == 0
        with MongoClient(uri) as client:
            assert client.survivors.notes.find_one({"_id": "光明社区"}) is not None
    finally:
        qunping("infra", "down", env=env)
    assert (tmp_path / "home" / "mongo-data").is_dir()


def test_a_server_a_test_run_owns_stops_when_the_run_is_killed(tmp_path: Path) -> None:
    starter = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from qunping.operator import infra; "
            "p = infra.start_secantus(infra.free_port(), Path(sys.argv[1]) / 'data', "
            "Path(sys.argv[1]) / 'mongodb.log', outlive_starter=False); "
            "print(p.pid, flush=True); time.sleep(600)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starter.stdout is not None
    server_pid = int(starter.stdout.readline())
    assert Path(f"/proc/{server_pid}").exists()

    starter.kill()  # as CI's timeout or an operator's kill -9 would
    starter.wait()

    deadline = time.monotonic() + 30
    while running(server_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not running(server_pid), "the server outlived the run that owned it"
