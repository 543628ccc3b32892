"""A slow database (SPEC §13): a request whose statement PostgreSQL cancels for its time (``DB_STATEMENT_TIMEOUT_MS``)
answers 503 ``database-timeout`` within about that time, leaves nothing half-written, and frees its worker: once
the database is quick again the same requests succeed. The slowness is real: another session holds an exclusive lock
on the requests table. (The lock timeout's own answer, the same: tests/platform/test_database_limits.py.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.faults.conftest import serving
from tests.faults.load import API, PROBLEM, Load, next_phone, summary
from tests.support.postgres_server import PrivatePostgres

pytestmark = pytest.mark.slow

LIMIT_MS = 500
SLACK_S = 1.5  # an answer comes at most this long after the limit (a loaded two-core machine)


async def test_a_statement_past_its_time_is_503_and_frees_the_worker(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    # The statement timeout, below the lock timeout (5 s by default): the one that fires is the statement's.
    async with serving(private_postgres.url, tmp_path, db_statement_timeout_ms=LIMIT_MS) as service:
        load = Load(service.scenario)
        city = service.scenario.city_id
        async with load.client() as client:
            first = await client.post(
                f"{API}/requests", json={"city_id": city, "client_phone": "+" + next_phone(), "address": "Lenina 1"}
            )
            assert first.status_code == 201, first.text
            one = f"{API}/requests/{first.json()['id']}"

            def round_of_calls() -> list[Any]:
                """Reads and writes of the requests table, and (``me``) a read of something else."""
                create = {"city_id": city, "client_phone": "+" + next_phone()}
                return [
                    *(load.call(client, "get", "GET", one) for _ in range(4)),
                    *(load.call(client, "list", "GET", f"{API}/requests", params={"city_id": city}) for _ in range(2)),
                    *(load.call(client, "create", "POST", f"{API}/requests", json=create) for _ in range(1)),
                    *(load.call(client, "me", "GET", f"{API}/auth/me") for _ in range(2)),
                ]

            locker = await asyncpg.connect(private_postgres.dsn)
            try:
                locking = locker.transaction()
                await locking.start()
                await locker.execute("LOCK TABLE requests IN ACCESS EXCLUSIVE MODE")
                locked = time.monotonic()
                await asyncio.gather(*round_of_calls(), *round_of_calls())
                await locking.rollback()
                released = time.monotonic()
            finally:
                await locker.close()
            await asyncio.gather(*round_of_calls())

        while_locked = load.between(locked, released)
        stuck = [c for c in while_locked if c.name != "me"]
        assert len(stuck) == 14, summary(while_locked)
        for call in stuck:
            assert call.status == 503 and call.problem_type == "database-timeout", call
            assert call.content_type.startswith(PROBLEM)
            assert LIMIT_MS / 1000 - 0.05 <= call.elapsed < LIMIT_MS / 1000 + SLACK_S, call
        # What does not touch the locked table is not held up by it.
        assert all(c.ok for c in while_locked if c.name == "me"), summary(while_locked)
        after = [c for c in load.calls if c.started >= released]
        assert len(after) == 9 and all(c.ok for c in after), summary(after)
        # The creates that timed out left nothing: the table has the first request and the one made afterwards.
        admin = {"Authorization": f"Bearer {service.scenario.admin}"}
        async with httpx.AsyncClient(base_url=service.server.url, headers=admin) as client:
            listed = await client.get(f"{API}/requests", params={"city_id": city})
        assert listed.json()["total"] == 2
        # The log names the cause: PostgreSQL's SQLSTATE of a statement cancelled by the statement timeout.
        assert '"sqlstate": "57014"' in service.log.read_text()
        print(f"\nslow database: while locked {summary(stuck)}; after {summary(after)}")
