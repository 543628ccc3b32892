"""Latency of the dispatcher's reads on the benchmark data set: the first page of the request list (plain and
filtered) and get-one, measured one call at a time (no concurrency: this is the floor a user feels).

Usage, against a running `leadflow serve` on a database loaded with `leadflow seed-demo --scale large`, with the
bench admin exempt from the rate limit (LEADFLOW_RATE_LIMIT_EXEMPT_LOGINS=bench.admin):

    uv run python bench/request_latency.py --url http://127.0.0.1:8000 --calls 300

Prints p50/p90/p99 and the mean per scenario. Traffic goes only to the given URL (use a loopback address).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import httpx
from login_rate import percentile  # bench/ is the script directory: one nearest-rank percentile

from leadflow.demo.large import BENCH_ADMIN, BENCH_PASSWORD

LOGIN, PASSWORD = BENCH_ADMIN, BENCH_PASSWORD


async def measure(client: httpx.AsyncClient, name: str, paths: list[str]) -> None:
    timings = []
    for path in paths:
        started = time.perf_counter()
        response = await client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{name}: {path} answered {response.status_code}: {response.text[:200]}")
    print(
        f"{name:<34} n={len(timings):<5} p50={percentile(timings, 0.5):6.1f} ms  "
        f"p90={percentile(timings, 0.9):6.1f} ms  p99={percentile(timings, 0.99):6.1f} ms  "
        f"mean={statistics.fmean(timings):6.1f} ms"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=args.url, timeout=30) as client:
        token = (await client.post("/api/v1/auth/token", data={"username": LOGIN, "password": PASSWORD})).json()
        client.headers["Authorization"] = f"Bearer {token['access_token']}"
        total = (await client.get("/api/v1/requests", params={"per_page": 1})).json()["total"]
        ids = []
        for page in rng.sample(range(1, total // 200), 10):
            listed = await client.get("/api/v1/requests", params={"per_page": 200, "page": page})
            ids += [item["id"] for item in listed.json()["items"]]
        cities = [c["id"] for c in (await client.get("/api/v1/cities", params={"per_page": 200})).json()["items"]]
        # Warm the connection pool and the database cache the way a day of use would.
        for _ in range(20):
            await client.get("/api/v1/requests")
        n = args.calls
        await measure(client, "list, first page (plain)", ["/api/v1/requests"] * n)
        await measure(
            client,
            "list, filtered (city + work queue)",
            [f"/api/v1/requests?city_id={rng.choice(cities)}&queue=work" for _ in range(n)],
        )
        await measure(
            client,
            "list, filtered (status + sort)",
            ["/api/v1/requests?status=new&status=callback&sort=callback_at" for _ in range(n)],
        )
        await measure(
            client,
            "list, search q (phone fragment)",
            [f"/api/v1/requests?q=916{rng.randint(100, 999)}" for _ in range(n)],
        )
        await measure(client, "get one", [f"/api/v1/requests/{rng.choice(ids)}" for _ in range(n)])


if __name__ == "__main__":
    asyncio.run(main())
