"""The shared Redis client (plain URL or Sentinel), or None on the embedded default."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from leadflow.platform.settings import Settings

log = structlog.get_logger("leadflow.redis")


def create_redis(settings: Settings) -> Redis | None:
    # A command that finds its pooled connection closed (Redis restarted since the connection was made) is sent once
    # more on a fresh one: without that, every stale connection of the pool fails one command after a restart and puts
    # the cache and the rate limits back on their in-process fallback for another rest period. Only a closed
    # connection is retried, never a timeout, so an unreachable Redis still costs a request at most one timeout. A
    # command retried after its reply was lost may run twice: generation bumps, counters and "changed" notices
    # tolerate that.
    retry = Retry(NoBackoff(), retries=1, supported_errors=(RedisConnectionError,))
    options = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0, "health_check_interval": 15, "retry": retry}
    if settings.redis_sentinels and settings.redis_sentinel_master:
        hosts = []
        for item in settings.redis_sentinels:
            host, _, port = item.rpartition(":")
            hosts.append((host or item, int(port) if port.isdigit() else 26379))
        sentinel = Sentinel(hosts, **options)
        return sentinel.master_for(settings.redis_sentinel_master, **options)  # type: ignore[arg-type]
    if settings.redis_url:
        return Redis.from_url(settings.redis_url, **options)  # type: ignore[arg-type]
    return None


class Listener:
    r"""A task that :func:`listen`\ s to one channel while the owner runs: ``start()`` once, ``stop()`` at shutdown."""

    def __init__(
        self,
        redis: Redis | None,
        channel: str,
        on_message: Callable[[bytes], None],
        on_subscribed: Callable[[], None] | None = None,
    ) -> None:
        self._args = (redis, channel, on_message, on_subscribed)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        redis, channel, on_message, on_subscribed = self._args
        if redis is not None and self._task is None:
            self._task = asyncio.create_task(listen(redis, channel, on_message, on_subscribed))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


async def listen(
    redis: Redis, channel: str, on_message: Callable[[bytes], None], on_subscribed: Callable[[], None] | None = None
) -> None:
    """Hand every message of ``channel`` to ``on_message``, for ever: when Redis goes away (or a message cannot be
    handled) it subscribes again a second later; ``on_subscribed`` runs at each (re)subscription, since whatever was
    published while this process was not listening is lost. Cancel the task to stop."""
    while True:
        try:
            async with redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                await pubsub.subscribe(channel)
                if on_subscribed is not None:
                    on_subscribed()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        on_message(message["data"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis away: listen again once it is back
            log.debug("redis_listener_retry", channel=channel, error=type(exc).__name__)
            await asyncio.sleep(1.0)
