"""PostgreSQL's session limits and errors as the service sees them (platform.db): every session carries the
configured statement, lock and idle-in-transaction timeouts; a statement cancelled for its time is a
``database-timeout``; a session the server ended is a disconnect whose connection the pool replaces. (The same,
end to end under load: tests/faults/.)"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from leadflow.platform.db import Database
from leadflow.platform.problems import DatabaseTimeout, DatabaseUnavailable, database_problem, sqlstate
from tests.conftest import ON_POSTGRES

pytestmark = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's own limits and errors")


async def show(database: Database, *names: str) -> list[str]:
    async with database.session() as session:
        return [str(await session.scalar(text(f"SHOW {name}"))) for name in names]


async def test_every_session_carries_the_limits(settings_factory: Any) -> None:
    names = ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")
    database = Database(settings_factory())
    try:
        assert await show(database, *names) == ["10s", "5s", "1min"]  # the defaults
    finally:
        await database.dispose()
    database = Database(
        settings_factory(db_statement_timeout_ms=1500, db_lock_timeout_ms=0, db_idle_in_transaction_timeout_ms=250)
    )
    try:
        # 0 leaves the server's own setting (here PostgreSQL's default, no limit).
        assert await show(database, *names) == ["1500ms", "0", "250ms"]
    finally:
        await database.dispose()


async def test_a_statement_past_its_time_is_a_database_timeout(settings_factory: Any) -> None:
    database = Database(settings_factory(db_statement_timeout_ms=100))
    try:
        with pytest.raises(OperationalError) as caught:
            async with database.session() as session:
                await session.execute(text("SELECT pg_sleep(2)"))
        assert sqlstate(caught.value) == "57014" and not caught.value.connection_invalidated
        problem = database_problem(caught.value)
        assert isinstance(problem, DatabaseTimeout) and problem.status == 503 and problem.slug == "database-timeout"
        assert await show(database, "server_version_num")  # the same pool answers the next one
    finally:
        await database.dispose()


async def test_a_lock_wait_past_its_time_is_a_database_timeout(settings_factory: Any) -> None:
    database = Database(settings_factory(db_statement_timeout_ms=0, db_lock_timeout_ms=100))
    holder = Database(settings_factory())
    try:
        async with holder.session() as locking:
            await locking.execute(text("LOCK TABLE cities IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(OperationalError) as caught:
                async with database.session() as session:
                    await session.execute(text("SELECT count(*) FROM cities"))
            await locking.rollback()
        assert sqlstate(caught.value) == "55P03" and not caught.value.connection_invalidated
        assert isinstance(database_problem(caught.value), DatabaseTimeout)
    finally:
        await database.dispose()
        await holder.dispose()


async def test_a_session_ended_by_the_server_is_a_disconnect(settings_factory: Any) -> None:
    database = Database(settings_factory(db_pool_size=1, db_max_overflow=0))
    admin = Database(settings_factory())
    try:
        async with database.session() as session:
            pid = await session.scalar(text("SELECT pg_backend_pid()"))
            running = asyncio.create_task(session.execute(text("SELECT pg_sleep(5)")))
            async with admin.session() as other:
                sleeping = text("SELECT wait_event = 'PgSleep' FROM pg_stat_activity WHERE pid = :pid")
                for _ in range(500):
                    if await other.scalar(sleeping, {"pid": pid}):
                        break
                    await asyncio.sleep(0.01)
                # What an operator's pg_terminate_backend, or a fast shutdown, does: 57P01 to the session.
                assert await other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(OperationalError) as caught:
                await running
        # "connection was closed in the middle of operation" (08003) after "terminating connection due to administrator
        # command" (57P01): asyncpg's adapter raises it as a bare DBAPIError, the service's hook as OperationalError.
        assert sqlstate(caught.value) in {"08003", "57P01"}
        assert caught.value.connection_invalidated  # the dead connection is not given back to the pool
        assert isinstance(database_problem(caught.value), DatabaseUnavailable)
        async with database.session() as session:  # a new connection in its place
            assert await session.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await database.dispose()
        await admin.dispose()
