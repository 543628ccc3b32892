"""Right-password sign-ins of one login in bursts (issue #17): more at once than the lockout's five attempts left,
which now wait their turn instead of getting 429 login-busy. Prints the latency percentiles and the status counts.

Usage (against a running `leadflow serve` that believes X-Forwarded-For from this machine, e.g.
LEADFLOW_TRUSTED_PROXIES=127.0.0.1/32, and an existing account):

    uv run python bench/login_waits.py --url http://127.0.0.1:8000 --login x --password ... --rounds 10

Each round sends `--attempts` (16) sign-ins (POST /api/v1/auth/token), `--concurrency` (8) at a time, from
`--addresses` (8) client addresses in turn (X-Forwarded-For 10.77.0.1, 10.77.0.2, ...), then the next round starts.
Every address makes attempts / addresses sign-ins a round: keep rounds x that under LOGIN_RATE_LIMIT_PER_MINUTE (30
by default) per minute, or raise the limit for the run, so that the per-address limit is not what answers 429.
It starts nothing itself; traffic goes only to the given URL (use a loopback address).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter

import httpx
from login_rate import percentile  # bench/ is the script directory: one nearest-rank percentile


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--login", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--attempts", type=int, default=16, help="sign-ins per round")
    parser.add_argument("--concurrency", type=int, default=8, help="sign-ins in flight at once")
    parser.add_argument("--addresses", type=int, default=8, help="client addresses (X-Forwarded-For) in turn")
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between rounds")
    args = parser.parse_args()

    form = {"username": args.login, "password": args.password}
    latencies: list[float] = []
    statuses: Counter[int | str] = Counter()
    problems: Counter[str] = Counter()
    rounds: list[float] = []
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=args.url, timeout=60, limits=limits) as client:
        # One sign-in first, not counted: it proves the account, and it waits out the start-up of a fresh server.
        first = await client.post("/api/v1/auth/token", data=form, headers={"X-Forwarded-For": "10.77.0.254"})
        first.raise_for_status()
        gate = asyncio.Semaphore(args.concurrency)

        async def sign_in(i: int) -> None:
            headers = {"X-Forwarded-For": f"10.77.0.{i % args.addresses + 1}"}
            async with gate:
                started = time.perf_counter()
                try:
                    response = await client.post("/api/v1/auth/token", data=form, headers=headers)
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    return
                latencies.append(time.perf_counter() - started)
                statuses[response.status_code] += 1
                if response.status_code != 200:
                    problems[str(response.json().get("type", "")).rsplit("/", 1)[-1]] += 1

        for number in range(args.rounds):
            if number:
                await asyncio.sleep(args.pause)
            started = time.perf_counter()
            await asyncio.gather(*(sign_in(i) for i in range(args.attempts)))
            rounds.append(time.perf_counter() - started)

    def ms(value: float) -> str:
        return f"{value * 1000:.0f} ms"

    print(
        f"{len(latencies)} sign-ins in {args.rounds} rounds of {args.attempts} ({args.concurrency} at a time, "
        f"{args.addresses} addresses): p50 {ms(percentile(latencies, 0.5))}, p99 {ms(percentile(latencies, 0.99))}, "
        f"max {ms(max(latencies, default=0))}; a round takes {ms(percentile(rounds, 0.5))} (p50)"
    )
    print(f"statuses: {dict(sorted(statuses.items(), key=str))}")
    if problems:
        print(f"problems: {dict(problems)}")


if __name__ == "__main__":
    asyncio.run(main())
