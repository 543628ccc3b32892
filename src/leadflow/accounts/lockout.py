"""Login lockout: 5 failures for a login within 15 minutes lock it for 30 minutes (settings), for every process.

Redis holds the state when configured; otherwise (or while Redis is unreachable) the ``login_throttle`` table does.
Unknown logins are counted like real ones, so the lockout does not reveal which logins exist.
"""

from __future__ import annotations

import datetime as dt
import math

import structlog
from redis.asyncio import Redis
from sqlalchemy import case, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from leadflow.accounts.models import LoginThrottle
from leadflow.platform.db import Database, utcnow
from leadflow.platform.settings import Settings

log = structlog.get_logger("leadflow.lockout")


def login_key(login: str) -> str:
    return login.strip().lower()[:100]


class LoginGuard:
    def __init__(self, settings: Settings, database: Database, redis: Redis | None) -> None:
        self.max_failures = settings.login_max_failures
        self.window = settings.login_failure_window_s
        self.lockout = settings.login_lockout_s
        self.database = database
        self.redis = redis
        self.prefix = f"{settings.redis_prefix}:login"

    # Public API -------------------------------------------------------------------------------------------------
    async def locked_for(self, key: str) -> int:
        """Seconds left on the lock of this login; 0 when not locked."""
        if self.redis is not None:
            try:
                ttl = await self.redis.ttl(f"{self.prefix}:lock:{key}")
                return max(0, int(ttl))
            except Exception as exc:
                log.warning("lockout_redis_unavailable", error=type(exc).__name__)
        return await self._db_locked_for(key)

    async def failure(self, key: str) -> int:
        """Count a failed attempt; the lock length in seconds when this failure locks the login, else 0."""
        if self.redis is not None:
            try:
                return await self._redis_failure(key)
            except Exception as exc:
                log.warning("lockout_redis_unavailable", error=type(exc).__name__)
        return await self._db_failure(key)

    async def success(self, key: str) -> None:
        if self.redis is not None:
            try:
                await self.redis.delete(f"{self.prefix}:fail:{key}")
                return
            except Exception as exc:
                log.warning("lockout_redis_unavailable", error=type(exc).__name__)
        async with self.database.session() as session:
            await session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.login_key == key)
                .values(failures=0, window_started_at=utcnow())
            )
            await session.commit()

    # Redis ----------------------------------------------------------------------------------------------------
    async def _redis_failure(self, key: str) -> int:
        assert self.redis is not None
        fail_key = f"{self.prefix}:fail:{key}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(fail_key)
            pipe.expire(fail_key, self.window, nx=True)
            count, _ = await pipe.execute()
        if int(count) >= self.max_failures:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.set(f"{self.prefix}:lock:{key}", "1", ex=self.lockout)
                pipe.delete(fail_key)
                await pipe.execute()
            return self.lockout
        return 0

    # Database -------------------------------------------------------------------------------------------------
    async def _db_locked_for(self, key: str) -> int:
        async with self.database.session() as session:
            until = await session.scalar(select(LoginThrottle.locked_until).where(LoginThrottle.login_key == key))
        if until is None:
            return 0
        left = (until - utcnow()).total_seconds()
        return math.ceil(left) if left > 0 else 0

    async def _db_failure(self, key: str) -> int:
        now = utcnow()
        window_start = now - dt.timedelta(seconds=self.window)
        insert = pg_insert if self.database.dialect == "postgresql" else sqlite_insert
        base = insert(LoginThrottle).values(login_key=key, failures=1, window_started_at=now)
        table = LoginThrottle.__table__.c
        expired = table.window_started_at < window_start

        stmt = base.on_conflict_do_update(
            index_elements=[LoginThrottle.login_key],
            set_={
                "failures": case((expired, 1), else_=table.failures + 1),
                "window_started_at": case((expired, now), else_=table.window_started_at),
            },
        ).returning(LoginThrottle.failures)
        async with self.database.session() as session:
            failures = int((await session.execute(stmt)).scalar_one())
            locked = 0
            if failures >= self.max_failures:
                await session.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.login_key == key)
                    .values(failures=0, window_started_at=now, locked_until=now + dt.timedelta(seconds=self.lockout))
                )
                locked = self.lockout
            await session.commit()
        return locked
