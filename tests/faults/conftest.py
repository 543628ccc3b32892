"""Fault tests (SPEC §13): real ``leadflow serve`` processes under concurrent load while what they depend on goes
away, each on short-lived servers of its own (a private ``redis-server``, a private PostgreSQL cluster), never the
shared ones."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leadflow.platform import migrations
from tests.cli.servers import Server, cli_env, start_server
from tests.conftest import ON_POSTGRES
from tests.faults.load import Scenario, make_admin, scenario, server_env
from tests.support.postgres_server import PrivatePostgres, private_postgres_or_skip


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL cluster with an empty database, for one test. These tests are about PostgreSQL: they run
    on the PostgreSQL run of the suite (``LEADFLOW_TEST_DATABASE_URL``, or ``LEADFLOW_TEST_FAULTS_POSTGRES=1`` to run
    them on a SQLite run too) and are skipped on the embedded SQLite run."""
    if not ON_POSTGRES and not os.environ.get("LEADFLOW_TEST_FAULTS_POSTGRES"):
        pytest.skip("a PostgreSQL fault test: runs on the PostgreSQL run (LEADFLOW_TEST_DATABASE_URL)")
    server = private_postgres_or_skip()
    try:
        yield server
    finally:
        server.destroy()


@dataclass
class Service:
    server: Server
    scenario: Scenario
    env: dict[str, str]
    log: Path


@asynccontextmanager
async def serving(
    database_url: str, tmp_path: Path, *, args: tuple[str, ...] = (), **settings: Any
) -> AsyncIterator[Service]:
    """One ``leadflow serve --port 0`` process on ``database_url`` (migrated first), its stderr in a file, with the
    load's accounts made (``create-admin`` while the server starts, then the API); stopped with SIGTERM at the end
    unless the test stopped it."""
    env = server_env(cli_env(database_url, tmp_path / "data", **settings))
    await asyncio.to_thread(migrations.upgrade, database_url)
    log = tmp_path / "serve.log"
    server, _ = await asyncio.gather(
        asyncio.to_thread(start_server, env, timeout=60, args=args, log=log), asyncio.to_thread(make_admin, env)
    )
    try:
        yield Service(server, await scenario(server.url), env, log)
    finally:
        server.stop()
