"""Business metrics (SPEC §10): ``GET /metrics/business`` and the business gauges of ``GET /metrics``.

Every aggregate is one SQL statement in a session of its own (``Database.read_session``: the replica when there is
one), so the aggregates of one call can run side by side and one that fails is reported in ``missing`` (and logged)
without touching the others. The answer is cached per scope and period (SPEC §9); a partial answer never is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MasterProfile, Role, User, UserCity, UserStatus
from leadflow.accounts.policies import Principal
from leadflow.cash.models import Transaction
from leadflow.catalog.models import City, TransactionType
from leadflow.platform.cache import Cache
from leadflow.platform.db import Database, utcnow
from leadflow.platform.money import to_money
from leadflow.platform.periods import month_to_date, today, utc_bounds
from leadflow.platform.problems import Forbidden
from leadflow.platform.sqltime import local_date, seconds_between
from leadflow.recordings.models import CallRecording
from leadflow.reports.service import ReportQuery, Scope, rate, resolve_scope, tags_for
from leadflow.reports.windows import CityWindow, during, on_dates
from leadflow.requests.models import Request
from leadflow.requests.workflow import Status
from leadflow.telephony.models import Call

log = structlog.get_logger("leadflow.metrics")

READERS = frozenset({Role.admin, Role.director})
PARALLEL = 4  # aggregates of one call running at once: each holds a pooled connection
LIVE = Request.deleted_at.is_(None)


@dataclass(frozen=True)
class Slice:
    """What one call asks about: the cities (``None``: every city, admin), their windows, the zone of the daily
    series."""

    city_ids: list[int] | None
    spans: list[CityWindow]
    zone: str
    date_from: dt.date
    date_to: dt.date


Aggregate = Callable[[AsyncSession, Slice], Awaitable[Any]]


async def _requests_total(session: AsyncSession, part: Slice) -> int:
    return int(
        await session.scalar(select(func.count()).where(LIVE, during(Request.created_at, Request.city_id, part.spans)))
        or 0
    )


async def _requests_by_status(session: AsyncSession, part: Slice) -> dict[str, int]:
    rows = await session.execute(
        select(Request.status, func.count())
        .where(LIVE, during(Request.created_at, Request.city_id, part.spans))
        .group_by(Request.status)
        .order_by(Request.status)
    )
    return {status: int(n) for status, n in rows}


async def _requests_by_city(session: AsyncSession, part: Slice) -> dict[str, int]:
    rows = await session.execute(
        select(City.name, func.count())
        .select_from(Request)
        .join(City, City.id == Request.city_id)
        .where(LIVE, during(Request.created_at, Request.city_id, part.spans))
        .group_by(City.name)
        .order_by(City.name)
    )
    return {name: int(n) for name, n in rows}


async def _conversion_rate(session: AsyncSession, part: Slice) -> str | None:
    created = select(func.count()).where(LIVE, during(Request.created_at, Request.city_id, part.spans))
    done = select(func.count()).where(
        LIVE, Request.status == Status.done, during(Request.completed_at, Request.city_id, part.spans)
    )
    row = (await session.execute(select(created.scalar_subquery(), done.scalar_subquery()))).one()
    return rate(int(row[1]), int(row[0]))


async def _revenue_daily(session: AsyncSession, part: Slice) -> list[dict[str, Any]]:
    day = local_date(Request.completed_at, part.zone)
    rows = await session.execute(
        select(day, func.coalesce(func.sum(Request.result), 0), func.count())
        .where(LIVE, Request.status == Status.done, during(Request.completed_at, Request.city_id, part.spans))
        .group_by(day)
        .order_by(day)
    )
    return [{"date": str(d), "revenue": f"{to_money(v):.2f}", "done": int(n)} for d, v, n in rows]


async def _avg_processing_time(session: AsyncSession, part: Slice) -> float | None:
    value = await session.scalar(
        select(func.avg(seconds_between(Request.created_at, Request.completed_at))).where(
            LIVE, Request.status == Status.done, during(Request.completed_at, Request.city_id, part.spans)
        )
    )
    return None if value is None else round(float(value), 1)


async def _transactions_total(session: AsyncSession, part: Slice) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                Transaction.deleted_at.is_(None), on_dates(Transaction.occurred_on, Transaction.city_id, part.spans)
            )
        )
        or 0
    )


async def _transactions_amount(session: AsyncSession, part: Slice) -> dict[str, str]:
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((TransactionType.kind == "income", Transaction.amount), else_=0)), 0),
                func.coalesce(func.sum(case((TransactionType.kind == "expense", Transaction.amount), else_=0)), 0),
            )
            .join(TransactionType, TransactionType.id == Transaction.type_id)
            .where(Transaction.deleted_at.is_(None), on_dates(Transaction.occurred_on, Transaction.city_id, part.spans))
        )
    ).one()
    return {"income": f"{to_money(row[0]):.2f}", "expense": f"{to_money(row[1]):.2f}"}


async def _active_users(session: AsyncSession, part: Slice) -> int:
    """Active accounts that signed in during the period (of the cities asked about: their city list or, for a
    master, their city)."""
    start = min(s.start for s in part.spans) if part.spans else utcnow()
    end = max(s.end for s in part.spans) if part.spans else utcnow()
    query = select(func.count()).where(
        User.deleted_at.is_(None),
        User.status == UserStatus.active,
        User.last_login_at >= start,
        User.last_login_at < end,
    )
    if part.city_ids is not None:
        in_city = select(UserCity.user_id).where(UserCity.city_id.in_(part.city_ids))
        master_here = select(MasterProfile.user_id).where(MasterProfile.city_id.in_(part.city_ids))
        query = query.where(User.id.in_(in_city) | User.id.in_(master_here))
    return int(await session.scalar(query) or 0)


def _calls(part: Slice) -> Any:
    if part.city_ids is None:  # every call, those of unknown lines too
        start, end = min(s.start for s in part.spans), max(s.end for s in part.spans)
        return (Call.started_at >= start) & (Call.started_at < end)
    return during(Call.started_at, Call.city_id, part.spans)


async def _calls_total(session: AsyncSession, part: Slice) -> int:
    return int(await session.scalar(select(func.count()).where(_calls(part))) or 0)


async def _call_duration_avg(session: AsyncSession, part: Slice) -> float | None:
    value = await session.scalar(select(func.avg(Call.duration_s)).where(_calls(part), Call.duration_s > 0))
    return None if value is None else round(float(value), 1)


async def _recordings_unlinked(session: AsyncSession, part: Slice) -> int:
    query = select(func.count()).where(CallRecording.link_state.in_(("pending", "gave_up")))
    if part.city_ids is not None:
        query = query.where(CallRecording.city_id.in_(part.city_ids))
    return int(await session.scalar(query) or 0)


AGGREGATES: dict[str, Aggregate] = {
    "requests_total": _requests_total,
    "requests_by_status": _requests_by_status,
    "requests_by_city": _requests_by_city,
    "conversion_rate": _conversion_rate,
    "revenue_daily": _revenue_daily,
    "avg_processing_time": _avg_processing_time,
    "transactions_total": _transactions_total,
    "transactions_amount": _transactions_amount,
    "active_users": _active_users,
    "calls_total": _calls_total,
    "call_duration_avg": _call_duration_avg,
    "recordings_unlinked": _recordings_unlinked,
}


async def gather(database: Database, aggregates: dict[str, Aggregate], part: Any) -> tuple[dict[str, Any], list[str]]:
    """Run each aggregate in its own read session, at most :data:`PARALLEL` at once; the values, and the names of
    those that failed (logged)."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(name: str, aggregate: Aggregate) -> Any:
        async with gate, database.read_session() as session:
            return await aggregate(session, part)

    names = list(aggregates)
    results = await asyncio.gather(*(one(n, aggregates[n]) for n in names), return_exceptions=True)
    values: dict[str, Any] = {}
    missing: list[str] = []
    for name, result in zip(names, results, strict=True):
        if isinstance(result, BaseException):
            if not isinstance(result, Exception):
                raise result  # cancellation and the like are not a failed aggregate
            log.error("metric_aggregate_failed", aggregate=name, error=type(result).__name__, detail=str(result)[:200])
            missing.append(name)
            values[name] = None
        else:
            values[name] = result
    return values, missing


