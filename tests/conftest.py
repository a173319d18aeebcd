"""Fixtures for every test: a real RabbitMQ (a private vhost per run) and a real MongoDB
wire server (SecantusDB on a free port, or QUNPING_TEST_MONGO_URI).

nameko services run inside the test process, so the process is eventlet-patched first,
as `nameko test` would do.
"""

import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import os  # noqa: E402
import subprocess  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from kombu.connection import Connection  # noqa: E402
from pymongo import MongoClient  # noqa: E402
from pymongo.database import Database  # noqa: E402

from qunping.core.config import DEFAULTS  # noqa: E402
from qunping.operator import broker_access, infra  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


class MongoServer:
    """A secantusd-py process of the test run's own, which tests may stop and restart."""

    def __init__(self, data_dir: Path) -> None:
        self.port = infra.free_port()
        self.data_dir = data_dir
        self.require_auth = False
        self.uri = f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = infra.start_secantus(
            self.port,
            self.data_dir,
            self.data_dir.parent / "mongodb.log",
            outlive_starter=False,
            require_auth=self.require_auth,
        )
        infra._wait_for(lambda: infra.mongo_reachable(self.uri, 500) is None, 60, self.uri)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=60)
            self.process = None


@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if "QUNPING_TEST_MONGO_URI" in os.environ:
        yield os.environ["QUNPING_TEST_MONGO_URI"]
        return
    server = MongoServer(tmp_path_factory.mktemp("mongo") / "data")
    server.start()
    yield server.uri
    server.stop()


@pytest.fixture(scope="session")
def mongo_client(mongo_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    yield client
    client.close()


@pytest.fixture
def database(mongo_client: MongoClient[dict[str, Any]]) -> Iterator[Database[dict[str, Any]]]:
    """A fresh database per test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    mongo_client.drop_database(name)


@pytest.fixture(scope="session")
def amqp_uri() -> Iterator[str]:
    """A private vhost on the real broker, so tests never meet a running qunping."""
    base = (
        os.environ.get("QUNPING_TEST_AMQP_URI")
        or os.environ.get("AMQP_URI")
        or DEFAULTS["AMQP_URI"]
    )
    problem = infra.amqp_reachable(base)
    if problem:
        pytest.exit(f"RabbitMQ is not reachable at {base} ({problem}); run `qunping infra up`", 2)
    if "QUNPING_TEST_AMQP_URI" in os.environ:
        yield base
        return
    try:
        with (
            infra.private_vhost(base, "qunping_test") as uri,
            infra.broker_users(uri, f"{infra.vhost_name(uri)}.") as users,
            pytest.MonkeyPatch.context() as patch,
        ):
            # Every service of the run, in this process or another, connects as its own
            # user (qunping.operator.broker_access), so what is tested is what is deployed.
            patch.setenv(broker_access.USERS_FILE_VARIABLE, str(users))
            yield uri
    except infra.InfraError as error:
        pytest.exit(str(error), 2)


def as_role(amqp_uri: str, role: str) -> str:
    """`amqp_uri` with the credentials of `role`'s broker user."""
    return broker_access.as_role(amqp_uri, role, os.environ)


@pytest.fixture
def nameko_config(
    amqp_uri: str, mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """A nameko config for services under test, with a database prefix of the test's own."""
    from qunping.core.config import settings_from

    prefix = f"t{uuid.uuid4().hex[:8]}_"
    settings = settings_from(
        {"AMQP_URI": amqp_uri, "MONGO_URI": mongo_uri, "QUNPING_DB_PREFIX": prefix}
    )
    yield settings.nameko_config()
    for name in mongo_client.list_database_names():
        if name.startswith(prefix):
            mongo_client.drop_database(name)


@pytest.fixture
def container_factory(
    nameko_config: dict[str, Any], container_factory: Any, amqp_uri: str
) -> Iterator[Any]:
    """nameko's factory, with four changes for running several services in one process:
    each of qunping's services connects as its own broker user (qunping.operator.broker_access);
    each container gets a web server port of its own (health endpoints) unless the test
    chose one; its containers are killed before `nameko_config` drops the test's databases
    (requested first, so torn down last: SecantusDB never answers a `dropDatabase` while a
    killed-too-late service still holds a session on it); and the queues its services
    declared are deleted once they are dead, so no message of this test's logs reaches the
    next test's services in the shared vhost, and no live consumer declares them again."""
    containers: list[Any] = []

    def make(service_cls: type, config: dict[str, Any]) -> Any:
        address = config.get("WEB_SERVER_ADDRESS", "")
        if not address.startswith("127.0.0.1:"):
            config = {**config, "WEB_SERVER_ADDRESS": f"127.0.0.1:{infra.free_port()}"}
        name = getattr(service_cls, "name", "")
        if name in broker_access.ROLE_BY_NAME:  # qunping's, as its own user
            config = {**config, "AMQP_URI": as_role(config["AMQP_URI"], name)}
        container = container_factory(service_cls, config)
        containers.append(container)
        return container

    yield make
    for container in containers:
        container.kill()
    queues = {"notify.public"}
    for container in containers:
        queues.add(f"rpc-{container.service_name}")
        queues.update(
            e.queue.name for e in container.entrypoints if getattr(e, "queue", None) is not None
        )
    with Connection(amqp_uri) as connection:
        channel = connection.default_channel
        for name in queues:
            channel.queue_delete(name)
