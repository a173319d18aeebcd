"""qunping's services as real processes, so that a kill -9 is a real kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from qunping.operator import infra

REPOSITORY = Path(__file__).resolve().parents[3]


class ServiceProcess:
    def __init__(self, name: str, environ: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = infra.free_port()
        self.environ = {**os.environ, **environ, "QUNPING_HTTP_PORT": str(self.port)}
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as output:
            # A test run killed outright takes its services with it.
            self.process = subprocess.Popen(
                [*infra.dies_with_starter(), sys.executable, "-m", "qunping", "service", self.name],
                cwd=REPOSITORY,
                env=self.environ,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            infra.handed_over(self.process)

    def kill(self) -> None:
        """kill -9: no handler finishes, no message is acknowledged, nothing is flushed."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None

    def ready(self) -> bool:
        """Its /readyz answers 200: MongoDB and RabbitMQ reachable from the process."""
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while not self.ready():
            assert time.monotonic() < deadline, f"{self.name} not ready:\n{self.log_tail()}"
            time.sleep(0.2)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]
