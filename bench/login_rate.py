"""How many sign-ins one server process sustains with the production password hash, and whether other requests keep
answering meanwhile.

Usage (against a running `leadflow serve`, existing accounts sharing one password, rate limits raised for the run):

    uv run python bench/login_rate.py --url http://127.0.0.1:8000 --login bench1,bench2,...,bench8 --password ... \
        --concurrency 16 --seconds 20

Spread the clients over several accounts: more than five sign-ins of one login at the same moment wait their turn
for the lockout's reservation of attempts (bench/login_waits.py measures that wait), which would measure the queue,
not the hash.

It runs `concurrency` closed-loop sign-in clients (POST /api/v1/auth/token) and, beside them, one client that calls
GET /api/v1/auth/me every 50 ms with a token obtained first, then prints sign-ins per second and the latency
percentiles of both. Traffic goes only to the given URL (use a loopback address).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--login", required=True, help="one login, or several separated by commas (one per client in turn)"
    )
    parser.add_argument("--password", required=True)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()

    logins = [login.strip() for login in args.login.split(",") if login.strip()]
    form = {"username": logins[0], "password": args.password}
    async with httpx.AsyncClient(base_url=args.url, timeout=30) as client:
        first = await client.post("/api/v1/auth/token", data=form)
        first.raise_for_status()
        headers = {"Authorization": f"Bearer {first.json()['access_token']}"}
        deadline = time.perf_counter() + args.seconds
        login_latency: list[float] = []
        me_latency: list[float] = []
        errors: dict[int, int] = {}

        async def signer(login: str) -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post("/api/v1/auth/token", data={**form, "username": login})
                if response.status_code == 200:
                    login_latency.append(time.perf_counter() - started)
                else:
                    errors[response.status_code] = errors.get(response.status_code, 0) + 1

        async def reader() -> None:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.get("/api/v1/auth/me", headers=headers)
                if response.status_code == 200:
                    me_latency.append(time.perf_counter() - started)
                else:
                    errors[response.status_code] = errors.get(response.status_code, 0) + 1
                await asyncio.sleep(0.05)

        started = time.perf_counter()
        clients = (signer(logins[i % len(logins)]) for i in range(args.concurrency))
        await asyncio.gather(*clients, reader())
        elapsed = time.perf_counter() - started

    def ms(value: float) -> str:
        return f"{value * 1000:.0f} ms"

    print(
        f"sign-ins: {len(login_latency)} in {elapsed:.1f} s = {len(login_latency) / elapsed:.1f}/s "
        f"(p50 {ms(percentile(login_latency, 0.5))}, p99 {ms(percentile(login_latency, 0.99))})"
    )
    print(
        f"GET /auth/me meanwhile: {len(me_latency)} calls, p50 {ms(percentile(me_latency, 0.5))}, "
        f"p99 {ms(percentile(me_latency, 0.99))}, max {ms(max(me_latency, default=0))}, "
        f"mean {ms(statistics.fmean(me_latency) if me_latency else 0)}"
    )
    print(f"errors: {errors or 'none'}")


if __name__ == "__main__":
    asyncio.run(main())
