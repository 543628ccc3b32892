"""Every background job of the service, registered on one :class:`~leadflow.platform.jobs.Jobs` (as ``app.py``
mounts every router): the worker, the web process on the embedded default and the CLI build the same set."""

from __future__ import annotations

from typing import Any

import structlog

from leadflow.accounts.auth import purge_sessions
from leadflow.administration.service import get_settings as runtime_settings
from leadflow.catalog import service as catalog
from leadflow.observability.business import refresh_snapshot
from leadflow.platform.cache import Cache
from leadflow.platform.db import Database
from leadflow.platform.idempotency import purge_expired
from leadflow.platform.jobs import Jobs, prune_runs
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage
from leadflow.recordings.tasks import SYNC_JOB, sync_job

log = structlog.get_logger("leadflow.tasks")
HOUSEKEEPING_JOB = "platform.housekeeping"
METRICS_JOB = "metrics.business"


def build_jobs(settings: Settings, database: Database, storage: Storage, cache: Cache) -> Jobs:
    jobs = Jobs(settings, database)

    async def housekeeping() -> dict[str, Any]:
        return {
            "idempotency_keys_purged": await purge_expired(database),
            "auth_sessions_purged": await purge_sessions(database),
            "job_runs_pruned": await prune_runs(database),
        }

    jobs.add(HOUSEKEEPING_JOB, housekeeping, every_s=settings.housekeeping_interval_s)
    jobs.add(SYNC_JOB, sync_job(settings, database, storage), every_s=settings.recordings_interval_s)

    async def business_gauges() -> dict[str, Any]:
        return await refresh_business_gauges(settings, database, cache)

    jobs.add(METRICS_JOB, business_gauges, every_s=settings.business_metrics_interval_s)
    return jobs


async def warm_cache(settings: Settings, database: Database, cache: Cache) -> None:
    """At start-up, in the background: the first page of every reference list and the business gauges, so that the
    first screens and the first scrape after a deploy are served from the cache (SPEC §9)."""
    try:
        async with database.session() as session:
            await catalog.warm(session, cache)
        await refresh_business_gauges(settings, database, cache)
        log.info("cache_warmed")
    except Exception as exc:  # a cold cache is slower, not wrong
        log.warning("cache_warming_failed", error=type(exc).__name__)


async def refresh_business_gauges(settings: Settings, database: Database, cache: Cache) -> dict[str, Any]:
    """The business gauges of /metrics, in the business time zone of the runtime settings."""
    async with database.session() as session:
        zone = (await runtime_settings(session, settings)).business_timezone
    return await refresh_snapshot(database, cache, zone)
