"""Real headless Chromium (Debian's /usr/bin/chromium) driven by playwright."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, sync_playwright
from pymongo import MongoClient

from tests.conftest import ARTIFACTS
from tests.integration.gateway.gateway_stack import Stack, stack_processes

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make test` as root, or apt-get install chromium")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    # No `playwright.stop()`: under eventlet's patched subprocess module it waits forever
    # for the driver; the driver exits with this process's stdin closing.


@pytest.fixture
def stack(
    amqp_uri: str, mongo_uri: str, mongo_client: MongoClient[dict[str, Any]]
) -> Iterator[Stack]:
    """The services as processes of their own: playwright's calls block this process, so
    services inside it would never get to answer."""
    with stack_processes(amqp_uri, mongo_uri, mongo_client, ARTIFACTS / "browser") as stack:
        yield stack


@pytest.fixture
def screenshots() -> Path:
    directory = ARTIFACTS / "browser"
    directory.mkdir(parents=True, exist_ok=True)
    return directory
