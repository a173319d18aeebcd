"""Configuration from the environment: local defaults, and clear errors for bad values."""

import pytest

from qunping.core.config import settings_from
from qunping.core.errors import InvalidInput


def test_an_empty_environment_gives_the_embedded_local_defaults() -> None:
    settings = settings_from({})

    assert settings.amqp_uri == "amqp://guest:guest@127.0.0.1:5672/"
    assert settings.mongo_uri.startswith("mongodb://127.0.0.1:27117/")
    assert settings.database_name("ballot") == "qunping_ballot"


def test_the_nameko_config_accepts_cloudevents_messages() -> None:
    config = settings_from({"AMQP_URI": "amqps://broker/"}).nameko_config()

    assert config["AMQP_URI"] == "amqps://broker/"
    assert "cloudevents" in config["ACCEPT"]


def test_the_health_and_http_port_maps_to_the_nameko_web_server_on_every_interface() -> None:
    assert settings_from({}).nameko_config()["WEB_SERVER_ADDRESS"] == "0.0.0.0:8000"
    config = settings_from({"QUNPING_HTTP_PORT": "8081"}).nameko_config()

    assert config["WEB_SERVER_ADDRESS"] == "0.0.0.0:8081"


def test_bad_values_are_refused_naming_each_variable() -> None:
    with pytest.raises(InvalidInput) as refused:
        settings_from(
            {
                "AMQP_URI": "http://broker",
                "QUNPING_MAX_WORKERS": "lots",
                "QUNPING_DB_PREFIX": "Bad-Prefix",
                "QUNPING_HTTP_PORT": "70000",
            }
        )

    assert set(refused.value.messages) == {
        "AMQP_URI",
        "QUNPING_MAX_WORKERS",
        "QUNPING_DB_PREFIX",
        "QUNPING_HTTP_PORT",
    }
