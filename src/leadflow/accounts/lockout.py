"""Login lockout: 5 failures for a login within 15 minutes lock it for 30 minutes (settings), for every process.

Redis holds the state when configured; otherwise (or while Redis is unreachable) the ``login_throttle`` table does.
Unknown logins are counted like real ones, so the lockout does not reveal which logins exist.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, TypeVar

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
LOGIN_WAITS = Counter("leadflow_login_waits_total", "Sign-ins that waited for a free attempt of their login.")
LOGIN_BUSY = Counter("leadflow_login_busy_total", "Sign-ins turned away (429 login-busy) after waiting their bound.")
T = TypeVar("T")
log = structlog.get_logger("leadflow.lockout")

# While every attempt left is in flight, a new one polls for a free one, sleeping a jittered, growing delay.
POLL_FIRST_S = 0.02
POLL_MAX_S = 0.05
BUSY = -1

# Steps that must finish once started (a reservation, its release) run as tasks of their own: cancelling the request
# does not cut them short, and these references keep them alive until they are done.
_detached: set[asyncio.Task[Any]] = set()


def _detach(task: asyncio.Task[Any]) -> None:
    _detached.add(task)
    task.add_done_callback(_detached.discard)


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
# KEYS: failures. An attempt that ended without an outcome (an error, a cancelled request) gives its reservation back.
RELEASE_SCRIPT = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 0
"""


def login_key(login: str) -> str:
    return login.strip().lower()[:100]


class LoginBusy(RateLimited):
    """More attempts for this login are in flight than failures are left before the lock: retry in a moment."""

    type = "login-busy"

    def __init__(self) -> None:
        super().__init__(1, "Too many sign-in attempts for this login are in progress; retry in a moment.")


class Attempt:
    """One reserved attempt (see :meth:`LoginGuard.attempt`): ``locked`` is the seconds left on the lock (nothing is
    reserved then), else 0; settle it with :meth:`failed` or :meth:`success`."""

    def __init__(self, guard: LoginGuard, key: str, locked: int) -> None:
        self.guard = guard
        self.key = key
        self.locked = locked
        self.settled = bool(locked)

    async def failed(self) -> int:
        self.settled = True  # first: an outcome that may have been recorded is never given back as well
        return await self.guard.failed(self.key)

    async def success(self) -> None:
        self.settled = True
        await self.guard.success(self.key)


