"""A CSV export streams: the memory it takes does not grow with the number of rows (docs/api.md#csv-export).

The export runs through the whole app (routing, the policy, the service's server-side cursor, the CSV writer), driven
as an ASGI call whose ``send`` counts the body and drops it, so that nothing but the app holds the rows; tracemalloc
measures the peak of what Python allocated meanwhile. 5 000 and then 50 000 requests, inserted in bulk."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tracemalloc
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select

from leadflow.catalog.models import RequestType
from leadflow.requests.models import Request
from tests.conftest import Harness

MiB = 1024 * 1024
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass
class Export:
    status: int
    rows: int  # CSV records after the header
    size: int  # bytes of the body
    peak: int  # the peak of Python's allocations during the export, in bytes


async def export(app: Any, token: str, path: str, query: bytes, leave_after: int | None = None) -> Export:
    """One GET through the ASGI app; the body is counted, never kept. ``leave_after``: the client disconnects after
    that many chunks of the body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    sent_request = False
    finished = asyncio.Event()
    counts = {"status": 0, "lines": 0, "size": 0, "chunks": 0}

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await finished.wait()  # the client stays connected until the body is done
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            counts["status"] = message["status"]
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            counts["lines"] += body.count(b"\r\n")
            counts["size"] += len(body)
            counts["chunks"] += 1
            if not message.get("more_body", False) or counts["chunks"] == leave_after:
                finished.set()

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        await app(scope, receive, send)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    return Export(status=counts["status"], rows=counts["lines"] - 1, size=counts["size"], peak=peak)


async def add_requests(h: Harness, city_id: int, start: int, count: int) -> None:
    async with h.database.session() as session:
        type_id = await session.scalar(select(RequestType.id).where(RequestType.code == "first_time"))
        for first in range(start, start + count, 5000):
            rows = [
                {
                    "status": "new",
                    "source": "api",
                    "city_id": city_id,
                    "request_type_id": type_id,
                    "client_phone": f"7900{i:07d}",
                    "client_name": f"Клиент {i}",
                    "address": f"ул. Длинная, д. {i}, кв. {i % 300}",
                    "problem": "Не включается, шумит, течёт",
                    "version": 1,
                    "created_at": T0 + dt.timedelta(seconds=i),
                    "updated_at": T0,
                    "status_changed_at": T0,
                }
                for i in range(first, min(first + 5000, start + count))
            ]
            await session.execute(insert(Request), rows)
        await session.commit()


async def test_export_memory_does_not_grow_with_the_rows(h: Harness) -> None:
    city = await h.city()
    token = await h.token(await h.user("admin"))
    await add_requests(h, city.id, 0, 5_000)
    small = await export(h.app, token, "/api/v1/requests", b"format=csv")
    await add_requests(h, city.id, 5_000, 45_000)
    large = await export(h.app, token, "/api/v1/requests", b"format=csv")

    assert (small.status, small.rows, large.status, large.rows) == (200, 5_000, 200, 50_000)
    assert large.size > 9 * small.size  # ten times the rows, ten times the bytes ...
    # ... in about the same memory: one batch of rows and of text at a time, never the result.
    assert large.peak < small.peak + 4 * MiB, (small, large)
    assert large.peak < large.size, large  # less than the file it produced (the rows as objects: many times more)


async def test_a_client_that_leaves_mid_export_ends_it_cleanly(h: Harness, caplog: Any) -> None:
    """The response stops, the cursor is closed while the session is open, and the next export is whole."""
    city = await h.city()
    token = await h.token(await h.user("admin"))
    await add_requests(h, city.id, 0, 3_500)
    with caplog.at_level(logging.ERROR):
        left = await export(h.app, token, "/api/v1/requests", b"format=csv", leave_after=2)
    assert left.status == 200 and 0 < left.rows < 3_500, left  # the header and one batch at most
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.records
    whole = await export(h.app, token, "/api/v1/requests", b"format=csv")
    assert (whole.status, whole.rows) == (200, 3_500)