def _tags(scope: Scope) -> list[str]:
    return [*tags_for("metrics"), *(f"city:{c}" for c in scope.city_ids)]


async def business_metrics(
    database: Database,
    cache: Cache,
    principal: Principal,
    query: ReportQuery,
    business_zone: str,
) -> dict[str, Any]:
    if principal.role not in READERS:
        raise Forbidden("Business metrics are read by admins and directors.")
    async with database.read_session() as session:
        scope = await resolve_scope(session, principal, "cities", query, business_zone)
    every_city = principal.is_admin and query.city_id is None
    zone = scope.cities[0].timezone if query.city_id is not None else business_zone
    part = Slice(
        city_ids=None if every_city else scope.city_ids,
        spans=scope.spans,
        zone=zone,
        date_from=scope.date_from,
        date_to=scope.date_to,
    )
    if every_city and not part.spans:  # no cities at all: one window in the business zone still bounds calls
        start, end = utc_bounds(scope.date_from, scope.date_to, business_zone)
        assert start is not None
        assert end is not None
        part = Slice(
            None, [CityWindow(0, scope.date_from, scope.date_to, start, end)], zone, scope.date_from, scope.date_to
        )

    async def compute() -> dict[str, Any]:
        values, missing = await gather(database, AGGREGATES, part)
        return {
            **values,
            "period": {"date_from": str(scope.date_from), "date_to": str(scope.date_to)},
            "missing": missing,
            "generated_at": utcnow().isoformat().replace("+00:00", "Z"),
        }

    parts = {
        "cities": "all" if every_city else scope.city_ids,
        "from": scope.date_from,
        "to": scope.date_to,
        "zone": zone,
    }
    result: dict[str, Any] = await cache.get_or_compute(
        "metrics", parts, _tags(scope), compute, store=lambda value: not value["missing"]
    )
    return result


