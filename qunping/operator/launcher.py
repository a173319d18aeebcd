"""Running qunping's services: one in this process (a container's PID 1), or all locally.

`qunping run` supervises the services on one machine the way Kubernetes runs the chart:
each service is a process of its own; one that dies is started again after a growing delay
(1 s, 2 s, 4 s ..., as CrashLoopBackOff does) while the others keep running; one that keeps
dying at start, or refuses to start (exit status 78), is given up on, with the last lines of
its log. Ctrl-C, SIGTERM and SIGHUP stop every service at once, each given
`STOP_GRACE_SECONDS` to drain before it is killed.

The services run in a process group of their own, so a terminal's Ctrl-C reaches only the
launcher (nameko stops twice, and hangs, when it gets both a SIGINT and a SIGTERM); on
Linux they start under `setpriv --pdeathsig KILL`, so a launcher that is killed outright
takes them with it rather than leaving them on their ports, consuming. `$QUNPING_HOME/run.json`
says which processes a run started, for `qunping infra status|down` and the next `run`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from qunping.core import registry
from qunping.core.config import Settings
from qunping.operator.infra import dies_with_starter, handed_over
from qunping.operator.resolve import resolve

REFUSES_TO_START = 78
"""A service's exit status when it will not run as configured (sysexits.h's EX_CONFIG),
e.g. on a vhost that serves another deployment: starting it again cannot help."""

STOP_GRACE_SECONDS = 12.0
"""How long a stopping service may drain its running handlers before it is killed. They
stop in parallel (all six in 3-10 s on a busy machine), so all are gone within 20 s."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
RUN_STATE = "run.json"


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
    """The nameko service class of the registry's service `name`."""
    return resolve(registry.service(name).nameko_class, type)


def run_service(name: str, settings: Settings) -> None:
    """Run one service in this process until SIGTERM, then drain its workers and stop.

    nameko's runner installs the SIGTERM handler; the process must be PID 1 in a
    container (exec-form entrypoint) so the signal reaches it. Draining consumers keep the
    broker connection until running handlers have acknowledged their messages. Before
    anything is consumed, the process announces its deployment on the vhost, or raises
    `VhostTaken` if the vhost serves another one.
    """
    import logging.config

    from nameko.cli.run import run

    from qunping.core.deployment import Announcement, deployment_identity
    from qunping.core.draining import install_draining_consumers

    install_draining_consumers()
    config = settings.nameko_config(name)
    logging.config.dictConfig(config["LOGGING"])
    announcement = Announcement(
        settings.amqp_uri, deployment_identity(settings.mongo_uri, settings.db_prefix)
    )
    announcement.claim()
    announcement.hold_in_background()
    run([service_class(name)], config)


# -- every service on one machine ----------------------------------------------------


@dataclass(frozen=True)
class RestartPolicy:
    """When to start again a service that died: like Kubernetes' CrashLoopBackOff, with
    shorter delays for one machine, and an end to it."""

    first_delay: float = 1.0
    max_delay: float = 30.0
    healthy_after: float = 30.0
    """Ready this long, a service had started well: its next death is a first one again."""
    give_up_after: int = 5
    """Deaths at start in a row after which it is not started again."""

    def delay(self, deaths_at_start: int, returncode: int) -> float | None:
        """Seconds to wait before the next start, or None to give up."""
        if returncode == REFUSES_TO_START or deaths_at_start >= self.give_up_after:
            return None
        return float(min(self.first_delay * 2 ** (deaths_at_start - 1), self.max_delay))


@dataclass
class Slot:
    """One service under the launcher, across its restarts."""

    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    ready_since: float | None = None
    deaths_at_start: int = 0
    restarts: int = 0
    restart_at: float | None = None
    given_up: bool = False


class CannotRun(RuntimeError):
    """Something in the way of `qunping run`; the message says what and what to do."""


def slots_for(environ: Mapping[str, str], log_dir: Path, names: list[str]) -> list[Slot]:
    # In a pod each service has port 8000 to itself; on one machine they take turns.
    first_port = int(environ.get("QUNPING_HTTP_PORT", "8000"))
    return [
        Slot(name, first_port + offset, log_dir / f"{name}.log")
        for offset, name in enumerate(names)
    ]


