"""SIGTERM, as Kubernetes sends it to PID 1 on a rolling update, drains the running handler:
it finishes, its caller gets the reply, the request is acknowledged, the process exits 0."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import kombu
from nameko.exceptions import UnknownService
from nameko.standalone.rpc import ClusterRpcProxy
from pymongo import MongoClient

from qunping.operator import infra
from tests.integration.operator.drainable_service import NAME

REPOSITORY = Path(__file__).resolve().parents[3]


def wait_until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def answers_ping(cluster: Any) -> bool:
    try:
        return bool(cluster.drainable.ping() == "pong")
    except UnknownService:
        return False


def test_sigterm_while_a_handler_runs_lets_it_finish_reply_and_exit_zero(
    amqp_uri: str, mongo_uri: str, mongo_client: MongoClient[dict[str, Any]], tmp_path: Path
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}_"
    log_path = tmp_path / "service.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.operator.drainable_service", "service", NAME],
            cwd=REPOSITORY,
            env={
                **os.environ,
                "AMQP_URI": amqp_uri,
                "MONGO_URI": mongo_uri,
                "QUNPING_DB_PREFIX": prefix,
                "QUNPING_HTTP_PORT": str(infra.free_port()),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}) as cluster:
            wait_until(lambda: answers_ping(cluster), 30, "the service to consume RPC")
            reply = cluster.drainable.slow.call_async("ballot-7")
            started = mongo_client[f"{prefix}{NAME}"].started
            wait_until(lambda: started.find_one({"token": "ballot-7"}), 10, "the handler")

            process.send_signal(signal.SIGTERM)

            assert reply.result() == "finished ballot-7"
        assert process.wait(timeout=30) == 0, log_path.read_text()
    finally:
        if process.poll() is None:
            process.kill()
        mongo_client.drop_database(f"{prefix}{NAME}")

    with kombu.Connection(amqp_uri) as connection:
        request_queue = kombu.Queue(f"rpc-{NAME}", durable=True)(connection.default_channel)
        _, waiting, _ = request_queue.queue_declare(passive=True)
        request_queue.delete()
    assert waiting == 0, "the request was acknowledged, not left for redelivery"
