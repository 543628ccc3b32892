"""Liveness, readiness and (for admins) the detailed health report."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import func, select, text

from leadflow import __version__
from leadflow.accounts.policies import principal_from_token
from leadflow.platform.db import Database
from leadflow.platform.dependencies import DatabaseDep, RedisDep, SignerDep, StorageDep
from leadflow.platform.jobs import JobRun
from leadflow.platform.middleware import bearer_or_cookie_token
from leadflow.platform.migrations import current_revision, head_revision
from leadflow.platform.security import Signer
from leadflow.platform.storage import Storage

router = APIRouter(tags=["health"])


class CheckFailed(Exception):
    """A failed check whose message is safe to show (admins, `leadflow check`); other errors show their type."""


async def _timed(coro: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = await coro
        state: dict[str, Any] = {"status": "ok"}
        if detail:
            state["detail"] = detail
    except CheckFailed as exc:
        state = {"status": "fail", "error": str(exc)}
    except Exception as exc:
        state = {"status": "fail", "error": type(exc).__name__}
    state["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    return state


async def _database(database: Database) -> str:
    async with database.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return database.dialect


async def _migrations(database: Database) -> str:
    async with database.engine.connect() as conn:
        current = await conn.run_sync(current_revision)
    head = head_revision()
    if current != head:
        raise CheckFailed(f"current {current or 'empty'}, head {head}")
    return str(current)


async def _jobs(database: Database) -> str:
    """The newest run of each job, e.g. ``recordings.sync ok, platform.housekeeping failed`` (informational: a failed
    job does not make the service unready)."""
    newest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    async with database.session() as session:
        rows = (await session.execute(select(JobRun.job, JobRun.status).join(newest, JobRun.id == newest.c.id))).all()
    return ", ".join(f"{job} {status}" for job, status in sorted(rows)) or "no runs yet"


async def run_checks(database: Database, redis: Redis | None, storage: Storage) -> dict[str, dict[str, Any]]:
    """Every dependency's state; shared by the health endpoints and `leadflow check`."""
    checks = {
        "database": await _timed(_database(database)),
        "migrations": await _timed(_migrations(database)),
        "storage": await _timed(storage.probe()),
        "redis": await _timed(redis.ping()) if redis is not None else {"status": "not_configured"},
        "jobs": await _timed(_jobs(database)),
    }
    return checks


def _ready(checks: dict[str, dict[str, Any]]) -> bool:
    return all(c["status"] != "fail" for c in checks.values())


@router.get("/health/live", summary="The process is up (no dependencies checked)")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready", summary="Ready to serve: database, migrations, Redis (if configured), storage")
async def ready(database: DatabaseDep, redis: RedisDep, storage: StorageDep) -> JSONResponse:
    ok = _ready(await run_checks(database, redis, storage))
    return JSONResponse({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)


async def _is_admin(request: Request, database: Database, signer: Signer) -> bool:
    token = bearer_or_cookie_token(request.scope)
    if not token:
        return False
    try:
        async with database.session() as session:
            principal = await principal_from_token(session, signer, token)
    except Exception:  # the database may be what is down; the answer then is the anonymous one
        return False
    return principal is not None and principal.is_admin


@router.get("/health", summary="Health; details (checks, latency, version) for admins only")
async def health(
    request: Request, database: DatabaseDep, redis: RedisDep, storage: StorageDep, signer: SignerDep
) -> JSONResponse:
    checks = await run_checks(database, redis, storage)
    ok = _ready(checks)
    body: dict[str, Any] = {"status": "ok" if ok else "unavailable"}
    if await _is_admin(request, database, signer):
        body |= {"version": __version__, "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)
