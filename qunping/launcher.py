"""Running qunping's services: one in this process (a container's PID 1), or all locally."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from qunping.core.config import Settings

SERVICES: dict[str, str] = {
    "ballot": "services.ballot.service:BallotService",
    "tally": "services.tally.service:TallyService",
    "notify": "services.notify.service:NotifyService",
    "pledge": "services.pledge.service:PledgeService",
    "audit": "services.audit.service:AuditService",
    "gateway": "services.gateway.service:GatewayService",
}
"""Every service that exists, by name: `module:Class` of its nameko service."""


# A cheap query per service, to know it answers before sending it work.
PROBES: dict[str, tuple[str, dict[str, Any]]] = {
    "ballot": ("read_log", {"limit": 1}),
    "tally": ("caught_up_to", {}),
    "pledge": ("list_units", {}),
}


def wait_until_answering(
    cluster: Any, seconds: float = 60, services: Collection[str] = tuple(PROBES)
) -> None:
    """Services just started: wait until each (of `services`) has its RPC queue and answers."""
    from nameko.exceptions import UnknownService

    deadline = time.monotonic() + seconds
    for service, (method, payload) in PROBES.items():
        if service not in services:
            continue
        while True:
            try:
                getattr(cluster[service], method)(payload)
                break
            except UnknownService:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service} did not start; see its log") from None
                time.sleep(0.5)


def service_class(name: str) -> type[Any]:
    module_name, class_name = SERVICES[name].split(":")
    cls: type[Any] = getattr(importlib.import_module(module_name), class_name)
    return cls


def run_service(name: str, settings: Settings) -> None:
    """Run one service in this process until SIGTERM, then drain its workers and stop.

    nameko's runner installs the SIGTERM handler; the process must be PID 1 in a
    container (exec-form entrypoint) so the signal reaches it. Draining consumers keep the
    broker connection until running handlers have acknowledged their messages.
    """
    import logging.config

    from nameko.cli.run import run

    from qunping.core.draining import install_draining_consumers

    install_draining_consumers()
    config = settings.nameko_config()
    logging.config.dictConfig(config["LOGGING"])
    run([service_class(name)], config)


def run_all(
    environ: Mapping[str, str],
    log_dir: Path,
    names: list[str] | None = None,
    on_started: Callable[[], None] = lambda: None,
) -> int:
    """Start each service as its own process, like containers; stop all on Ctrl-C."""
    log_dir.mkdir(parents=True, exist_ok=True)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    first_port = int(environ.get("QUNPING_HTTP_PORT", os.environ.get("QUNPING_HTTP_PORT", "8000")))
    for offset, name in enumerate(names or list(SERVICES)):
        # In a pod each service has port 8000 to itself; on one machine they take turns.
        port = first_port + offset
        print(f"  {name:<8} health on http://127.0.0.1:{port}/readyz, log {log_dir / name}.log")
        with (log_dir / f"{name}.log").open("ab") as output:
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "qunping", "service", name],
                env={**os.environ, **environ, "QUNPING_HTTP_PORT": str(port)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
    try:
        on_started()
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
