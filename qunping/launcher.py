"""Running qunping's services: one in this process (a container's PID 1), or all locally."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qunping.core.config import Settings

SERVICES: dict[str, str] = {
    "notify": "services.notify.service:NotifyService",
}
"""Every service that exists, by name: `module:Class` of its nameko service."""


def service_class(name: str) -> type[Any]:
    module_name, class_name = SERVICES[name].split(":")
    cls: type[Any] = getattr(importlib.import_module(module_name), class_name)
    return cls


def run_service(name: str, settings: Settings) -> None:
    """Run one service in this process until SIGTERM, then drain its workers and stop.

    nameko's runner installs the SIGTERM handler; the process must be PID 1 in a
    container (exec-form entrypoint) so the signal reaches it.
    """
    import logging.config

    from nameko.cli.run import run

    config = settings.nameko_config()
    logging.config.dictConfig(config["LOGGING"])
    run([service_class(name)], config)


def run_all(environ: Mapping[str, str], log_dir: Path, names: list[str] | None = None) -> int:
    """Start each service as its own process, like containers; stop all on Ctrl-C."""
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    for name in names or list(SERVICES):
        with (log_dir / f"{name}.log").open("ab") as output:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "qunping", "service", name],
                env={**os.environ, **environ},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
    try:
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    print(
                        f"service {name} exited with {process.returncode}; see {log_dir / name}.log"
                    )
                    return process.returncode or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
