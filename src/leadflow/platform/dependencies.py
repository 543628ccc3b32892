"""The FastAPI dependencies that every router shares: the request's one session, paging, and the app's components.

Routers name these instead of defining their own or reading ``request.app.state``; ``app.py`` puts the components
there once, from the runtime builder. There is one ``get_session``: FastAPI caches a dependency per request by its
function, so the route, the policy and the runtime settings all work on the same session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.platform.cache import Cache
from leadflow.platform.db import Database
from leadflow.platform.jobs import Jobs
from leadflow.platform.params import page_params
from leadflow.platform.ratelimit import RateLimiter
from leadflow.platform.schemas import PageParams
from leadflow.platform.security import Signer
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one session. Services commit; anything uncommitted is rolled back."""
    async with get_database(request).session() as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_cache(request: Request) -> Cache:
    cache: Cache = request.app.state.cache
    return cache


def get_redis(request: Request) -> Redis | None:
    redis: Redis | None = request.app.state.redis
    return redis


def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


def get_jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


def get_signer(request: Request) -> Signer:
    signer: Signer = request.app.state.signer
    return signer


def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


Session = Annotated[AsyncSession, Depends(get_session)]
Paging = Annotated[PageParams, Depends(page_params)]
DatabaseDep = Annotated[Database, Depends(get_database)]
AppSettings = Annotated[Settings, Depends(get_settings)]
CacheDep = Annotated[Cache, Depends(get_cache)]
RedisDep = Annotated[Redis | None, Depends(get_redis)]
StorageDep = Annotated[Storage, Depends(get_storage)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]
SignerDep = Annotated[Signer, Depends(get_signer)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
