"""A service's registry: counters, and gauges read at scrape time from their sources."""

from prometheus_client.parser import text_string_to_metric_families

from qunping.core.errors import Refused
from qunping.core.metrics import Reading, ServiceMetrics, outcome_of


def samples(metrics: ServiceMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def lag(value: float) -> list[Reading]:
    return [Reading("qunping_relay_lag_events", "lag", {"log": "ballot"}, value)]


def test_gauges_are_read_at_each_scrape_and_two_replicas_report_the_worse() -> None:
    metrics = ServiceMetrics()
    current = {"a": 3.0, "b": 5.0}

    def first() -> list[Reading]:
        return lag(current["a"])

    def second() -> list[Reading]:
        return lag(current["b"])

    metrics.add_readings(first)
    metrics.add_readings(second)
    assert samples(metrics)[("qunping_relay_lag_events", (("log", "ballot"),))] == 5
    current["b"] = 0
    assert samples(metrics)[("qunping_relay_lag_events", (("log", "ballot"),))] == 3
    metrics.remove_readings(first)
    metrics.remove_readings(second)
    assert ("qunping_relay_lag_events", (("log", "ballot"),)) not in samples(metrics)


def test_counters_are_shared_by_name_and_each_registry_is_its_services_own() -> None:
    one, other = ServiceMetrics(), ServiceMetrics()

    one.counter("qunping_webhook_attempts", "attempts", ["outcome"]).labels("dead").inc()
    one.counter("qunping_webhook_attempts", "attempts", ["outcome"]).labels("dead").inc()

    assert samples(one)[("qunping_webhook_attempts_total", (("outcome", "dead"),))] == 2
    assert ("qunping_webhook_attempts_total", (("outcome", "dead"),)) not in samples(other)
    assert any(name == "process_start_time_seconds" for name, _ in samples(one))


def test_an_outcome_names_the_error_class_a_caller_handles_and_nothing_else() -> None:
    def raised(error: Exception) -> object:
        try:
            raise error
        except Exception as caught:
            return (type(caught), caught, caught.__traceback__)

    assert outcome_of(None) == "ok"
    assert outcome_of(raised(Refused("token 1234-abcd already used"))) == "Refused"
    assert outcome_of(raised(KeyError("e5d5-9dfb"))) == "error"
