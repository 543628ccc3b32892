"""Ids outside the database's integer range never reach a driver (no 500): in a path they are unknown objects (404),
in a filter or a body invalid input (422)."""

from __future__ import annotations

import pytest

from leadflow.accounts.models import Role
from tests.conftest import Harness, problem

HUGE = [2**31, 2**63, 10**20, -1, 0]


@pytest.mark.parametrize("value", HUGE)
async def test_path_and_query_ids(h: Harness, value: int) -> None:
    api = await h.as_user(await h.user(Role.admin))
    for path in (
        f"/api/v1/users/{value}",
        f"/api/v1/masters/{value}",
        f"/api/v1/cities/{value}",
        f"/api/v1/directions/{value}",
    ):
        problem(await api.get(path), 404)
    problem(await api.patch(f"/api/v1/request-types/{value}", json={"name": "x"}), 404)
    problem(await api.delete(f"/api/v1/transaction-types/{value}"), 404)
    problem(await api.get("/api/v1/cities/not-a-number"), 422)
    problem(await api.get("/api/v1/users", params={"city_id": value}), 422)
    problem(await api.get("/api/v1/masters", params={"city_id": value}), 422)


@pytest.mark.parametrize("value", HUGE)
async def test_body_ids(h: Harness, value: int) -> None:
    api = await h.as_user(await h.user(Role.admin))
    body = {
        "login": "new.op",
        "password": "Brand-New-Pass-2026",
        "full_name": "Op",
        "role": "operator",
        "city_ids": [value],
    }
    problem(await api.post("/api/v1/users", json=body), 422)
    master = {**body, "role": "master", "city_ids": [], "master": {"city_id": value, "phone": "79161234567"}}
    problem(await api.post("/api/v1/users", json=master), 422)
    assert (await api.get("/api/v1/users")).json()["total"] == 1


async def test_method_not_allowed_lists_every_method(h: Harness) -> None:
    response = await h.client.put("/api/v1/cities")
    problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD, POST"
    item = await h.client.put("/api/v1/users/1")
    assert item.headers["allow"] == "DELETE, GET, HEAD, PATCH"


async def test_refused_preflight_is_problem_json(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(cors_origins="https://app.example.com")
    refused = await h.client.options(
        "/api/v1/cities", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
    )
    body = problem(refused, 400, "cors-refused")
    assert "origin" in body["detail"]
    assert "access-control-allow-origin" not in refused.headers
