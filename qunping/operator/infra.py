"""Local infrastructure on one machine: RabbitMQ and a MongoDB wire server.

RabbitMQ: use the broker at `AMQP_URI`; else the local one if it answers; else start an
installed `rabbitmq-server`; else, on Debian as root, install it; else say what to do.
MongoDB: use `MONGO_URI` if set; else run SecantusDB's `secantusd-py` with its data in
`.qunping/mongo-data`. Everything here is idempotent, and `down` stops only what `up`
started (a broker that was already running is left alone).
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from kombu.connection import Connection
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from qunping.core.config import DEFAULTS, LOCAL_MONGO_PORT
from qunping.operator import broker_access

RABBITMQ_SERVER = "rabbitmq-server"
RABBITMQ_SBIN = Path("/usr/sbin")
BROKER_USERS_FILE = "broker-users.json"
LOCAL_USER_PREFIX = "qunping-"


class InfraError(RuntimeError):
    """Something the operator must fix; the message says what and how."""


@dataclass(frozen=True)
class Component:
    name: str
    uri: str
    running: bool
    managed_by_qunping: bool
    detail: str


def home(environ: Mapping[str, str]) -> Path:
    """Where local state lives (git-ignored): data, pid files, logs."""
    return Path(environ.get("QUNPING_HOME", ".qunping")).resolve()


def local_mongo_uri(environ: Mapping[str, str]) -> str:
    return f"mongodb://127.0.0.1:{mongo_port(environ)}/?directConnection=true"


def mongo_port(environ: Mapping[str, str]) -> int:
    return int(environ.get("QUNPING_MONGO_PORT", LOCAL_MONGO_PORT))


def effective_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables services need, pointing at what `up` provides unless set."""
    effective = {
        "AMQP_URI": environ.get("AMQP_URI", DEFAULTS["AMQP_URI"]),
        "MONGO_URI": environ.get("MONGO_URI", local_mongo_uri(environ)),
    }
    users = home(environ) / BROKER_USERS_FILE
    chosen = broker_access.USERS_FILE_VARIABLE in environ or "AMQP_URI" in environ
    if not chosen and users.exists():
        effective[broker_access.USERS_FILE_VARIABLE] = str(users)
    return effective


# -- RabbitMQ ------------------------------------------------------------------------


class RabbitAction(enum.Enum):
    USE_RUNNING = "use the broker that answers"
    START = "start the installed rabbitmq-server"
    INSTALL_AND_START = "install rabbitmq-server with apt-get, then start it"
    GIVE_UP = "ask the operator"


def rabbitmq_plan(
    *, reachable: bool, uri_from_environment: bool, installed: bool, debian: bool, root: bool
) -> RabbitAction:
    """What to do about RabbitMQ, from what the machine looks like."""
    if reachable:
        return RabbitAction.USE_RUNNING
    if uri_from_environment:
        return RabbitAction.GIVE_UP  # the operator chose a broker; never start another
    if installed:
        return RabbitAction.START
    if debian and root:
        return RabbitAction.INSTALL_AND_START
    return RabbitAction.GIVE_UP


def amqp_reachable(uri: str, timeout: float = 3.0) -> str | None:
    """None if an AMQP handshake with `uri` succeeds, else why not."""
    try:
        with Connection(uri, connect_timeout=timeout) as connection:
            connection.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def rabbitmq_installed() -> str | None:
    found = shutil.which(RABBITMQ_SERVER) or shutil.which(RABBITMQ_SERVER, path=str(RABBITMQ_SBIN))
    return found


def ensure_rabbitmq(environ: Mapping[str, str]) -> Component:
    uri = effective_environment(environ)["AMQP_URI"]
    problem = amqp_reachable(uri)
    action = rabbitmq_plan(
        reachable=problem is None,
        uri_from_environment="AMQP_URI" in environ,
        installed=rabbitmq_installed() is not None,
        debian=Path("/etc/debian_version").exists(),
        root=hasattr(os, "geteuid") and os.geteuid() == 0,
    )
    if action is RabbitAction.USE_RUNNING:
        return Component("rabbitmq", _redact(uri), True, _started_by_us(environ), "answering")
    if action is RabbitAction.GIVE_UP:
        raise InfraError(_rabbitmq_help(uri, problem, "AMQP_URI" in environ))
    if action is RabbitAction.INSTALL_AND_START:
        _apt_install(RABBITMQ_SERVER)
    server = rabbitmq_installed()
    assert server is not None
    subprocess.run([server, "-detached"], check=True)
    _remember(environ, rabbitmq_started=True)
    _wait_for(lambda: amqp_reachable(uri) is None, 90, f"RabbitMQ at {_redact(uri)}")
    return Component("rabbitmq", _redact(uri), True, True, f"started {server}")


