"""The FastAPI dependencies that every router shares: the request's one session, paging, and the app's components.

Routers name these instead of defining their own or reading ``request.app.state``; ``app.py`` puts the components
there once, from the runtime builder. There is one ``get_session``: FastAPI caches a dependency per request by its
function, so the route, the policy and the runtime settings all work on the same session.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.platform.cache import Cache
from leadflow.platform.db import Database
from leadflow.platform.jobs import Jobs
from leadflow.platform.params import ExportParams, list_export, page_params
from leadflow.platform.ratelimit import RateLimiter
from leadflow.platform.schemas import PageParams
from leadflow.platform.security import Signer
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage

T = TypeVar("T")


def component(name: str, kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency that hands a route the component ``app.py`` stored under ``name``. Dependencies are ``async``
    throughout: FastAPI runs a plain ``def`` one on a worker thread, a thread hop on every request."""

    async def component(request: Request) -> T:
        value: T = getattr(request.app.state, name)
        return value

    component.__name__ = f"get_{name}"
    return component


get_database = component("database", Database)
get_settings = component("settings", Settings)
get_cache = component("cache", Cache)
get_storage = component("storage", Storage)  # type: ignore[type-abstract]  # a Protocol, which is fine here
get_jobs = component("jobs", Jobs)
get_signer = component("signer", Signer)
get_limiter = component("limiter", RateLimiter)


async def get_redis(request: Request) -> Redis | None:
    redis: Redis | None = request.app.state.redis
    return redis


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one session. Services commit; anything uncommitted is rolled back."""
    database: Database = request.app.state.database
    async with database.session() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]
Paging = Annotated[PageParams, Depends(page_params)]
ListExport = Annotated[ExportParams, Depends(list_export)]
DatabaseDep = Annotated[Database, Depends(get_database)]
AppSettings = Annotated[Settings, Depends(get_settings)]
CacheDep = Annotated[Cache, Depends(get_cache)]
RedisDep = Annotated[Redis | None, Depends(get_redis)]
StorageDep = Annotated[Storage, Depends(get_storage)]
JobsDep = Annotated[Jobs, Depends(get_jobs)]
SignerDep = Annotated[Signer, Depends(get_signer)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
