"""Business metrics (SPEC §10): ``GET /metrics/business`` and the business gauges of ``GET /metrics``.

The SQL is in ``reports.metrics``; here every aggregate runs in a session of its own (``Database.read_session``: the
replica when there is one), so the aggregates of one call run side by side and one that fails is reported in
``missing`` (and logged) without touching the others. The answer is cached per scope and period (SPEC §9); a partial
answer never is.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MANAGERS
from leadflow.accounts.policies import Principal
from leadflow.platform.cache import Cache
from leadflow.platform.db import Database, utcnow
from leadflow.platform.problems import Forbidden
from leadflow.reports.access import ReportQuery, Scope, resolve_scope
from leadflow.reports.metrics import AGGREGATES, SNAPSHOT, Slice
from leadflow.reports.service import tags_for
from leadflow.reports.windows import windows

log = structlog.get_logger("leadflow.metrics")

READERS = MANAGERS
PARALLEL = 4  # aggregates of one call running at once: each holds a pooled connection
P = TypeVar("P")  # what the aggregates are about: a Slice, or the business zone for the gauges


async def gather(
    database: Database, aggregates: dict[str, Callable[[AsyncSession, P], Awaitable[Any]]], part: P
) -> tuple[dict[str, Any], list[str]]:
    """Run each aggregate in its own read session, at most :data:`PARALLEL` at once; the values, and the names of
    those that failed (logged)."""
    gate = asyncio.Semaphore(PARALLEL)

    async def one(name: str, aggregate: Callable[[AsyncSession, P], Awaitable[Any]]) -> Any:
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
    spans = scope.spans
    # The whole period, for rows without a city: from the first city's start to the last one's end (no city at all:
    # the business zone's period).
    whole = spans or windows([(0, business_zone)], scope.date_from, scope.date_to)
    part = Slice(
        city_ids=None if every_city else scope.city_ids,
        spans=spans,
        zone=zone,
        start=min(w.start for w in whole),
        end=max(w.end for w in whole),
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
SNAPSHOT_TTL_S = 600


async def compute_snapshot(database: Database, zone: str) -> dict[str, Any]:
    values, missing = await gather(database, SNAPSHOT, zone)
    return {**values, "missing": missing, "at": time.time()}


async def refresh_snapshot(database: Database, cache: Cache, zone: str) -> dict[str, Any]:
    """The periodic job: compute the gauges and leave them in the cache for every process's scrapes."""
    snapshot = await compute_snapshot(database, zone)
    await cache.put(SNAPSHOT_NAMESPACE, SNAPSHOT_PARTS, [], snapshot, ttl_s=SNAPSHOT_TTL_S)
    return {"missing": snapshot["missing"]}


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
