"""Reports and business metrics on the benchmark data set, cold and cached (issue: reports and metrics timed).

Cold: the cache entries are deleted from Redis before each call, so the call computes everything in SQL. Cached: the
same call again. Run against `leadflow serve` on PostgreSQL + Redis with the large set loaded
(`leadflow seed-demo --scale large`) and the bench admin exempt from the rate limit:

    uv run python bench/report_timing.py --url http://127.0.0.1:8765 --redis-url redis://127.0.0.1:6379/0 --calls 5

Prints, per endpoint and period, the median and the worst of the cold and of the cached calls.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time

import httpx
from redis.asyncio import Redis

from leadflow.demo.large import BENCH_ADMIN, BENCH_PASSWORD

ENDPOINTS = (
    "/api/v1/reports/cities",
    "/api/v1/reports/masters",
    "/api/v1/reports/campaigns",
    "/api/v1/reports/operators",
    "/api/v1/reports/summary",
    "/api/v1/metrics/business",
)


async def flush(redis: Redis, prefix: str) -> None:
    names = [name async for name in redis.scan_iter(match=f"{prefix}:cache:*", count=1000)]
    if names:
        await redis.delete(*names)


async def timed(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> float:
    started = time.perf_counter()
    response = await client.get(path, params=params)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}: {response.text[:300]}")
    if path.endswith("/business") and response.json()["missing"]:
        raise SystemExit(f"{path}: missing aggregates {response.json()['missing']}")
    return elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefix", default="leadflow", help="LEADFLOW_REDIS_PREFIX of the server")
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    redis = Redis.from_url(args.redis_url)
    today = dt.date.today()
    periods = {
        "month to date": {},
        "last 365 days": {"date_from": (today - dt.timedelta(days=364)).isoformat(), "date_to": today.isoformat()},
    }
    async with httpx.AsyncClient(base_url=args.url, timeout=120) as client:
        login = {"username": BENCH_ADMIN, "password": BENCH_PASSWORD}
        token = (await client.post("/api/v1/auth/token", data=login)).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        await client.get("/api/v1/reports/summary")  # warm the connection pool and the database's own caches
        print(f"{'endpoint':<28} {'period':<14} {'cold p50':>9} {'cold max':>9} {'cached p50':>11} {'cached max':>11}")
        for path in ENDPOINTS:
            for label, params in periods.items():
                cold, cached = [], []
                for _ in range(args.calls):
                    await flush(redis, args.prefix)
                    cold.append(await timed(client, path, params))
                    cached.append(await timed(client, path, params))
                name = path.removeprefix("/api/v1/")
                print(
                    f"{name:<28} {label:<14} {statistics.median(cold):7.1f}ms {max(cold):7.1f}ms "
                    f"{statistics.median(cached):9.1f}ms {max(cached):9.1f}ms"
                )
    await redis.aclose()


if __name__ == "__main__":
    asyncio.run(main())
