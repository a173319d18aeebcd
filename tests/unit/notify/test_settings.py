import pytest

from qunping.core.errors import InvalidInput
from services.notify.settings import notify_settings


def test_without_an_smtp_host_mail_is_recorded_not_sent() -> None:
    settings = notify_settings({}, environ={})

    assert settings.smtp is None
    assert settings.retry.max_attempts == 8


def test_the_nameko_config_overrides_the_environment() -> None:
    settings = notify_settings(
        {"QUNPING_WEBHOOK_MAX_ATTEMPTS": "3"},
        environ={"QUNPING_WEBHOOK_MAX_ATTEMPTS": "9", "QUNPING_SMTP_HOST": "mail.gov.cn"},
    )

    assert settings.retry.max_attempts == 3
    assert settings.smtp is not None and settings.smtp.host == "mail.gov.cn"


def test_a_bad_value_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(InvalidInput) as refused:
        notify_settings(
            {}, environ={"QUNPING_SMTP_SECURITY": "maybe", "QUNPING_WEBHOOK_MAX_ATTEMPTS": "0"}
        )

    assert set(refused.value.messages) == {
        "QUNPING_SMTP_SECURITY",
        "QUNPING_WEBHOOK_MAX_ATTEMPTS",
    }