# The business gauges of /metrics ------------------------------------------------------------------------------------
SNAPSHOT_NAMESPACE = "prometheus"
SNAPSHOT_PARTS = {"snapshot": "business-gauges"}


async def _requests_now(session: AsyncSession, _: str) -> list[list[Any]]:
    rows = await session.execute(
        select(City.name, Request.status, func.count())
        .select_from(Request)
        .join(City, City.id == Request.city_id)
        .where(LIVE)
        .group_by(City.name, Request.status)
    )
    return [[name, status, int(n)] for name, status, n in rows]


async def _conversion_month(session: AsyncSession, zone: str) -> str | None:
    first, last = month_to_date(None, None, zone)
    start, end = utc_bounds(first, last, zone)
    created = select(func.count()).where(LIVE, Request.created_at >= start, Request.created_at < end)
    done = select(func.count()).where(
        LIVE, Request.status == Status.done, Request.completed_at >= start, Request.completed_at < end
    )
    row = (await session.execute(select(created.scalar_subquery(), done.scalar_subquery()))).one()
    return rate(int(row[1]), int(row[0]))


async def _revenue_today(session: AsyncSession, zone: str) -> str:
    day = today(zone)
    start, end = utc_bounds(day, day, zone)
    value = await session.scalar(
        select(func.coalesce(func.sum(Request.result), 0)).where(
            LIVE, Request.status == Status.done, Request.completed_at >= start, Request.completed_at < end
        )
    )
    return f"{to_money(value):.2f}"


async def _recordings_now(session: AsyncSession, _: str) -> dict[str, int]:
    rows = await session.execute(select(CallRecording.link_state, func.count()).group_by(CallRecording.link_state))
    return {state: int(n) for state, n in rows}


async def _last_request(session: AsyncSession, _: str) -> float | None:
    newest = await session.scalar(select(func.max(Request.created_at)).where(LIVE))
    return newest.timestamp() if newest is not None else None


SNAPSHOT: dict[str, Callable[[AsyncSession, str], Awaitable[Any]]] = {
    "requests": _requests_now,
    "conversion_percent": _conversion_month,
    "revenue_today": _revenue_today,
    "recordings": _recordings_now,
    "last_request_created": _last_request,
}


async def compute_snapshot(database: Database, zone: str) -> dict[str, Any]:
    values, missing = await gather(database, SNAPSHOT, zone)  # type: ignore[arg-type]
    return {**values, "missing": missing, "at": time.time()}


async def refresh_snapshot(database: Database, cache: Cache, zone: str) -> dict[str, Any]:
    """The periodic job: compute the gauges and leave them in the cache for every process's scrapes."""
    snapshot = await compute_snapshot(database, zone)
    await cache.put(SNAPSHOT_NAMESPACE, SNAPSHOT_PARTS, [], snapshot, ttl_s=SNAPSHOT_TTL_S)
    return {"missing": snapshot["missing"]}


SNAPSHOT_TTL_S = 600


async def snapshot_families(cache: Cache) -> list[Metric]:
    """The business gauges for a scrape: the job's latest snapshot from the cache. A scrape never touches the
    database, so the HTTP, pool and cache metrics keep coming when the database is down or its pool exhausted; with
    no snapshot yet (or for too long) the gauges are absent and `leadflow_business_snapshot_timestamp_seconds` says
    how old they are."""
    snap: dict[str, Any] = await cache.peek(SNAPSHOT_NAMESPACE, SNAPSHOT_PARTS) or {}
    requests = GaugeMetricFamily("leadflow_requests", "Live requests by city and status.", labels=["city", "status"])
    for city, status, n in snap.get("requests") or []:
        requests.add_metric([city, status], n)
    conversion = GaugeMetricFamily("leadflow_conversion_percent", "Done ÷ created this month (business time zone), %.")
    if snap.get("conversion_percent") is not None:
        conversion.add_metric([], float(snap["conversion_percent"]))
    revenue = GaugeMetricFamily("leadflow_revenue_today", "Σ result of requests completed today (business time zone).")
    if snap.get("revenue_today") is not None:
        revenue.add_metric([], float(Decimal(snap["revenue_today"])))
    recordings = GaugeMetricFamily("leadflow_recordings", "Call recordings by link state.", labels=["link_state"])
    for state, n in sorted((snap.get("recordings") or {}).items()):
        recordings.add_metric([state], n)
    last = GaugeMetricFamily(
        "leadflow_last_request_created_timestamp_seconds", "When the newest request was created (Unix time)."
    )
    if snap.get("last_request_created") is not None:
        last.add_metric([], snap["last_request_created"])
    at = GaugeMetricFamily(
        "leadflow_business_snapshot_timestamp_seconds", "When the business gauges were computed (Unix time)."
    )
    if snap.get("at") is not None:
        at.add_metric([], snap["at"])
    return [requests, conversion, revenue, recordings, last, at]
