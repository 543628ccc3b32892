"""The benchmark database: PostgreSQL with the data set of SPEC §13 (`leadflow seed-demo --scale large`).

Missing: created, migrated and loaded (a few minutes; seed-demo prints its progress). Present: migrated to the head
only. The ``small`` set is the same generator scaled down (a few thousand requests), for smoke runs of the benchmark
itself: its figures say nothing about the service.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import URL, make_url

from leadflow.demo import large

LARGE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/leadflow_bench"
SMALL_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/leadflow_bench_small"
SMALL = large.Scale(cities=4, campaigns=8, masters=24, requests=3000, transactions=1500, days=90)


def _dsn(url: URL, database: str | None = None) -> str:
    plain = url.set(drivername="postgresql")
    if database is not None:
        plain = plain.set(database=database)
    return plain.render_as_string(hide_password=False)


def parse(url: str) -> URL:
    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql") or not parsed.database:
        raise SystemExit(f"the benchmark runs on a PostgreSQL database, not {parsed.render_as_string()}")
    return parsed


async def _create_if_missing(url: URL) -> bool:
    connection = await asyncpg.connect(_dsn(url, "postgres"))
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database):
            return False
        await connection.execute(f'CREATE DATABASE "{url.database}"')
        return True
    finally:
        await connection.close()


async def _facts(url: URL) -> dict[str, Any]:
    connection = await asyncpg.connect(_dsn(url))
    try:
        loaded = await connection.fetchval(
            "SELECT EXISTS (SELECT 1 FROM cities WHERE name = $1)", large.CITY_NAMES[0][0]
        )
        facts: dict[str, Any] = {"loaded": bool(loaded)}
        if loaded:
            for table in ("cities", "advertising_campaigns", "masters", "requests", "transactions"):
                facts[table] = int(await connection.fetchval(f"SELECT count(*) FROM {table}"))
        facts["postgresql"] = await connection.fetchval("SHOW server_version")
        return facts
    finally:
        await connection.close()


def facts(url: str) -> dict[str, Any]:
    """Row counts of the data set's tables and the server's version."""
    return asyncio.run(_facts(parse(url)))


def _leadflow(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "leadflow", *args], env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"`leadflow {' '.join(args)}` failed with exit code {done.returncode}")


async def _load_small(env: dict[str, str]) -> dict[str, int]:
    from leadflow.platform.settings import Settings
    from leadflow.runtime import running

    settings = Settings(
        database_url=env["LEADFLOW_DATABASE_URL"], data_dir=Path(env["LEADFLOW_DATA_DIR"]), redis_url=None
    )

    def progress(table: str, written: int, planned: int) -> None:
        print(f"  {table}: +{written} of {planned}", file=sys.stderr)

    async with running(settings) as runtime:
        return await large.load(settings, runtime.database, progress, SMALL)


def ensure(url: str, scale: str, env: dict[str, str]) -> dict[str, Any]:
    """Create, migrate and load the database at ``url`` as needed (``env``: the `leadflow` commands' environment);
    its facts."""
    parsed = parse(url)
    if asyncio.run(_create_if_missing(parsed)):
        print(f"created database {parsed.database}")
    print(f"migrating {parsed.database} (leadflow migrate upgrade)")
    _leadflow(["migrate", "upgrade"], env)
    found = asyncio.run(_facts(parsed))
    if not found["loaded"]:
        started = time.monotonic()
        if scale == "large":
            print("loading the benchmark data set (leadflow seed-demo --scale large); this takes a few minutes")
            _leadflow(["seed-demo", "--scale", "large"], env)
        else:
            print("loading the small benchmark data set (the demo, then the large set's generator scaled down)")
            _leadflow(["seed-demo"], env)
            asyncio.run(_load_small(env))
        print(f"data set loaded in {time.monotonic() - started:.0f} s")
        found = asyncio.run(_facts(parsed))
    return found
