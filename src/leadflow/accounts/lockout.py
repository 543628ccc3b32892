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
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import LoginThrottle
from leadflow.platform.db import Database, utcnow
from leadflow.platform.settings import Settings

log = structlog.get_logger("leadflow.lockout")


def login_key(login: str) -> str:
    return login.strip().lower()[:100]


class LoginBusy(Exception):
    """More attempts for this login are in flight than failures are left before the lock: retry in a moment."""


class LoginGuard:
    """Each attempt reserves one of the allowed failures *before* the password is checked (:meth:`begin`),
    atomically, so that guesses sent in parallel cannot all slip past the limit while their hashes are verified.
    A failed attempt keeps its reservation (and locks the login when it was the last one); a success clears the count.
    An attempt that finds no reservation left is turned away without being checked (:class:`LoginBusy`) and without
    locking anything, so a burst of right passwords never locks an account."""

    def __init__(self, settings: Settings, database: Database, redis: Redis | None) -> None:
        self.max_failures = settings.login_max_failures
        self.window = settings.login_failure_window_s
        self.lockout = settings.login_lockout_s
        self.database = database
        self.redis = redis
        self.prefix = f"{settings.redis_prefix}:login"

    # Public API -------------------------------------------------------------------------------------------------
    async def begin(self, key: str) -> int:
        """Reserve an attempt: seconds left on the lock when the login is locked, else 0. Raises :class:`LoginBusy`
        when every remaining attempt is already in flight."""
        if self.redis is not None:
            try:
                return await self._redis_begin(key)
            except Exception as exc:
                log.warning("lockout_redis_unavailable", error=type(exc).__name__)
        return await self._db_begin(key)

    async def failed(self, key: str) -> int:
        """The reserved attempt failed: lock when it was the last one allowed. The lock length, or 0."""
        if self.redis is not None:
            try:
                return await self._redis_failed(key)
            except Exception as exc:
                log.warning("lockout_redis_unavailable", error=type(exc).__name__)
        return await self._db_failed(key)

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
    async def _redis_begin(self, key: str) -> int:
        assert self.redis is not None
        lock_key, fail_key = f"{self.prefix}:lock:{key}", f"{self.prefix}:fail:{key}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.ttl(lock_key)
            pipe.incr(fail_key)
            pipe.expire(fail_key, self.window, nx=True)
            ttl, count, _ = await pipe.execute()
        if int(ttl) > 0:
            await self.redis.decr(fail_key)
            return int(ttl)
        if int(count) > self.max_failures:
            await self.redis.decr(fail_key)
            raise LoginBusy
        return 0

    async def _redis_failed(self, key: str) -> int:
        assert self.redis is not None
        count = await self.redis.get(f"{self.prefix}:fail:{key}")
        if count is not None and int(count) >= self.max_failures:
            await self._redis_lock(key)
            return self.lockout
        return 0

    async def _redis_lock(self, key: str) -> None:
        assert self.redis is not None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(f"{self.prefix}:lock:{key}", "1", ex=self.lockout, nx=True)
            pipe.delete(f"{self.prefix}:fail:{key}")
            await pipe.execute()

    # Database -------------------------------------------------------------------------------------------------
    async def _db_begin(self, key: str) -> int:
        now = utcnow()
        window_start = now - dt.timedelta(seconds=self.window)
        insert = pg_insert if self.database.dialect == "postgresql" else sqlite_insert
        table = LoginThrottle.__table__.c
        expired = table.window_started_at < window_start
        locked = table.locked_until > now
        upsert = (
            insert(LoginThrottle)
            .values(login_key=key, failures=1, window_started_at=now)
            .on_conflict_do_update(
                index_elements=[LoginThrottle.login_key],
                set_={
                    # While locked nothing changes; otherwise count this attempt (a new window starts at 1).
                    "failures": case((locked, table.failures), (expired, 1), else_=table.failures + 1),
                    "window_started_at": case(
                        (locked, table.window_started_at), (expired, now), else_=table.window_started_at
                    ),
                },
            )
            .returning(LoginThrottle.failures, LoginThrottle.locked_until)
        )
        async with self.database.session() as session:
            failures, locked_until = (await session.execute(upsert)).one()
            if locked_until is not None and locked_until > now:
                await session.commit()
                return max(1, math.ceil((locked_until - now).total_seconds()))
            if failures > self.max_failures:
                await session.execute(
                    update(LoginThrottle)
                    .where(LoginThrottle.login_key == key)
                    .values(failures=LoginThrottle.failures - 1)
                )
                await session.commit()
                raise LoginBusy
            await session.commit()
        return 0

    async def _db_failed(self, key: str) -> int:
        now = utcnow()
        async with self.database.session() as session:
            failures = await session.scalar(select(LoginThrottle.failures).where(LoginThrottle.login_key == key))
            if failures is not None and failures >= self.max_failures:
                await self._db_lock(session, key, now)
                await session.commit()
                return self.lockout
        return 0

    async def _db_lock(self, session: AsyncSession, key: str, now: dt.datetime) -> None:
        await session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.login_key == key)
            .values(failures=0, window_started_at=now, locked_until=now + dt.timedelta(seconds=self.lockout))
        )
