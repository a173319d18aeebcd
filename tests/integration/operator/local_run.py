"""`qunping run` as a person starts it in a terminal: its own process (group) and home."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qunping.core import registry
from qunping.operator.launcher import answers_readyz

REPOSITORY = Path(__file__).resolve().parents[3]


def consecutive_free_ports(count: int) -> int:
    """The first of `count` consecutive ports that nothing listens on now, below the
    ephemeral range (32768 on), where clients' ports would come and go."""
    chance = random.Random()
    for _ in range(1000):
        first = chance.randrange(20000, 32000)
        if all(port_free(port) for port in range(first, first + count)):
            return first
    raise RuntimeError("no free port range")


def port_free(port: int) -> bool:
    """Nothing listens on it, and a server may bind it (as the services do, reusing the
    address: connections the last one closed may linger in TIME_WAIT)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan is reaped by init once it exits)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


class LocalRun:
    def __init__(self, home: Path, environ: dict[str, str]) -> None:
        self.home = home
        self.first_port = consecutive_free_ports(len(registry.names()))
        self.environ = {
            **os.environ,
            **environ,
            "QUNPING_HOME": str(home),
            "QUNPING_HTTP_PORT": str(self.first_port),
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0

    @property
    def ports(self) -> dict[str, int]:
        return {name: self.first_port + offset for offset, name in enumerate(registry.names())}

    @property
    def output_path(self) -> Path:
        return self.home.parent / f"run-{self.runs}.out"

    def start(self, *arguments: str) -> None:
        self.runs += 1
        self.home.mkdir(parents=True, exist_ok=True)
        with self.output_path.open("wb") as output:
            # A session of its own, as a terminal gives its foreground job.
            self.process = subprocess.Popen(
                [sys.executable, "-m", "qunping", "run", "--no-sample", *arguments],
                cwd=REPOSITORY,
                env=self.environ,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def services(self) -> dict[str, int]:
        """Service name -> pid, as the launcher recorded them."""
        state: dict[str, Any] = json.loads((self.home / "run.json").read_text())
        return {name: entry["pid"] for name, entry in state["services"].items()}

    def wait_ready(self, seconds: float = 180) -> None:
        deadline = time.monotonic() + seconds
        waiting = set(registry.names())
        while waiting:
            assert self.process is not None and self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, f"not ready: {waiting}\n{self.output()}"
            waiting = {name for name in waiting if not answers_readyz(self.ports[name], timeout=2)}
            time.sleep(0.5)

    def wait_for_output(self, text: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while text not in self.output():
            assert time.monotonic() < deadline, f"never said {text!r}:\n{self.output()}"
            time.sleep(0.2)

    def send(self, signum: int, *, to_group: bool = False) -> None:
        assert self.process is not None
        if to_group:  # what a terminal does on Ctrl-C: the whole foreground process group
            os.killpg(self.process.pid, signum)
        else:
            self.process.send_signal(signum)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
