from collections.abc import Callable
from typing import Any

import pytest
from pymongo import MongoClient

from tests.integration.gateway.gateway_stack import Stack, start_stack


@pytest.fixture
def stack(
    container_factory: Callable[..., Any],
    nameko_config: dict[str, Any],
    mongo_client: MongoClient[dict[str, Any]],
) -> Stack:
    return start_stack(container_factory, nameko_config, mongo_client)