def _rabbitmq_help(uri: str, problem: str | None, chosen: bool) -> str:
    if chosen:
        return (
            f"AMQP_URI={_redact(uri)} does not answer ({problem}). Start that broker, "
            "or unset AMQP_URI to use a local RabbitMQ."
        )
    return (
        f"No RabbitMQ answers at {_redact(uri)} ({problem}) and none is installed.\n"
        "On Debian or Ubuntu: sudo apt-get install rabbitmq-server && "
        "sudo rabbitmq-server -detached\n"
        "Elsewhere: install RabbitMQ 3.12+ (https://www.rabbitmq.com/docs/download) and start it,\n"
        "or set AMQP_URI=amqp://user:password@host:5672/ to a broker you already run."
    )


def _apt_install(package: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)


def stop_rabbitmq(environ: Mapping[str, str]) -> str:
    if not _started_by_us(environ):
        return "rabbitmq: left running (qunping did not start it)"
    ctl = _rabbitmqctl()
    if ctl:
        subprocess.run([ctl, "stop"], check=False)
    _remember(environ, rabbitmq_started=False)
    return "rabbitmq: stopped"


def _rabbitmqctl() -> str:
    return shutil.which("rabbitmqctl") or shutil.which("rabbitmqctl", path=str(RABBITMQ_SBIN)) or ""


def load_definitions(definitions: Mapping[str, object]) -> None:
    """Load users, permissions (and vhosts) into the local broker in one `rabbitmqctl`
    call (each takes seconds); what is already there is updated. The file is read by the
    broker's own user (Debian's rabbitmqctl runs as it), and by nobody else."""
    ctl = _rabbitmqctl()
    done = None
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "definitions.json"
        path.touch(mode=0o600)  # password hashes
        path.write_text(json.dumps(definitions))
        with contextlib.suppress(KeyError, PermissionError):
            broker_user = pwd.getpwnam("rabbitmq")
            for owned in (scratch, path):
                os.chown(owned, broker_user.pw_uid, broker_user.pw_gid)
        if ctl:
            done = subprocess.run(
                [ctl, "import_definitions", str(path)], capture_output=True, check=False
            )
    if done is None or done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip()[-300:] if done else "not found"
        raise InfraError(
            f"could not load broker users with rabbitmqctl ({detail}); run as root on the "
            "broker's machine, or create the users of qunping.operator.broker_access yourself"
        )


