"""Log lines: plain text for a terminal, one JSON object per line for a log collector.

`QUNPING_LOG_FORMAT=json` (the chart's default) makes every line an object with `time`,
`service`, `level`, `logger`, `message`, `correlation_id` and, for an exception, `exception`.
The correlation id is the one of the request or event being handled (set per worker by
`qunping.core.metrics.WorkerMetrics`), `-` outside any.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

NO_CORRELATION = "-"
correlation_id: ContextVar[str] = ContextVar("qunping_correlation_id", default=NO_CORRELATION)

PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s]: %(message)s"


class CorrelationFilter(logging.Filter):
    """Gives every record the correlation id of what is being handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = correlation_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = NO_CORRELATION) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "service": self.service,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", correlation_id.get()),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


OWN_LOGGERS = ("qunping", "services")
"""Loggers that log at DEBUG when asked. Every other library logs at INFO at most: at
DEBUG, nameko logs each RPC request and reply and pymongo each command, which on the cast
path would put ballot tokens, receipts and marks into the logs."""


def logging_config(level: str, log_format: str, service: str) -> dict[str, Any]:
    """The `logging.config.dictConfig` of a service (nameko's `LOGGING`)."""
    libraries = "INFO" if level == "DEBUG" else level
    formatter: dict[str, Any] = (
        {"()": JsonFormatter, "service": service}
        if log_format == "json"
        else {"format": PLAIN_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"correlation": {"()": CorrelationFilter}},
        "formatters": {log_format: formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["correlation"],
            }
        },
        "loggers": {name: {"level": level} for name in OWN_LOGGERS},
        "root": {"level": libraries, "handlers": ["console"]},
    }
