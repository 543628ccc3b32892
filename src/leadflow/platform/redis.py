"""The shared Redis client (plain URL or Sentinel), or None on the embedded default."""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.sentinel import Sentinel

from leadflow.platform.settings import Settings


def create_redis(settings: Settings) -> Redis | None:
    options = {"socket_timeout": 1.0, "socket_connect_timeout": 1.0, "health_check_interval": 15}
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
