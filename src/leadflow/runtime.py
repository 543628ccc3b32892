"""The runtime: the components every entry point shares, built in one place.

The web app (``app.py``), ``leadflow worker`` and every CLI command that touches the database build them here, so
that each gets the same chain: Redis (when configured) → the cache → the database whose commits invalidate the cache
→ storage → the background jobs. The cache taggers (which writes make which cached answers stale) are registered
here, explicitly, before the first session can commit; a process that writes therefore always invalidates what the
web processes have cached, whatever it happened to import.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from leadflow.accounts import invalidation as accounts_invalidation
from leadflow.administration import service as administration
from leadflow.cash import service as cash
from leadflow.catalog import service as catalog
from leadflow.platform.cache import Cache
from leadflow.platform.db import Database
from leadflow.platform.events import EventBus
from leadflow.platform.jobs import Jobs
from leadflow.platform.redis import create_redis
from leadflow.platform.security import PasswordHasher
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage, create_storage
from leadflow.reports import invalidation as reports_invalidation
from leadflow.requests import announcements as request_announcements
from leadflow.requests import queries as request_queries
from leadflow.tasks import build_jobs


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    redis: Redis | None
    cache: Cache
    database: Database
    storage: Storage
    hasher: PasswordHasher
    jobs: Jobs
    events: EventBus

    async def close(self) -> None:
        """Stop the jobs' broker, close the pools and the Redis connection (the cache's listener is the app's)."""
        await self.jobs.shutdown()
        await self.database.dispose()
        if self.redis is not None:
            await self.redis.aclose()


def build_runtime(settings: Settings) -> Runtime:
    accounts_invalidation.register_cache_taggers()
    administration.register_cache_taggers()
    catalog.register_cache_taggers()
    reports_invalidation.register_cache_taggers()
    request_announcements.register_notifiers()
    request_queries.register_cache_taggers()
    cash.register_cache_taggers()
    redis = create_redis(settings)
    cache = Cache(redis, settings.redis_prefix, settings.cache_ttl_s)
    events = EventBus(redis, settings.redis_prefix)
    # A commit invalidates what its writes made stale, then tells the open pages what changed.
    database = Database(settings, on_commit=cache.invalidate, on_notify=events.publish)
    storage = create_storage(settings)
    return Runtime(
        settings=settings,
        redis=redis,
        cache=cache,
        database=database,
        storage=storage,
        hasher=PasswordHasher(cheap=settings.password_hash_cheap),
        jobs=build_jobs(settings, database, storage, cache),
        events=events,
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime for one command: built, used, closed."""
    runtime = build_runtime(settings)
    try:
        yield runtime
    finally:
        await runtime.close()
