"""Rate limiting through the ``limits`` library: a moving window in Redis, shared by every process, with an
in-process fallback that takes over while Redis is unreachable and hands back when it returns."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import structlog
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import Counter
from redis.asyncio import Redis

log = structlog.get_logger("leadflow.ratelimit")

RETRY_REDIS_AFTER_S = 5.0
RATE_LIMITED = Counter("leadflow_rate_limited_total", "Requests answered 429, by bucket.", ["bucket"])


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int
    remaining: int


class RateLimiter:
    def __init__(self, redis: Redis | None, prefix: str) -> None:
        self._memory = MovingWindowRateLimiter(MemoryStorage())
        self._shared: MovingWindowRateLimiter | None = None
        if redis is not None:
            storage: Storage = RedisStorage(
                "async+redis://",
                implementation="redispy",
                key_prefix=f"{prefix}:rl",
                connection_pool=redis.connection_pool,  # type: ignore[arg-type]
            )
            self._shared = MovingWindowRateLimiter(storage)
        self._redis_down_until = 0.0

    async def hit(self, item: RateLimitItem, *key: str) -> Decision:
        decision = await self._hit(item, key)
        if not decision.allowed:  # bucket: webhook, login, or the api's user / ip
            RATE_LIMITED.labels(key[1].split(":")[0] if key[0] == "api" and len(key) > 1 else key[0]).inc()
        return decision

    async def _hit(self, item: RateLimitItem, key: tuple[str, ...]) -> Decision:
        limiter = self._memory
        if self._shared is not None and time.monotonic() >= self._redis_down_until:
            try:
                return await self._decide(self._shared, item, key)
            except Exception as exc:  # Redis away: keep limiting in-process rather than failing requests
                self._redis_down_until = time.monotonic() + RETRY_REDIS_AFTER_S
                log.warning("ratelimit_fallback", error=type(exc).__name__)
        return await self._decide(limiter, item, key)

    @staticmethod
    async def _decide(limiter: MovingWindowRateLimiter, item: RateLimitItem, key: tuple[str, ...]) -> Decision:
        allowed = await limiter.hit(item, *key)
        stats = await limiter.get_window_stats(item, *key)
        retry = max(1, math.ceil(stats.reset_time - time.time())) if not allowed else 0
        return Decision(allowed, retry, stats.remaining)


def per_minute(amount: int) -> RateLimitItem:
    return RateLimitItemPerMinute(amount)
