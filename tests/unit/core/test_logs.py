"""Log lines as configured by QUNPING_LOG_FORMAT and QUNPING_LOG_LEVEL."""

import io
import json
import logging
import logging.config
from collections.abc import Callable, Iterator

import pytest

from qunping.core.config import settings_from
from qunping.core.errors import InvalidInput
from qunping.core.logs import OWN_LOGGERS, correlation_id

Configure = Callable[[dict[str, str]], io.StringIO]


@pytest.fixture
def configure() -> Iterator[Configure]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    stream = io.StringIO()

    def apply(environ: dict[str, str]) -> io.StringIO:
        config = settings_from(environ).nameko_config("ballot")["LOGGING"]
        config["handlers"]["console"]["stream"] = stream
        logging.config.dictConfig(config)
        return stream

    yield apply
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_lines_carry_service_level_logger_message_and_correlation_id(
    configure: Configure,
) -> None:
    stream = configure({"QUNPING_LOG_FORMAT": "json"})
    token = correlation_id.set("gateway.api.1234")
    try:
        logging.getLogger("services.ballot.service").warning("meeting %s closed", "光明社区")
    finally:
        correlation_id.reset(token)
    logging.getLogger("qunping.core.relay").error("failed", exc_info=ValueError("boom"))

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {key: first[key] for key in first if key != "time"} == {
        "service": "ballot",
        "level": "WARNING",
        "logger": "services.ballot.service",
        "message": "meeting 光明社区 closed",
        "correlation_id": "gateway.api.1234",
    }
    assert first["time"].endswith("+00:00")
    assert second["correlation_id"] == "-"
    assert "ValueError: boom" in second["exception"]


def test_plain_lines_name_the_correlation_id_too(configure: Configure) -> None:
    stream = configure({})
    token = correlation_id.set("tally.on_ballot_event.9")
    try:
        logging.getLogger("services.tally").info("applied")
    finally:
        correlation_id.reset(token)

    assert (
        stream.getvalue()
        .rstrip()
        .endswith("INFO services.tally [tally.on_ballot_event.9]: applied")
    )


def test_at_debug_only_qunping_logs_debug_lines_and_libraries_stay_at_info(
    configure: Configure,
) -> None:
    stream = configure({"QUNPING_LOG_LEVEL": "DEBUG", "QUNPING_LOG_FORMAT": "json"})
    logging.getLogger("nameko.rpc").debug("RPC reply {'receipt': 'e5d5-9dfb'}")
    logging.getLogger("pymongo.command").debug("insert marks")
    logging.getLogger("services.ballot.service").debug("own debug line")

    lines = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert lines == ["own debug line"]


def test_an_unknown_log_format_is_refused_naming_the_variable() -> None:
    with pytest.raises(InvalidInput) as refused:
        settings_from({"QUNPING_LOG_FORMAT": "xml"})

    assert set(refused.value.messages) == {"QUNPING_LOG_FORMAT"}