class Launcher:
    def __init__(
        self,
        environ: Mapping[str, str],
        home: Path,
        *,
        names: list[str] | None = None,
        say: Callable[[str], None] = print,
        policy: RestartPolicy = RestartPolicy(),
        grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.environ = dict(environ)
        self.state_path = home / RUN_STATE
        self.log_dir = home / "logs"
        self.slots = slots_for(environ, self.log_dir, names or list(registry.names()))
        self.say = say
        self.policy = policy
        self.grace = grace
        self.started_at = datetime.now().astimezone().isoformat(timespec="seconds")
        self._stop_signal: int | None = None

    def run(self, on_started: Callable[[], None] = lambda: None) -> int:
        """Start every service, keep them running until a stop signal, then stop them all.
        Returns 0 after a stop signal, 1 if every service had to be given up on."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        handlers = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            for slot in self.slots:
                self.say(f"  {slot.name:<8} health on http://127.0.0.1:{slot.port}/readyz, "
                         f"log {slot.log_path}")  # fmt: skip
                self._start(slot)
            threading.Thread(target=on_started, name="on-started", daemon=True).start()
            while self._stop_signal is None:
                self._watch()
                if all(slot.given_up for slot in self.slots):
                    self.say("Every service was given up on; nothing left to run.")
                    return 1
                time.sleep(0.25)
            self.say(f"{signal.Signals(self._stop_signal).name}: stopping every service ...")
            return 0
        finally:
            self._stop_all()
            self.state_path.unlink(missing_ok=True)
            for signum, handler in handlers.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        if self._stop_signal is None:
            self._stop_signal = signum
            return
        # Asked twice: no more waiting for handlers to finish.
        for slot in self.slots:
            if slot.process is not None:
                _signal_group(slot.process, signal.SIGKILL)

    def _start(self, slot: Slot) -> None:
        with slot.log_path.open("ab") as output:
            slot.process = subprocess.Popen(
                [*dies_with_starter(), sys.executable, "-m", "qunping", "service", slot.name],
                env={**os.environ, **self.environ, "QUNPING_HTTP_PORT": str(slot.port)},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                process_group=0,
            )
        handed_over(slot.process)
        slot.restart_at = None
        slot.ready_since = None
        self._save_state()

    def _watch(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.process is None:
                if slot.restart_at is not None and now >= slot.restart_at:
                    slot.restarts += 1
                    self._start(slot)
                continue
            returncode = slot.process.poll()
            if returncode is not None:
                self._exited(slot, returncode, now)
            elif slot.ready_since is None and answers_readyz(slot.port):
                slot.ready_since = now
                if slot.restarts:
                    self._tell(slot, f"{slot.name} is running again (restart {slot.restarts})")

    def _exited(self, slot: Slot, returncode: int, now: float) -> None:
        if slot.ready_since is not None and now - slot.ready_since >= self.policy.healthy_after:
            slot.deaths_at_start = 0
        slot.deaths_at_start += 1
        slot.process = None
        how = _how_it_ended(returncode)
        delay = self.policy.delay(slot.deaths_at_start, returncode)
        if delay is None:
            slot.given_up = True
            last_lines = _tail(slot.log_path)
            why = (
                "refuses to start"
                if returncode == REFUSES_TO_START
                else f"keeps dying at start ({slot.deaths_at_start} times in a row)"
            )
            self._tell(slot, f"{slot.name} {why}, {how}; not starting it again "
                             "(the other services keep running)")  # fmt: skip
            self.say(f"  last lines of {slot.log_path}:\n{last_lines}")
            return
        slot.restart_at = now + delay
        self._tell(slot, f"{slot.name} {how}; starting it again in {delay:g} s "
                         f"(restart {slot.restarts + 1}), log {slot.log_path}")  # fmt: skip

    def _tell(self, slot: Slot, message: str) -> None:
        """On the terminal and in the service's own log, where its story is read."""
        self.say(message)
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        with slot.log_path.open("a", encoding="utf-8") as output:
            output.write(f"{stamp} WARNING qunping.run: {message}\n")

    def _stop_all(self) -> None:
        """SIGTERM to every running service at once; SIGKILL to any still there after the
        grace period."""
        for slot in self.slots:
            slot.restart_at = None
        running = [s for s in self.slots if s.process is not None and s.process.poll() is None]
        if not running:
            return
        began = time.monotonic()
        for slot in running:
            assert slot.process is not None
            _signal_group(slot.process, signal.SIGTERM)
        while time.monotonic() - began < self.grace and any(
            slot.process is not None and slot.process.poll() is None for slot in running
        ):
            time.sleep(0.1)
        for slot in running:
            assert slot.process is not None
            if slot.process.poll() is None:
                self.say(f"{slot.name} did not stop within {self.grace:g} s; killing it")
                _signal_group(slot.process, signal.SIGKILL)
            slot.process.wait()
        elapsed = time.monotonic() - began
        self.say(f"Stopped {', '.join(slot.name for slot in running)} in {elapsed:.1f} s.")

    def _save_state(self) -> None:
        state = {
            "launcher": os.getpid(),
            "started_at": self.started_at,
            "services": {
                slot.name: {"pid": slot.process.pid, "port": slot.port}
                for slot in self.slots
                if slot.process is not None
            },
        }
        self.state_path.write_text(json.dumps(state, indent=1))


def _signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def answers_readyz(port: int, timeout: float = 0.5) -> bool:
    """The service on `port` (of this machine) says it is ready."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=timeout) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def _how_it_ended(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "    (no log)"
    return "\n".join(f"    {line}" for line in text.rstrip().splitlines()[-lines:])


# -- what a previous run left ------------------------------------------------------


@dataclass(frozen=True)
class PreviousRun:
    """What `run.json` names that still runs: the launcher, its services, or both."""

    launcher: int | None
    started_at: str
    services: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        services = ", ".join(f"{name} pid {pid}" for name, pid in self.services.items())
        if self.launcher is not None:
            return (
                f"qunping run pid {self.launcher} since {self.started_at}"
                + (f" with {services}" if services else "")
                + f"; stop it with Ctrl-C in its terminal or `kill -TERM {self.launcher}`"
            )
        return (
            f"services left over from a run since {self.started_at} that ended without "
            f"stopping them: {services}; `qunping infra down` stops them"
        )


def previous_run(home: Path) -> PreviousRun | None:
    try:
        state = json.loads((home / RUN_STATE).read_text())
    except (OSError, ValueError):
        return None
    launcher = state.get("launcher")
    services = {
        name: entry["pid"]
        for name, entry in state.get("services", {}).items()
        if _runs(entry["pid"], "service", name)
    }
    running_launcher = launcher if isinstance(launcher, int) and _runs(launcher, "run") else None
    if running_launcher is None and not services:
        return None
    ports = {name: entry["port"] for name, entry in state.get("services", {}).items()}
    return PreviousRun(running_launcher, str(state.get("started_at")), services, ports)


def _runs(pid: int, *words: str) -> bool:
    """Whether process `pid` is alive and runs `qunping ... words` (not a recycled pid)."""
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return False
    except OSError:  # no /proc here: trust the pid
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    command = [argument.decode(errors="replace") for argument in arguments]
    if not any(part.endswith("qunping") for part in command):
        return False
    after = command[[part.endswith("qunping") for part in command].index(True) + 1 :]
    return after[: len(words)] == list(words)


def stop_previous(previous: PreviousRun, say: Callable[[str], None]) -> None:
    """Stop what a previous run left: its launcher (which stops its services), or the
    services themselves, each given the grace period to drain."""
    if previous.launcher is not None:
        os.kill(previous.launcher, signal.SIGTERM)
        pids = [previous.launcher]
    else:
        pids = list(previous.services.values())
        for pid in pids:
            _kill_group_or_pid(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS + 5
    while time.monotonic() < deadline and any(_runs_any(pid) for pid in pids):
        time.sleep(0.2)
    for pid in pids:
        if _runs_any(pid):
            _kill_group_or_pid(pid, signal.SIGKILL)
    services = ", ".join(f"{name} (pid {pid})" for name, pid in previous.services.items())
    if previous.launcher is not None:
        say(f"stopped qunping run pid {previous.launcher} and its services {services}")
    else:
        say(f"stopped the services a previous run left running: {services}")


def _runs_any(pid: int) -> bool:
    return _runs(pid, "run") or _runs(pid, "service")


def _kill_group_or_pid(pid: int, signum: int) -> None:
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


def ports_taken(slots: list[Slot]) -> list[Slot]:
    """The services whose port something already listens on."""
    taken = []
    for slot in slots:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", slot.port)) == 0:
                taken.append(slot)
    return taken
