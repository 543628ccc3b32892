"""Login lockout: 5 failures for a login within 15 minutes lock it for 30 minutes (settings), for every process.

Redis holds the state when configured; otherwise (or while Redis is unreachable) the ``login_throttle`` table does.
Unknown logins are counted like real ones, so the lockout does not reveal which logins exist.
"""

from __future__ import annotations

import datetime as dt
import math

import structlog
from prometheus_client import Counter
from redis.asyncio import Redis
from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import LoginThrottle
from leadflow.platform.db import Database, dialect_insert, utcnow
from leadflow.platform.problems import RateLimited
from leadflow.platform.settings import Settings

LOGIN_FAILURES = Counter("leadflow_login_failures_total", "Failed sign-ins.")
LOCKOUTS = Counter("leadflow_login_lockouts_total", "Logins locked after too many failures.")
log = structlog.get_logger("leadflow.lockout")


# Atomic in Redis: the lock check, the reservation and its release when none is left happen as one step.
# KEYS: lock, failures. ARGV: max failures, window seconds. Returns the lock's seconds left, -1 when busy, else 0.
BEGIN_SCRIPT = """
local ttl = redis.call('TTL', KEYS[1])
if ttl > 0 then return ttl end
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end
if count > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[2])
  return -1
end
return 0
"""
# KEYS: lock, failures. ARGV: max failures, lockout seconds. Locks (1) when the failures reached the maximum, else 0.
FAILED_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[2]) or '0')
if count >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'EX', ARGV[2], 'NX')
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
"""


def login_key(login: str) -> str:
    return login.strip().lower()[:100]


class LoginBusy(RateLimited):
    """More attempts for this login are in flight than failures are left before the lock: retry in a moment."""

    type = "login-busy"

    def __init__(self) -> None:
        super().__init__(1, "Too many sign-in attempts for this login are in progress; retry in a moment.")


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
            except LoginBusy:
                raise
            except Exception as exc:
                log.warning("lockout_redis_unavailable", error=type(exc).__name__)
        return await self._db_begin(key)

    async def failed(self, key: str) -> int:
        """The reserved attempt failed: lock when it was the last one allowed. The lock length, or 0."""
        LOGIN_FAILURES.inc()
        locked = await self._failed(key)
        if locked:
            LOCKOUTS.inc()
        return locked

    async def _failed(self, key: str) -> int:
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
        result = await self.redis.eval(
            BEGIN_SCRIPT, 2, f"{self.prefix}:lock:{key}", f"{self.prefix}:fail:{key}", self.max_failures, self.window
        )
        if int(result) == -1:
            raise LoginBusy()
        return int(result)

    async def _redis_failed(self, key: str) -> int:
        assert self.redis is not None
        locked = await self.redis.eval(
            FAILED_SCRIPT, 2, f"{self.prefix}:lock:{key}", f"{self.prefix}:fail:{key}", self.max_failures, self.lockout
        )
        return self.lockout if int(locked) else 0

    # Database -------------------------------------------------------------------------------------------------
    async def _db_begin(self, key: str) -> int:
        now = utcnow()
        window_start = now - dt.timedelta(seconds=self.window)
        insert = dialect_insert(self.database.dialect)
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
                raise LoginBusy()
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
