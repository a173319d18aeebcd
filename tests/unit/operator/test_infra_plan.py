"""How `qunping infra up` decides what to do about RabbitMQ, and what it tells the operator."""

import pytest

from qunping.operator import infra
from qunping.operator.infra import RabbitAction, rabbitmq_plan


@pytest.mark.parametrize(
    "reachable, from_environment, installed, debian, root, action",
    [
        (True, False, False, False, False, RabbitAction.USE_RUNNING),
        (True, True, True, True, True, RabbitAction.USE_RUNNING),
        (False, True, True, True, True, RabbitAction.GIVE_UP),
        (False, False, True, False, False, RabbitAction.START),
        (False, False, False, True, True, RabbitAction.INSTALL_AND_START),
        (False, False, False, True, False, RabbitAction.GIVE_UP),
        (False, False, False, False, True, RabbitAction.GIVE_UP),
    ],
)
def test_rabbitmq_plan(
    reachable: bool,
    from_environment: bool,
    installed: bool,
    debian: bool,
    root: bool,
    action: RabbitAction,
) -> None:
    assert (
        rabbitmq_plan(
            reachable=reachable,
            uri_from_environment=from_environment,
            installed=installed,
            debian=debian,
            root=root,
        )
        is action
    )


def test_giving_up_says_exactly_what_to_run() -> None:
    message = infra._rabbitmq_help(
        "amqp://guest:secret@127.0.0.1:5672/", "connection refused", chosen=False
    )

    assert "apt-get install rabbitmq-server" in message
    assert "rabbitmq-server -detached" in message
    assert "AMQP_URI=" in message
    assert "secret" not in message


def test_a_broker_the_operator_chose_is_never_replaced() -> None:
    message = infra._rabbitmq_help("amqp://u:p@broker:5672/", "timed out", chosen=True)

    assert "does not answer" in message and "unset AMQP_URI" in message
