"""The open-loop (paced) driver: a fixed number of requests per second, each sent at its scheduled moment whether
or not the earlier ones have been answered, and its latency measured from that moment.

wrk cannot pace; a closed loop measures throughput, but its latency hides queueing (a slow answer delays the next
request of its connection, so the slow moment is sampled less: coordinated omission). Here a request that could not
even be sent on time (every connection busy, the client late, no free transition request) has that wait counted in
its latency.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

MAX_IN_FLIGHT = 64


@dataclass
class Call:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes | None = None
    key: str | None = None  # what the source needs to recognise the answer (the transition's request id)


class Source(Protocol):
    """What a scenario sends: the next call (may wait, e.g. for a free request to move), and its answer."""

    async def next(self) -> Call: ...

    def answered(self, call: Call, status: int, body: bytes) -> None: ...

    def failed(self, call: Call) -> None: ...


@dataclass
class PacedResult:
    rate: float
    seconds: float
    sent: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)
    late_ms: float = 0.0  # how far behind schedule the driver itself fell at worst (its own load, not the server's)


def percentile(values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least ``q`` of the values at or below it."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least 1
    return ordered[min(len(ordered), int(rank)) - 1]


async def run(base_url: str, source: Source, rate: float, seconds: float, timeout_s: float = 10) -> PacedResult:
    count = max(1, round(rate * seconds))
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    # 64 requests in flight is far past any bound (at 100/s, ~5 are); more would only pile work up in the server that
    # outlives the run. A request waiting for a connection still counts that wait in its latency.
    connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, force_close=False)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    late = 0.0
    async with aiohttp.ClientSession(
        base_url, connector=connector, cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout, auto_decompress=False
    ) as session:

        async def one(at: float) -> None:
            call: Call | None = None
            try:
                call = await source.next()
                async with session.request(
                    call.method, call.path, headers=dict(call.headers), data=call.body, allow_redirects=False
                ) as response:
                    body = await response.read()
                    if not 200 <= response.status < 300:
                        errors[str(response.status)] += 1
                    source.answered(call, response.status, body)
            except TimeoutError:
                errors["timeout"] += 1
                if call is not None:
                    source.failed(call)
            except aiohttp.ClientError as exc:
                errors[type(exc).__name__] += 1
                if call is not None:
                    source.failed(call)
            latencies.append(time.perf_counter() - at)

        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(count):
            at = start + i / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late = max(late, -delay)
            tasks.append(asyncio.create_task(one(at)))
        await asyncio.gather(*tasks)
    ms = [x * 1000 for x in latencies]
    return PacedResult(
        rate=rate,
        seconds=seconds,
        sent=count,
        p50_ms=percentile(ms, 0.50),
        p90_ms=percentile(ms, 0.90),
        p99_ms=percentile(ms, 0.99),
        max_ms=max(ms),
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        late_ms=late * 1000,
    )
