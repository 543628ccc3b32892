"""Fixtures of the console's browser tests: the browser (required on the CI run with services, skipped elsewhere when
missing) and real ``leadflow serve`` processes on the test database."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cli.servers import Server, cli_env, start_server
from tests.console.browser.support import ARGS, CHROMIUM


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
            pytest.fail("chromium is required on this run (/usr/bin/chromium)")
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    return CHROMIUM


@pytest.fixture
def serve(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """``serve(**settings)`` starts ``leadflow serve --port 0`` on the test database (once the test has made its
    data); every server started is stopped at the end."""
    started: list[Server] = []

    def start(**settings: Any) -> Server:
        server = start_server(cli_env(database_url, tmp_path / "data", **settings), timeout=120)  # a busy machine
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=str(chromium), args=ARGS)
        yield launched
        await launched.close()
