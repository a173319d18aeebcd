"""Prometheus metrics of a service, served at `/metrics` on its HTTP port.

Every container has a registry of its own (`service_metrics`), so a process that runs
several services (the tests) still shows each one only its own figures. Two kinds of
metric live in it:

- counters and histograms that code increments as things happen (RPC calls, events
  appended, HTTP requests, webhook attempts);
- gauges read when Prometheus scrapes (`Reading`s from `add_readings`): a log's head and
  its relay's checkpoint, a projection's checkpoint, notify's outbox by status. Reading
  them at scrape time costs a few indexed queries every scrape interval and never lies
  about a stalled thread, which a gauge set by that thread would.

Labels name code (a method, a log, a route template, an outcome), never data: no id,
token, receipt, name or address is ever a label value, so nothing counted follows a voter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.web.handlers import HttpRequestHandler
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.process_collector import ProcessCollector
from werkzeug.wrappers import Request, Response

from qunping.core.errors import QunpingError
from qunping.core.logs import correlation_id

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ROUTE_KEY = "qunping.route"
"""A request's WSGI environ key for its route template, set by a router that matched it;
without it the HTTP entrypoint's own URL rule is the template."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One gauge sample, read at scrape time."""

    name: str
    help: str
    labels: dict[str, str]
    value: float


Readings = Callable[[], Iterable[Reading]]


class _ScrapeTimeGauges:
    def __init__(self) -> None:
        self.sources: list[Readings] = []

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        for source in list(self.sources):
            for reading in source():
                key = (reading.name, tuple(sorted(reading.labels.items())))
                # Two replicas in one process report the same series: keep the worse one.
                seen[key] = max(reading.value, seen.get(key, reading.value))
                if reading.name not in families:
                    families[reading.name] = GaugeMetricFamily(
                        reading.name, reading.help, labels=sorted(reading.labels)
                    )
        for (name, labels), value in seen.items():
            families[name].add_metric([value for _, value in labels], value)
        yield from families.values()


class ServiceMetrics:
    """One service's registry and the metrics every service has."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        self._gauges = _ScrapeTimeGauges()
        self.registry.register(self._gauges)
        self._lock = threading.Lock()
        self._counters: dict[str, Counter] = {}
        self._histograms: dict[str, Histogram] = {}
        self.rpc_calls = self.counter(
            "qunping_rpc_calls", "RPC calls answered, by method and outcome", ["method", "outcome"]
        )
        self.rpc_seconds = self.histogram(
            "qunping_rpc_duration_seconds",
            "Time to answer an RPC call, by method and outcome",
            ["method", "outcome"],
        )
        self.events_handled = self.counter(
            "qunping_events_handled",
            "Events taken by an event handler, by handler and outcome",
            ["handler", "outcome"],
        )
        self.http_requests = self.counter(
            "qunping_http_requests",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
        )
        self.http_seconds = self.histogram(
            "qunping_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
        )
        self.events_appended = self.counter(
            "qunping_events_appended", "Events appended to an event log, by log", ["log"]
        )
        self.tamper_alerts = self.counter(
            "qunping_tamper_alerts",
            "Public TamperDetected alerts recorded in a log, by the log recording them",
            ["log"],
        )

    def counter(self, name: str, documentation: str, labels: Sequence[str]) -> Counter:
        """The counter `name` of this registry, created on first use."""
        with self._lock:
            if name not in self._counters:
                self._counters[name] = Counter(name, documentation, labels, registry=self.registry)
            return self._counters[name]

    def histogram(self, name: str, documentation: str, labels: Sequence[str]) -> Histogram:
        with self._lock:
            if name not in self._histograms:
                self._histograms[name] = Histogram(
                    name, documentation, labels, registry=self.registry
                )
            return self._histograms[name]

    def add_readings(self, source: Readings) -> None:
        """Read `source` at every scrape, until `remove_readings`."""
        self._gauges.sources.append(source)

    def remove_readings(self, source: Readings) -> None:
        if source in self._gauges.sources:
            self._gauges.sources.remove(source)

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))


_CONTAINER_ATTRIBUTE = "_qunping_metrics"


def service_metrics(container: Any) -> ServiceMetrics:
    """The metrics of a nameko container, shared by all its dependency providers."""
    metrics: ServiceMetrics | None = getattr(container, _CONTAINER_ATTRIBUTE, None)
    if metrics is None:
        metrics = ServiceMetrics()
        setattr(container, _CONTAINER_ATTRIBUTE, metrics)
    return metrics


def outcome_of(exc_info: Any) -> str:
    """`ok`, the class of a qunping error a caller is meant to handle, or `error`."""
    if exc_info is None:
        return "ok"
    error = exc_info[1]
    return type(error).__name__ if isinstance(error, QunpingError) else "error"


def http_status_of(result: Any, exc_info: Any) -> int:
    if exc_info is not None:
        return 500
    if isinstance(result, Response):
        return result.status_code
    if isinstance(result, tuple) and result and isinstance(result[0], int):
        return result[0]
    return 200


class WorkerMetrics(DependencyProvider):  # type: ignore[misc]
    """Times and counts every worker, and sets the correlation id its log lines carry.

    The correlation id is the event's id for an event handler and otherwise the call id
    nameko passes along a chain of calls (the gateway's request and the RPC calls it
    makes share one)."""

    def setup(self) -> None:
        self.metrics = service_metrics(self.container)
        self._started: dict[Any, tuple[float, Any]] = {}

    def get_dependency(self, worker_ctx: Any) -> ServiceMetrics:
        return self.metrics

    def worker_setup(self, worker_ctx: Any) -> None:
        token = correlation_id.set(_correlation_of(worker_ctx))
        self._started[worker_ctx] = (time.perf_counter(), token)

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        started = self._started.get(worker_ctx)
        if started is None:
            return
        seconds = time.perf_counter() - started[0]
        entrypoint = worker_ctx.entrypoint
        method = entrypoint.method_name
        outcome = outcome_of(exc_info)
        if isinstance(entrypoint, Rpc):
            self.metrics.rpc_calls.labels(method, outcome).inc()
            self.metrics.rpc_seconds.labels(method, outcome).observe(seconds)
        elif isinstance(entrypoint, EventHandler):
            self.metrics.events_handled.labels(method, outcome).inc()
        elif isinstance(entrypoint, HttpRequestHandler):
            request = worker_ctx.args[0] if worker_ctx.args else None
            route = entrypoint.url
            if isinstance(request, Request):
                route = request.environ.get(ROUTE_KEY, route)
            verb = request.method if isinstance(request, Request) else "GET"
            status = http_status_of(result, exc_info)
            self.metrics.http_requests.labels(route, verb, str(status)).inc()
            self.metrics.http_seconds.labels(route).observe(seconds)
            outcome = f"{verb} {route} {status}"
        # Names and outcomes only, never arguments or results: they may be ballots.
        log.debug(
            "%s.%s: %s in %.1f ms", self.container.service_name, method, outcome, seconds * 1000
        )

    def worker_teardown(self, worker_ctx: Any) -> None:
        started = self._started.pop(worker_ctx, None)
        if started is not None:
            correlation_id.reset(started[1])


def _correlation_of(worker_ctx: Any) -> str:
    if isinstance(worker_ctx.entrypoint, EventHandler) and worker_ctx.args:
        event = worker_ctx.args[0]
        if isinstance(event, dict) and isinstance(event.get("id"), str):
            return str(event["id"])[:100]
    return str(worker_ctx.call_id_stack[0])