def delete_users(names: Iterable[str]) -> None:
    ctl = _rabbitmqctl()
    running = [
        subprocess.Popen([ctl, "delete_user", name], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
        for name in names
    ]  # fmt: skip
    for process in running:
        process.wait()


@contextmanager
def broker_users(admin_uri: str, prefix: str) -> Iterator[Path]:
    """A user per role of `qunping.operator.broker_access` on the vhost of `admin_uri`, named
    `{prefix}{role}`, deleted afterwards; yields the file of their passwords, for
    `QUNPING_BROKER_USERS`."""
    passwords = broker_access.new_passwords()
    load_definitions(broker_access.definitions(vhost_name(admin_uri), prefix, passwords))
    try:
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / BROKER_USERS_FILE
            broker_access.write_users_file(path, prefix, passwords)
            yield path
    finally:
        delete_users(broker_access.user_name(prefix, role) for role in passwords)


def vhost_name(amqp_uri: str) -> str:
    path = urlsplit(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


@contextmanager
def private_vhost(base_uri: str, label: str) -> Iterator[str]:
    """A RabbitMQ vhost of its own (made with rabbitmqctl, so as root), deleted afterwards.

    Tests and benchmarks run services named like the real ones; in a vhost of their own
    they never answer, or steal, a running qunping's messages. The broker users that
    `QUNPING_BROKER_USERS` names get the same permissions on it.
    """
    ctl = _rabbitmqctl()
    vhost = f"{label}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    user = urlsplit(base_uri).username or "guest"
    commands = [
        [ctl, "add_vhost", vhost],
        [ctl, "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
    ]
    if not ctl or not all(
        subprocess.run(command, capture_output=True, check=False).returncode == 0
        for command in commands
    ):
        raise InfraError(
            "could not create a private RabbitMQ vhost with rabbitmqctl (run as root, or point "
            "QUNPING_TEST_AMQP_URI at a vhost reserved for tests and benchmarks)"
        )
    users = os.environ.get(broker_access.USERS_FILE_VARIABLE)
    if users:  # the run's broker users (see `broker_users`) may use this vhost too
        prefix, passwords = broker_access.read_users_file(Path(users))
        load_definitions(broker_access.definitions(vhost, prefix, passwords))
    parts = urlsplit(base_uri)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{vhost}", "", ""))
    finally:
        subprocess.run([ctl, "delete_vhost", vhost], capture_output=True, check=False)


# -- MongoDB (SecantusDB) ------------------------------------------------------------


def mongo_reachable(uri: str, timeout_ms: int = 2000) -> str | None:
    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=timeout_ms)
    try:
        client.admin.command("ping")
    except PyMongoError as error:
        return f"{type(error).__name__}: {str(error).split(' (configured')[0]}"
    finally:
        client.close()
    return None


def secantus_executable() -> str:
    beside_python = Path(sys.executable).parent / "secantusd-py"
    found = str(beside_python) if beside_python.exists() else shutil.which("secantusd-py")
    if not found:
        raise InfraError(
            "secantusd-py is not installed: run `make run` (it installs the local extras), "
            "or `pip install 'qunping[local]'`, or set MONGO_URI to a MongoDB you run."
        )
    return found


def dies_with_starter() -> list[str]:
    """A command prefix: the kernel kills the command when the process that started it dies.

    Start such a command with `handed_over` right after: until `setpriv` has asked for the
    signal, its starter's death goes unnoticed."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def handed_over(process: subprocess.Popen[bytes], seconds: float = 10) -> None:
    """Wait until `setpriv` has become the command it runs: it asks the kernel for the death
    signal just before, and a starter killed earlier would leave the command running for
    ever (seen: 4 servers in 30 when the starter was killed at once on a busy machine)."""
    setpriv = shutil.which("setpriv")
    deadline = time.monotonic() + seconds
    while setpriv is not None and time.monotonic() < deadline and process.poll() is None:
        try:
            if os.readlink(f"/proc/{process.pid}/exe") != os.path.realpath(setpriv):
                return
        except OSError:  # no /proc here, or it has just exited
            return
        time.sleep(0.002)


def start_secantus(
    port: int,
    data_dir: Path,
    log_file: Path,
    *,
    outlive_starter: bool = True,
    require_auth: bool = False,
) -> subprocess.Popen[bytes]:
    """Start `secantusd-py`; it syncs every commit to disk.

    `infra up` leaves it running on its own (`outlive_starter`); a test run or a benchmark
    that owns a server passes False, so a run killed before its clean-up (a CI timeout, a
    kill -9) leaves no server behind, still taking CPU and a port: util-linux's `setpriv`
    asks the kernel to kill it when its starter dies (Linux only; SIGKILL, since a
    server stuck on a hung session does not act on SIGTERM, and its data is scratch).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as output:
        server = subprocess.Popen(
            [
                *([] if outlive_starter else dies_with_starter()),
                secantus_executable(),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--storage-path",
                str(data_dir),
                "--sync-on-commit",
                "--log-level",
                "WARNING",
                *(["--auth"] if require_auth else []),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    if not outlive_starter:
        handed_over(server)
    return server


def ensure_mongodb(environ: Mapping[str, str]) -> Component:
    if "MONGO_URI" in environ:
        uri = environ["MONGO_URI"]
        problem = mongo_reachable(uri)
        if problem:
            raise InfraError(f"MONGO_URI={_redact(uri)} does not answer ({problem}).")
        return Component("mongodb", _redact(uri), True, False, "answering (MONGO_URI)")
    uri, state = local_mongo_uri(environ), home(environ)
    pid = _running_pid(state / "mongodb.pid")
    if pid and mongo_reachable(uri) is None:
        return Component(
            "mongodb", uri, True, True, f"secantusd-py pid {pid}, data {state / 'mongo-data'}"
        )
    if _port_in_use(mongo_port(environ)):
        raise InfraError(
            f"port {mongo_port(environ)} is taken by another program; set QUNPING_MONGO_PORT "
            "to a free port, or MONGO_URI to a MongoDB you run."
        )
    process = start_secantus(
        mongo_port(environ), state / "mongo-data", state / "logs" / "mongodb.log"
    )
    (state / "mongodb.pid").write_text(str(process.pid))
    _wait_for(lambda: mongo_reachable(uri, 500) is None, 60, f"secantusd-py on {uri}")
    return Component(
        "mongodb",
        uri,
        True,
        True,
        f"started secantusd-py pid {process.pid}, data {state / 'mongo-data'}",
    )


def stop_mongodb(environ: Mapping[str, str]) -> str:
    pid_file = home(environ) / "mongodb.pid"
    pid = _running_pid(pid_file)
    if pid is None:
        pid_file.unlink(missing_ok=True)
        return "mongodb: not running under qunping"
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.2)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return f"mongodb: stopped secantusd-py pid {pid}"


# -- the commands --------------------------------------------------------------------


def ensure_broker_users(environ: Mapping[str, str]) -> Component | None:
    """A user per service on the local broker's vhost `/` (qunping.operator.broker_access), their
    passwords kept in `QUNPING_HOME/broker-users.json` for `qunping run`; loaded again on
    every `up`, so a changed table takes effect. A broker chosen with `AMQP_URI` is the
    operator's to set up (docs/deploy.md)."""
    uri = effective_environment(environ)["AMQP_URI"]
    path = home(environ) / BROKER_USERS_FILE
    if "AMQP_URI" in environ:
        return None
    try:
        stored = json.loads(path.read_text())
        prefix, passwords = stored["prefix"], stored["passwords"]
    except (OSError, ValueError, KeyError):
        prefix, passwords = LOCAL_USER_PREFIX, {}
    passwords = {**broker_access.new_passwords(), **passwords}
    try:
        load_definitions(broker_access.definitions(vhost_name(uri), prefix, passwords))
    except InfraError as error:
        return Component("users", _redact(uri), False, False, str(error))
    broker_access.write_users_file(path, prefix, passwords)
    return Component("users", _redact(uri), True, True, f"{prefix}* on the broker, {path}")


def up(environ: Mapping[str, str], only: str | None = None) -> list[Component]:
    home(environ).mkdir(parents=True, exist_ok=True)
    components = []
    if only in (None, "rabbitmq"):
        components.append(ensure_rabbitmq(environ))
        users = ensure_broker_users(environ)
        components += [users] if users else []
    if only in (None, "mongodb"):
        components.append(ensure_mongodb(environ))
    return components


def down(environ: Mapping[str, str]) -> list[str]:
    return [stop_mongodb(environ), stop_rabbitmq(environ)]


def status(environ: Mapping[str, str]) -> list[Component]:
    env = effective_environment(environ)
    rabbit_problem = amqp_reachable(env["AMQP_URI"], timeout=2)
    mongo_problem = mongo_reachable(env["MONGO_URI"])
    pid = _running_pid(home(environ) / "mongodb.pid")
    return [
        Component(
            "rabbitmq",
            _redact(env["AMQP_URI"]),
            rabbit_problem is None,
            _started_by_us(environ),
            rabbit_problem or "answering",
        ),
        Component(
            "mongodb",
            _redact(env["MONGO_URI"]),
            mongo_problem is None,
            pid is not None and "MONGO_URI" not in environ,
            mongo_problem
            or (f"secantusd-py pid {pid}" if pid and "MONGO_URI" not in environ else "answering"),
        ),
    ]


# -- helpers -------------------------------------------------------------------------


def _redact(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.password:
        return uri.replace(f":{parts.password}@", ":***@", 1)
    return uri


def _wait_for(ready: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.3)
    raise InfraError(f"{what} did not become ready within {seconds:.0f}s")


def _running_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); it is not running.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def free_port() -> int:
    """A TCP port nothing listens on now (for servers of a test or benchmark run)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _state_file(environ: Mapping[str, str]) -> Path:
    return home(environ) / "infra.json"


def _started_by_us(environ: Mapping[str, str]) -> bool:
    try:
        return bool(json.loads(_state_file(environ).read_text()).get("rabbitmq_started"))
    except (OSError, ValueError):
        return False


def _remember(environ: Mapping[str, str], **facts: bool) -> None:
    path = _state_file(environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        state = {}
    path.write_text(json.dumps({**state, **facts}))
