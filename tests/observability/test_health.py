from __future__ import annotations

from leadflow.accounts.models import Role
from tests.conftest import Harness


async def test_live_and_ready(h: Harness) -> None:
    live = await h.client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = await h.client.get("/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ok"}


async def test_details_only_for_admins(h: Harness) -> None:
    admin, operator = await h.user(Role.admin), await h.user(Role.operator)
    anonymous = (await h.client.get("/health")).json()
    assert anonymous == {"status": "ok"}
    as_operator = (await (await h.as_user(operator)).get("/health")).json()
    assert as_operator == {"status": "ok"}
    detailed = (await (await h.as_user(admin)).get("/health")).json()
    assert detailed["status"] == "ok" and detailed["version"]
    checks = detailed["checks"]
    assert set(checks) == {"database", "redis", "storage", "migrations", "jobs"}
    assert checks["database"]["status"] == "ok" and checks["database"]["latency_ms"] >= 0
    assert checks["migrations"]["status"] == "ok"


async def test_ready_is_503_when_the_database_is_unreachable(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none", db_pool_timeout=1)
    assert (await h.client.get("/health/live")).status_code == 200
    ready = await h.client.get("/health/ready")
    assert ready.status_code == 503 and ready.json() == {"status": "unavailable"}
    # An API call that needs the database answers 503 problem+json, not a 500 or a stack trace.
    token = await h.client.post("/api/v1/auth/token", data={"username": "x", "password": "y"})
    assert token.status_code == 503
    assert token.headers["content-type"].startswith("application/problem+json")
    assert token.json()["type"].endswith("/database-unavailable")


async def test_ready_is_503_when_configured_redis_is_down(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(redis_url="redis://127.0.0.1:1/0")
    ready = await h.client.get("/health/ready")
    assert ready.status_code == 503
    # Requests keep working: limits and lockouts fall back.
    user = await h.user(Role.operator)
    api = await h.as_user(user)
    assert (await api.get("/api/v1/auth/me")).status_code == 200
