"""The general rate limit: per user when signed in, per address when anonymous; 429 with Retry-After (SPEC §11)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leadflow.accounts.models import Role
from tests.conftest import Harness, problem

LIMIT = 100


@pytest.fixture
async def rl(harness_factory: Any) -> Harness:
    return await harness_factory(rate_limit_per_minute=LIMIT)  # type: ignore[no-any-return]


def assert_rate_limited(response: httpx.Response) -> int:
    problem(response, 429, "rate-limited")
    retry_after = response.headers["retry-after"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= 60
    assert response.headers["x-request-id"]
    assert response.headers["cache-control"] == "no-store"
    return int(retry_after)


async def test_a_user_is_limited_after_the_budget(rl: Harness) -> None:
    user = await rl.user(Role.operator)
    client = await rl.as_user(user)
    for i in range(LIMIT):
        response = await client.get("/api/v1/auth/me")
        assert response.status_code == 200, (i, response.text)
    assert_rate_limited(await client.get("/api/v1/auth/me"))
    # Every other route is covered by the same budget, writes included.
    assert_rate_limited(await client.get("/api/v1/cities"))
    assert_rate_limited(await client.post("/api/v1/cities", json={"name": "Omsk"}))


async def test_a_limited_user_does_not_affect_others(rl: Harness) -> None:
    first = await rl.as_user(await rl.user(Role.operator))
    for _ in range(LIMIT):
        await first.get("/api/v1/auth/me")
    assert_rate_limited(await first.get("/api/v1/auth/me"))
    second = await rl.as_user(await rl.user(Role.operator))
    assert (await second.get("/api/v1/auth/me")).status_code == 200
    # Anonymous callers from the same address have their own budget.
    problem(await rl.client.get("/api/v1/auth/me"), 401)


async def test_a_new_token_does_not_reset_the_budget(rl: Harness) -> None:
    user = await rl.user(Role.operator)
    client = await rl.as_user(user)
    for _ in range(LIMIT):
        await client.get("/api/v1/auth/me")
    again = await rl.as_user(user)
    assert_rate_limited(await again.get("/api/v1/auth/me"))


async def test_many_users_behind_one_address_are_not_throttled(rl: Harness) -> None:
    office = "192.0.2.10"
    clients = []
    for _ in range(12):
        user = await rl.user(Role.operator)
        token = await rl.token(user)
        clients.append(rl.new_client(ip=office, headers={"Authorization": f"Bearer {token}"}))
    for _round in range(20):
        for client in clients:
            response = await client.get("/api/v1/auth/me")
            assert response.status_code == 200, response.text
    # 240 signed-in requests from one address, yet an anonymous caller there still has its budget.
    problem(await rl.new_client(ip=office).get("/api/v1/auth/me"), 401)


async def test_anonymous_requests_are_limited_per_address(rl: Harness) -> None:
    first = rl.new_client(ip="198.51.100.1")
    second = rl.new_client(ip="198.51.100.2")
    for i in range(LIMIT):
        response = await first.get("/api/v1/auth/me")
        assert response.status_code == 401, (i, response.text)
    assert_rate_limited(await first.get("/api/v1/auth/me"))
    assert_rate_limited(await first.get("/api/v1/missing"))
    for _ in range(LIMIT):
        assert (await second.get("/api/v1/auth/me")).status_code == 401
    assert_rate_limited(await second.get("/api/v1/auth/me"))


async def test_an_invalid_token_counts_as_anonymous(rl: Harness) -> None:
    client = rl.new_client(ip="198.51.100.3")
    for n in range(LIMIT):
        token = f"forged-{n}"  # rotating garbage tokens do not buy new budgets
        response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
    assert_rate_limited(await client.get("/api/v1/auth/me", headers={"Authorization": "Bearer forged-x"}))


async def test_health_is_never_limited(rl: Harness) -> None:
    client = rl.new_client(ip="198.51.100.4")
    for _ in range(LIMIT + 20):
        response = await client.get("/health/live")
        assert response.status_code == 200
    # Nor did it spend the address's budget.
    problem(await client.get("/api/v1/auth/me"), 401)


async def test_health_stays_up_for_a_limited_address(rl: Harness) -> None:
    client = rl.new_client(ip="198.51.100.5")
    for _ in range(LIMIT):
        await client.get("/api/v1/auth/me")
    assert_rate_limited(await client.get("/api/v1/auth/me"))
    assert (await client.get("/health/live")).status_code == 200


async def test_small_limit_retry_after(harness_factory: Any) -> None:
    h: Harness = await harness_factory(rate_limit_per_minute=1)
    client = h.new_client(ip="198.51.100.6")
    problem(await client.get("/api/v1/auth/me"), 401)
    retry = assert_rate_limited(await client.get("/api/v1/auth/me"))
    assert retry >= 1
