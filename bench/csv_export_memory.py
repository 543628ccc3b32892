"""Peak memory of a CSV export of every request (200 000 in the benchmark data set; docs/api.md#csv-export).

In-process (default): the app is built in a fresh process on the given data directory or database, the bench admin
signs in, and one `GET /api/v1/requests?format=csv` runs through the whole ASGI app with a `send` that counts the
body and drops it. The process's peak RSS is read before and after the export (`ru_maxrss`), and, with
`--tracemalloc`, the peak of Python's own allocations during it. Load the data set first, once:

    LEADFLOW_DATA_DIR=/tmp/lf-bench uv run leadflow migrate upgrade
    LEADFLOW_DATA_DIR=/tmp/lf-bench uv run leadflow seed-demo --scale large
    LEADFLOW_DATA_DIR=/tmp/lf-bench uv run python bench/csv_export_memory.py

(PostgreSQL: `LEADFLOW_DATABASE_URL=postgresql+asyncpg://...` instead of, or beside, `LEADFLOW_DATA_DIR`.)

Against a running server: `--url http://127.0.0.1:8000 --pid <server pid>` streams the same export over HTTP and
samples the server process's resident memory (`/proc/<pid>/status`) every 20 ms while it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import tracemalloc
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx

from leadflow.demo.large import BENCH_ADMIN, BENCH_PASSWORD

PATH = "/api/v1/requests"
MiB = 1024 * 1024


def rss(pid: int | str = "self") -> int:
    """The resident set size of a process, in bytes (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for process {pid}")


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


async def token_of(client: httpx.AsyncClient) -> str:
    answer = await client.post("/api/v1/auth/token", data={"username": BENCH_ADMIN, "password": BENCH_PASSWORD})
    if answer.status_code != 200:
        raise SystemExit(f"sign-in as {BENCH_ADMIN} failed ({answer.status_code}); load the data set first (see above)")
    return str(answer.json()["access_token"])


async def in_process(trace: bool) -> None:
    from leadflow.app import create_app
    from leadflow.platform.settings import Settings

    settings = Settings(log_level="WARNING", rate_limit_exempt_logins=[BENCH_ADMIN])
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            token = await token_of(client)
            warm = await client.get(PATH, params={"per_page": 1}, headers={"Authorization": f"Bearer {token}"})
            total = warm.json()["total"]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": PATH,
            "raw_path": PATH.encode(),
            "query_string": b"format=csv",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
            "client": ("127.0.0.1", 40000),
            "server": ("bench", 80),
        }
        done = asyncio.Event()
        counted = {"status": 0, "lines": 0, "bytes": 0}
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                counted["status"] = message["status"]
            elif message["type"] == "http.response.body":
                counted["lines"] += message.get("body", b"").count(b"\r\n")
                counted["bytes"] += len(message.get("body", b""))
                if not message.get("more_body", False):
                    done.set()

        before_peak, before_now = peak_rss(), rss()
        if trace:
            tracemalloc.start()
        started = time.perf_counter()
        await app(scope, receive, send)
        elapsed = time.perf_counter() - started
        traced = tracemalloc.get_traced_memory()[1] if trace else None
        after_peak = peak_rss()
    if counted["status"] != 200:
        raise SystemExit(f"the export answered {counted['status']}")
    print(f"rows exported         {counted['lines'] - 1:,} (the list's total: {total:,})")
    print(f"CSV size              {counted['bytes'] / MiB:,.1f} MiB in {elapsed:.1f} s")
    print(f"RSS before the export {before_now / MiB:,.1f} MiB (peak so far {before_peak / MiB:,.1f} MiB)")
    added = (after_peak - before_peak) / MiB
    print(f"peak RSS after        {after_peak / MiB:,.1f} MiB: the export added {added:,.1f} MiB")
    if traced is not None:
        print(f"tracemalloc peak      {traced / MiB:,.1f} MiB of Python allocations during the export")


async def against_server(url: str, pid: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=600) as client:
        token = await token_of(client)
        headers = {"Authorization": f"Bearer {token}"}
        baseline = rss(pid)
        highest = baseline
        lines = size = 0
        running = True

        async def sample() -> None:
            nonlocal highest
            while running:
                highest = max(highest, rss(pid))
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        started = time.perf_counter()
        async with client.stream("GET", PATH, params={"format": "csv"}, headers=headers) as response:
            if response.status_code != 200:
                raise SystemExit(f"the export answered {response.status_code}")
            last = b""
            async for chunk in response.aiter_bytes():
                lines += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")  # a CRLF split in two
                size += len(chunk)
                last = chunk[-1:]
        elapsed = time.perf_counter() - started
        running = False
        await sampler
    print(f"rows exported         {lines - 1:,}")
    print(f"CSV size              {size / MiB:,.1f} MiB in {elapsed:.1f} s")
    print(f"server RSS            {baseline / MiB:,.1f} MiB before, {highest / MiB:,.1f} MiB at most during the export")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running server (with --pid); default: in-process")
    parser.add_argument("--pid", type=int, help="the server process whose memory is sampled")
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python's allocations (slower)")
    args = parser.parse_args()
    if args.url:
        if not args.pid:
            parser.error("--url needs --pid")
        asyncio.run(against_server(args.url, args.pid))
    else:
        asyncio.run(in_process(args.tracemalloc))


if __name__ == "__main__":
    main()
