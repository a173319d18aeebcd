"""A RabbitMQ node of a test's own, on free ports, which the test may kill and restart.

The machine's broker on 5672 is shared by everyone's tests and is never touched: this node
has its own name, ports, data and configuration (the system's `/etc/rabbitmq` files would
put it on 5672), and runs as a child of the test in a process group of its own.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import uuid
from pathlib import Path

from qunping.operator import broker_access, infra

# The Debian wrapper in /usr/sbin switches to the rabbitmq user and drops our environment.
SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


class PrivateRabbit:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = infra.free_port()
        self.node = f"qunping-fault-{uuid.uuid4().hex[:8]}@localhost"
        self.uri = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.process: subprocess.Popen[bytes] | None = None
        for directory in ("mnesia", "log"):
            (base / directory).mkdir(parents=True, exist_ok=True)
        config = f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
        users = os.environ.get(broker_access.USERS_FILE_VARIABLE)
        if users:  # the run's broker users, so the services connect as on the shared broker
            prefix, passwords = broker_access.read_users_file(Path(users))
            definitions = broker_access.definitions("/", prefix, passwords)
            # Definitions loaded at boot replace the default user: the test's own is guest.
            definitions["users"].append(
                {
                    "name": "guest",
                    "password_hash": broker_access.password_hash("guest"),
                    "hashing_algorithm": "rabbit_password_hashing_sha256",
                    "tags": "administrator",
                }
            )
            definitions["permissions"].append(
                {"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}
            )
            path = base / "definitions.json"
            path.write_text(json.dumps(definitions))
            config += f"load_definitions = {path}\n"
        (base / "rabbitmq.conf").write_text(config)
        (base / "enabled_plugins").write_text("[].\n")
        (base / "rabbitmq-env.conf").write_text("")
        self.environ = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(infra.free_port()),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_FEATURE_FLAGS_FILE": str(base / "feature_flags"),
        }

    def start(self) -> None:
        with (self.base / "server.out").open("ab") as output:
            self.process = subprocess.Popen(
                [str(SERVER)],
                env=self.environ,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # Erlang writes a crash dump (MnesiaCore.*) to its working directory.
                cwd=self.base,
            )
        infra._wait_for(lambda: infra.amqp_reachable(self.uri, 1) is None, 90, self.node)

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the node's whole process group (the script, beam and its helpers)."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        self.process.wait(timeout=60)
        self.process = None