class LoginGuard:
    """Each attempt reserves one of the allowed failures *before* the password is checked (:meth:`begin`),
    atomically, so that guesses sent in parallel cannot all slip past the limit while their hashes are verified.
    A failed attempt keeps its reservation (and locks the login when it was the last one); a success clears the count.
    An attempt that finds no reservation left waits for one (a success frees them all, a lock ends the wait with
    the lock) for up to ``busy_wait_s`` seconds, without holding a connection, and only then is turned away without
    being checked (:class:`LoginBusy`) and without locking anything, so a burst of right passwords never locks an
    account and gets its answers in turn. An attempt that ends with neither outcome gives its reservation back."""

    def __init__(
        self, settings: Settings, database: Database, redis: Redis | None, busy_wait_s: float | None = None
    ) -> None:
        self.max_failures = settings.login_max_failures
        self.window = settings.login_failure_window_s
        self.lockout = settings.login_lockout_s
        self.busy_wait_s = settings.login_busy_wait_s if busy_wait_s is None else busy_wait_s
        self.database = database
        self.redis = redis
        self.prefix = f"{settings.redis_prefix}:login"

    # Public API -------------------------------------------------------------------------------------------------
    @asynccontextmanager
    async def attempt(self, key: str) -> AsyncIterator[Attempt]:
        """:meth:`begin` as a unit: the reservation is given back (:meth:`release`) however the block ends (an
        error, a cancelled request) unless the attempt was settled with ``failed()`` or ``success()``."""
        attempt = Attempt(self, key, await self.begin(key))
        try:
            yield attempt
        finally:
            if not attempt.settled:
                await _finish(self.release(key))

    async def begin(self, key: str) -> int:
        """Reserve an attempt: seconds left on the lock when the login is locked, else 0. While every remaining
        attempt is in flight, waits (polling) up to ``busy_wait_s`` for one to be free, then raises
        :class:`LoginBusy`. Nothing is held while waiting; a reservation made is never lost to a cancellation."""
        deadline = time.monotonic() + self.busy_wait_s
        delay = POLL_FIRST_S
        waited = False
        while True:
            if not waited or await self._may_be_free(key):
                result = await self._reserve_once(key)
                if result != BUSY:
                    return result
            left = deadline - time.monotonic()
            if left <= 0:
                LOGIN_BUSY.inc()
                raise LoginBusy()
            if not waited:
                LOGIN_WAITS.inc()
                waited = True
            await asyncio.sleep(min(left, random.uniform(delay, 2 * delay)))  # noqa: S311 (jitter, not a secret)
            delay = min(POLL_MAX_S, delay * 1.5)

    async def release(self, key: str) -> None:
        """Give back a reservation whose attempt has no outcome (never raises: it runs on the way out of errors)."""
        try:
            await self._on_redis_or_table(
                partial(self._redis_release, key),
                partial(self._update_row, key, LoginThrottle.failures > 0, failures=LoginThrottle.failures - 1),
            )
        except Exception as exc:
            log.warning("lockout_release_failed", error=type(exc).__name__)

    async def failed(self, key: str) -> int:
        """The reserved attempt failed: lock when it was the last one allowed. The lock length, or 0."""
        LOGIN_FAILURES.inc()
        locked = await self._failed(key)
        if locked:
            LOCKOUTS.inc()
        return locked

    async def _failed(self, key: str) -> int:
        return await self._on_redis_or_table(partial(self._redis_failed, key), partial(self._db_failed, key))

    async def _on_redis_or_table(self, on_redis: Callable[[], Awaitable[T]], on_table: Callable[[], Awaitable[T]]) -> T:
        """The Redis store when it is configured and answers; the table otherwise, and while Redis fails."""
        if self.redis is not None:
            try:
                return await on_redis()
            except Exception as exc:
                log.warning("lockout_redis_unavailable", error=type(exc).__name__)
        return await on_table()

    async def success(self, key: str) -> None:
        await self._on_redis_or_table(
            partial(self._redis_forget, key), partial(self._update_row, key, failures=0, window_started_at=utcnow())
        )

    async def _redis_release(self, key: str) -> None:
        assert self.redis is not None
        await self.redis.eval(RELEASE_SCRIPT, 1, f"{self.prefix}:fail:{key}")

    async def _redis_forget(self, key: str) -> None:
        assert self.redis is not None
        await self.redis.delete(f"{self.prefix}:fail:{key}")

    async def _update_row(self, key: str, *where: Any, **values: Any) -> None:
        """Change the login's throttle row (the table store) in a unit of its own."""
        async with self.database.session() as session:
            await session.execute(update(LoginThrottle).where(LoginThrottle.login_key == key, *where).values(**values))
            await session.commit()

    async def _reserve_once(self, key: str) -> int:
        """One try: the lock's seconds left, 0 when reserved, :data:`BUSY` when every attempt left is in flight.
        Runs as a task of its own: if the caller is cancelled meanwhile, a reservation it made is given back."""
        task = asyncio.ensure_future(self._reserve(key))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(lambda done: self._give_back(key, done))
            _detach(task)
            raise

    def _give_back(self, key: str, done: asyncio.Task[int]) -> None:
        if not done.cancelled() and done.exception() is None and done.result() == 0:
            _detach(asyncio.ensure_future(self.release(key)))

    async def _reserve(self, key: str) -> int:
        return await self._on_redis_or_table(partial(self._redis_begin, key), partial(self._db_begin, key))

    async def _may_be_free(self, key: str) -> bool:
        """A cheap read before another try while waiting: could an attempt be reserved now, or has the login been
        locked? (False only when every attempt is still seen in flight.) Saves the database a write per poll."""
        if self.redis is not None:
            return True  # the reservation script is one atomic, cheap step already
        async with self.database.session() as session:
            row = (
                await session.execute(
                    select(LoginThrottle.failures, LoginThrottle.window_started_at, LoginThrottle.locked_until).where(
                        LoginThrottle.login_key == key
                    )
                )
            ).one_or_none()
        if row is None:
            return True
        now = utcnow()
        failures, window_started_at, locked_until = row
        if locked_until is not None and locked_until > now:
            return True
        return bool(failures < self.max_failures or window_started_at < now - dt.timedelta(seconds=self.window))

    # Redis ----------------------------------------------------------------------------------------------------
    async def _redis_begin(self, key: str) -> int:
        assert self.redis is not None
        result = await self.redis.eval(
            BEGIN_SCRIPT, 2, f"{self.prefix}:lock:{key}", f"{self.prefix}:fail:{key}", self.max_failures, self.window
        )
        return int(result)  # -1 is BUSY

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
                return BUSY
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


async def _finish(step: Awaitable[None]) -> None:
    """Await ``step`` to its end even when the caller is cancelled meanwhile (it then finishes on its own)."""
    task = asyncio.ensure_future(step)
    _detach(task)
    await asyncio.shield(task)
