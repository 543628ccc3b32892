"""GET /metrics/business (SPEC §10): figures, scope, each aggregate on its own session, a failing aggregate reported
as missing while the others stay right, many concurrent calls without a single error, the replica fallback."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import update

from leadflow.observability import business
from leadflow.requests.models import Request
from tests.conftest import Harness, problem
from tests.requests.helpers import create, local_today, reach, team

URL = "/api/v1/metrics/business"


async def test_figures_on_a_small_day(h: Harness) -> None:
    t = await team(h)
    await reach(t, "done", result="5000", expenses="1000")
    await reach(t, "done", result="3000.50", expenses="0")
    await reach(t, "awaiting_dispatch")
    await create(t.operator, t.city.id)
    today = local_today().isoformat()
    body = (await t.admin.get(URL, params={"date_from": today, "date_to": today})).json()
    assert body["missing"] == []
    assert body["requests_total"] == 4
    assert body["requests_by_status"] == {"awaiting_dispatch": 1, "done": 2, "new": 1}
    assert body["requests_by_city"] == {t.city.name: 4}
    assert body["conversion_rate"] == "50.00"  # 2 done of 4 created
    assert body["revenue_daily"] == [{"date": today, "revenue": "8000.50", "done": 2}]
    assert body["avg_processing_time"] is not None and body["avg_processing_time"] >= 0
    # Two handover incomes booked by the server: (5000 - 1000) × 0.5 and 3000.50 × 0.5 half up.
    assert body["transactions_total"] == 2
    assert body["transactions_amount"] == {"income": "3500.25", "expense": "0.00"}
    assert body["active_users"] >= 5  # the team signed in today
    assert body["calls_total"] == 0
    assert body["call_duration_avg"] is None
    assert body["recordings_unlinked"] == 0
    assert body["period"] == {"date_from": today, "date_to": today}
    # Another day holds nothing.
    empty = (await t.admin.get(URL, params={"date_from": "2024-01-01", "date_to": "2024-01-31"})).json()
    assert (empty["requests_total"], empty["conversion_rate"], empty["revenue_daily"]) == (0, None, [])


async def test_directors_see_their_cities_and_others_are_refused(h: Harness) -> None:
    mine, theirs = await team(h), await team(h)
    await reach(mine, "new")
    await reach(theirs, "new")
    await reach(theirs, "new")
    body = (await mine.director.get(URL)).json()
    assert body["requests_by_city"] == {mine.city.name: 1}
    problem(await mine.director.get(URL, params={"city_id": theirs.city.id}), 404)
    problem(await mine.director.get(URL, params={"city_id": 999_999}), 404)
    for role in ("operator", "marketer", "master"):
        problem(await mine.client(role).get(URL), 403)
    problem(await h.client.get(URL), 401)
    problem(await mine.admin.get(URL, params={"date_from": "2026-05-02", "date_to": "2026-05-01"}), 422)
    problem(await mine.admin.get(URL, params={"date_from": "1900-01-01"}), 422)
    problem(await mine.admin.get(URL, params={"city_id": "x"}), 422)


async def test_a_failing_aggregate_is_missing_and_the_others_are_right(
    h: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    t = await team(h)
    await reach(t, "done", result="1000", expenses="0")

    async def broken(session: Any, part: Any) -> Any:
        await session.execute(__import__("sqlalchemy").text("SELECT * FROM no_such_table"))

    monkeypatch.setitem(business.AGGREGATES, "calls_total", broken)
    body = (await t.admin.get(URL)).json()
    assert body["missing"] == ["calls_total"]
    assert body["calls_total"] is None
    # Every other aggregate ran on a session of its own and is right.
    assert body["requests_total"] == 1
    assert body["conversion_rate"] == "100.00"
    assert body["transactions_amount"] == {"income": "500.00", "expense": "0.00"}
    assert body["recordings_unlinked"] == 0
    assert "metric_aggregate_failed" in caplog.text
    # A partial answer is never cached: once the aggregate is back, the next call is whole.
    monkeypatch.undo()
    again = (await t.admin.get(URL)).json()
    assert again["missing"] == []
    assert again["calls_total"] == 0


async def test_fifty_concurrent_calls_without_an_error(h: Harness) -> None:
    """The legacy system ran its aggregates concurrently on one session and failed under load. Fifty calls at once,
    each a different period (so none is served from the cache), each with its aggregates side by side."""
    t = await team(h)
    await reach(t, "done")
    await reach(t, "new")
    first = dt.date(2026, 1, 1)
    days = [(first + dt.timedelta(days=i)).isoformat() for i in range(50)]
    responses = await asyncio.gather(
        *(t.admin.get(URL, params={"date_from": "2025-01-01", "date_to": day}) for day in days)
    )
    assert [r.status_code for r in responses] == [200] * 50
    assert all(r.json()["missing"] == [] for r in responses)


async def test_cached_until_a_write_in_the_city(h: Harness) -> None:
    t = await team(h)
    await reach(t, "new")
    assert (await t.director.get(URL)).json()["requests_total"] == 1
    await create(t.operator, t.city.id)  # a write in the city invalidates its entries
    assert (await t.director.get(URL)).json()["requests_total"] == 2


async def test_reads_fall_back_to_the_primary_when_the_replica_fails(harness_factory: Any) -> None:
    h: Harness = await harness_factory(database_replica_url="postgresql+asyncpg://postgres@127.0.0.1:9/none")
    t = await team(h)
    await reach(t, "done", result="100", expenses="0")
    body = (await t.admin.get(URL)).json()
    assert body["missing"] == []
    assert body["requests_total"] == 1
    report = await t.admin.get("/api/v1/reports/cities")
    assert report.status_code == 200
    scraped = (await h.client.get("/metrics")).text
    assert "leadflow_db_replica_fallbacks_total" in scraped


async def test_completed_at_in_the_city_zone_decides_the_day(h: Harness) -> None:
    t = await team(h)
    done = await reach(t, "done", result="700", expenses="0")
    # Completed at 21:30 UTC on 31 March: 00:30 on 1 April in Moscow.
    async with h.database.session() as session:
        moment = dt.datetime(2026, 3, 31, 21, 30, tzinfo=dt.UTC)
        await session.execute(
            update(Request).where(Request.id == done["id"]).values(created_at=moment, completed_at=moment)
        )
        await session.commit()
    body = (await t.admin.get(URL, params={"date_from": "2026-04-01", "date_to": "2026-04-30"})).json()
    assert body["revenue_daily"] == [{"date": "2026-04-01", "revenue": "700.00", "done": 1}]
    march = (await t.admin.get(URL, params={"date_from": "2026-03-01", "date_to": "2026-03-31"})).json()
    assert march["revenue_daily"] == []


async def test_reports_and_metrics_read_the_replica_when_it_answers(
    harness_factory: Any, database_url: str, tmp_path: Any
) -> None:
    """A replica that lags (here: an empty database with the schema) is what reports read; the primary is not."""
    replica = await _empty_database_like(database_url, tmp_path)
    try:
        h: Harness = await harness_factory(database_replica_url=replica)
        t = await team(h)
        await reach(t, "new")
        # The request list reads the primary; the report and the metrics read the (empty) replica.
        assert (await t.director.get("/api/v1/requests")).json()["total"] == 1
        assert (await t.admin.get("/api/v1/reports/cities")).json()["items"] == []
        assert (await t.admin.get(URL)).json()["requests_total"] == 0
    finally:
        await _drop_database(replica)


async def _empty_database_like(database_url: str, tmp_path: Any) -> str:
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    from leadflow.platform.migrations import upgrade

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        replica = f"sqlite+aiosqlite:///{tmp_path / 'replica.db'}"
    else:
        name = f"{url.database}_replica"
        engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        await engine.dispose()
        replica = url.set(database=name).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade, replica)
    return replica


async def _drop_database(replica: str) -> None:
    from sqlalchemy import make_url, text
    from sqlalchemy.ext.asyncio import create_async_engine

    url = make_url(replica)
    if url.get_backend_name() == "sqlite":
        return
    engine = create_async_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    await engine.dispose()
