"""Database metrics (SPEC §10): pool size, connections checked out and in overflow, statement duration.

Updated by SQLAlchemy's pool and cursor events, so the figures are right in every process and, summed over live
processes, in multiprocess mode.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import Gauge, Histogram
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

POOL_SIZE = Gauge("leadflow_db_pool_size", "Configured connection pool size.", ["engine"], multiprocess_mode="livesum")
POOL_CHECKED_OUT = Gauge("leadflow_db_pool_checked_out", "Connections in use.", ["engine"], multiprocess_mode="livesum")
POOL_OVERFLOW = Gauge(
    "leadflow_db_pool_overflow", "Connections open above the pool size.", ["engine"], multiprocess_mode="livesum"
)
QUERY_DURATION = Histogram(
    "leadflow_db_query_duration_seconds",
    "Database statement time.",
    ["operation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
OPERATIONS = frozenset({"select", "insert", "update", "delete"})


def _operation(statement: str) -> str:
    words = statement.split(None, 1)
    word = words[0].lower() if words else ""
    return word if word in OPERATIONS else "other"


def observe_pool(engine: AsyncEngine, name: str) -> None:
    pool = engine.sync_engine.pool
    size = getattr(pool, "size", None)
    POOL_SIZE.labels(name).set(size() if callable(size) else 0)
    checked_out = POOL_CHECKED_OUT.labels(name)
    overflow = POOL_OVERFLOW.labels(name)

    def refresh_overflow() -> None:
        count = getattr(pool, "overflow", None)
        overflow.set(max(0, count()) if callable(count) else 0)

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(*_: Any) -> None:
        checked_out.inc()
        refresh_overflow()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(*_: Any) -> None:
        checked_out.dec()
        refresh_overflow()

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn: Any, _cursor: Any, _statement: str, *_: Any) -> None:
        conn.info.setdefault("query_started", []).append(time.perf_counter())

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        started = conn.info.get("query_started")
        if started:
            QUERY_DURATION.labels(_operation(statement)).observe(time.perf_counter() - started.pop())

    @event.listens_for(engine.sync_engine, "handle_error")
    def _error(context: Any) -> None:
        connection = context.connection
        started = connection.info.get("query_started") if connection is not None else None
        if started:
            started.pop()
