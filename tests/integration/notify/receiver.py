"""A real local HTTP server standing in for an outside system's webhook endpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    at: float
    """`time.monotonic()` when the request arrived."""
    headers: dict[str, str]
    body: bytes


Behaviour = Callable[[int], int]
"""Given how many requests came before this one, the status to answer."""


def always(status: int) -> Behaviour:
    return lambda _count: status


def failing_first(failures: int, status: int = 503) -> Behaviour:
    return lambda count: status if count < failures else 204


class Receiver:
    def __init__(self, port: int, behaviour: Behaviour | None = None) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/hooks/qunping"
        self.behaviour = behaviour or always(200)
        self.hang = threading.Event()
        """While set, requests get no answer (a dead receiver that keeps the socket open)."""
        self.released = threading.Event()
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.hang.is_set():
                    receiver.released.wait(30)
                    return
                with receiver._lock:
                    count = len(receiver.requests)
                    receiver.requests.append(Received(time.monotonic(), dict(self.headers), body))
                self.send_response(receiver.behaviour(count))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ok_bodies(self) -> list[bytes]:
        with self._lock:
            return [r.body for n, r in enumerate(self.requests) if 200 <= self.behaviour(n) < 300]
