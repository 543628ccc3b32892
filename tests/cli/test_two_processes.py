"""Two server processes share the login lockout (Redis, or the database without it) and the rate limits (Redis)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.servers import cli_env, servers
from tests.conftest import PASSWORD, REDIS_URL, Harness

pytestmark = pytest.mark.slow


async def test_lockout_is_shared(h: Harness, database_url: str, tmp_path: Path) -> None:
    user = await h.user("operator")
    extra = {"redis_url": REDIS_URL, "redis_prefix": h.settings.redis_prefix} if REDIS_URL else {}
    env = cli_env(database_url, tmp_path / "data", **extra)
    with servers(env, 2) as (one, two):
        for i in range(5):
            target = one if i % 2 == 0 else two
            response = httpx.post(
                f"{target.url}/api/v1/auth/login", json={"login": user.login, "password": "Wrong-pass-1x"}
            )
            assert response.status_code == 401
        for target in (one, two):
            response = httpx.post(f"{target.url}/api/v1/auth/login", json={"login": user.login, "password": PASSWORD})
            assert response.status_code == 423, response.text
            assert int(response.headers["Retry-After"]) > 0


async def test_rate_limit_is_shared(h: Harness, database_url: str, tmp_path: Path, redis_url: str) -> None:
    user = await h.user("operator")
    env = cli_env(
        database_url,
        tmp_path / "data",
        redis_url=redis_url,
        redis_prefix=h.settings.redis_prefix,
        rate_limit_per_minute=10,
    )
    with servers(env, 2) as (one, two):
        token = httpx.post(f"{one.url}/api/v1/auth/token", data={"username": user.login, "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        statuses = [
            httpx.get(f"{(one if i % 2 else two).url}/api/v1/auth/me", headers=headers).status_code for i in range(10)
        ]
        assert statuses == [200] * 10
        for target in (one, two):
            limited = httpx.get(f"{target.url}/api/v1/auth/me", headers=headers)
            assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        # Another user is not affected.
        other = await h.user("operator")
        token2 = httpx.post(f"{two.url}/api/v1/auth/token", data={"username": other.login, "password": PASSWORD}).json()
        ok = httpx.get(f"{one.url}/api/v1/auth/me", headers={"Authorization": f"Bearer {token2['access_token']}"})
        assert ok.status_code == 200
