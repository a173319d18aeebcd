"""`qunping infra up|down|status` as an operator runs it: idempotent, and data survives."""

import os
import subprocess
import sys
from pathlib import Path

from pymongo import MongoClient

from qunping.infra import free_port


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
