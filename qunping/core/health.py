"""Liveness and readiness over HTTP, for every service (Kubernetes probes, load balancers).

A service class inherits `HealthEndpoints` and answers, on `WEB_SERVER_ADDRESS`:

- `GET /livez`: 200 while the process and its event loop serve requests. It checks nothing
  outside the process on purpose: a broker or database outage must not make Kubernetes
  restart every pod at once, which would only add a restart storm to the outage.
- `GET /readyz`: 200 when the service's MongoDB answers a ping and an AMQP connection opens;
  otherwise 503 with each failed check named, so traffic goes elsewhere until it recovers.
- `GET /metrics`: the service's Prometheus metrics (`qunping.core.metrics`).
"""

from __future__ import annotations

import json
from typing import Any

from kombu.connection import Connection
from nameko.extensions import DependencyProvider
from nameko.web.handlers import http
from pymongo import MongoClient
from werkzeug.wrappers import Request, Response

from qunping.core.metrics import CONTENT_TYPE, ServiceMetrics, WorkerMetrics

# Each check must fail well inside a probe's timeout (the chart gives probes 5 s).
CHECK_TIMEOUT_SECONDS = 1.5


class ConnectionChecks:
    """Asks MongoDB and RabbitMQ whether they answer now; returns what failed, by name."""

    def __init__(self, mongo: MongoClient[dict[str, Any]], amqp_uri: str) -> None:
        self.mongo = mongo
        self.amqp_uri = amqp_uri

    def failures(self) -> dict[str, str]:
        failures: dict[str, str] = {}
        try:
            self.mongo.admin.command("ping")
        except Exception as error:  # any failure means "not ready"; its text says why
            failures["mongodb"] = _first_line(error)
        try:
            with Connection(self.amqp_uri, connect_timeout=CHECK_TIMEOUT_SECONDS) as connection:
                # One attempt, no back-off: the kubelet repeats the probe itself.
                connection.ensure_connection(max_retries=0)
        except Exception as error:
            failures["amqp"] = _first_line(error)
        return failures


class ConnectionChecksProvider(DependencyProvider):  # type: ignore[misc]
    """One MongoDB client per container for the probes, apart from the service's own."""

    def setup(self) -> None:
        config = self.container.config
        self.mongo: MongoClient[dict[str, Any]] = MongoClient(
            config["MONGO_URI"],
            serverSelectionTimeoutMS=int(CHECK_TIMEOUT_SECONDS * 1000),
            connectTimeoutMS=int(CHECK_TIMEOUT_SECONDS * 1000),
        )
        self.checks = ConnectionChecks(self.mongo, config["AMQP_URI"])

    def stop(self) -> None:
        self.mongo.close()

    def kill(self) -> None:
        self.mongo.close()

    def get_dependency(self, worker_ctx: Any) -> ConnectionChecks:
        return self.checks


class HealthEndpoints:
    """Mix into a nameko service class to give it `/livez`, `/readyz` and `/metrics`."""

    connection_checks: ConnectionChecks = ConnectionChecksProvider()
    metrics: ServiceMetrics = WorkerMetrics()

    @http("GET", "/livez")  # type: ignore[untyped-decorator]
    def livez(self, request: Request) -> Response:
        return _json(200, {"status": "alive"})

    @http("GET", "/readyz")  # type: ignore[untyped-decorator]
    def readyz(self, request: Request) -> Response:
        failures = self.connection_checks.failures()
        if failures:
            return _json(503, {"status": "not ready", "failed": failures})
        return _json(200, {"status": "ready", "checked": ["mongodb", "amqp"]})

    @http("GET", "/metrics")  # type: ignore[untyped-decorator]
    def prometheus_metrics(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), status=200, content_type=CONTENT_TYPE)


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _first_line(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0][:200]
