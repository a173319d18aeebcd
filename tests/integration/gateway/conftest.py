from collections.abc import Callable
from typing import Any

import pytest
from pymongo import MongoClient

from tests.integration.gateway.gateway_stack import Stack, start_stack


@pytest.fixture
def services_config() -> dict[str, str]:
    """Settings of every service of the stack, beyond the test's nameko config."""
    return {}


@pytest.fixture
def stack(
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
    services_config: dict[str, str],
    mongo_client: MongoClient[dict[str, Any]],
) -> Stack:
    config = {**nameko_config, **services_config}
    return start_stack(container_factory, config, mongo_client, QUNPING_LOGIN_LIMIT_PER_MINUTE=5)
