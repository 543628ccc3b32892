"""``Idempotency-Key`` on creating POSTs: scoped to user and route, replays the first answer (SPEC §4)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from leadflow.accounts.models import Role
from leadflow.catalog.models import City
from leadflow.platform.idempotency import IdempotencyKey
from leadflow.platform.problems import Problem
from tests.conftest import PASSWORD, Harness, problem

CITIES = "/api/v1/cities"
DIRECTIONS = "/api/v1/directions"


def key(value: str) -> dict[str, str]:
    return {"Idempotency-Key": value}


async def count(h: Harness, model: Any) -> int:
    async with h.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_same_key_and_body_replays_the_first_answer(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    first = await client.post(CITIES, json={"name": "Omsk"}, headers=key("k-1"))
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    second = await client.post(CITIES, json={"name": "Omsk"}, headers=key("k-1"))
    assert second.status_code == 201, second.text
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["content-type"] == first.headers["content-type"]
    # The replay still goes through the edge: fresh request id, security headers, no-store.
    assert second.headers["x-request-id"] != first.headers["x-request-id"]
    assert second.headers["cache-control"] == "no-store"
    assert second.headers["x-content-type-options"] == "nosniff"
    listing = (await client.get(CITIES)).json()
    assert listing["total"] == 1
    assert await count(h, City) == 1


async def test_many_repeats_create_one_row(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    ids = set()
    for _ in range(5):
        response = await client.post(CITIES, json={"name": "Omsk"}, headers=key("repeat"))
        assert response.status_code == 201
        ids.add(response.json()["id"])
    assert len(ids) == 1
    assert await count(h, City) == 1


async def test_same_key_with_another_body_is_422(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    assert (await client.post(CITIES, json={"name": "Omsk"}, headers=key("k-2"))).status_code == 201
    body = problem(await client.post(CITIES, json={"name": "Tomsk"}, headers=key("k-2")), 422, "validation-error")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    assert [c["name"] for c in (await client.get(CITIES)).json()["items"]] == ["Omsk"]
    # The original body still replays.
    replay = await client.post(CITIES, json={"name": "Omsk"}, headers=key("k-2"))
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"


async def test_different_users_with_the_same_key_are_independent(h: Harness) -> None:
    alice, bob = await h.signed_in(Role.admin), await h.signed_in(Role.admin)
    a = await alice.post(CITIES, json={"name": "Omsk"}, headers=key("shared"))
    b = await bob.post(CITIES, json={"name": "Tomsk"}, headers=key("shared"))
    assert a.status_code == 201, a.text
    assert b.status_code == 201, b.text
    assert "idempotent-replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert await count(h, City) == 2


async def test_another_user_with_the_same_key_and_body_is_not_replayed(h: Harness) -> None:
    alice, bob = await h.signed_in(Role.admin), await h.signed_in(Role.admin)
    assert (await alice.post(CITIES, json={"name": "Omsk"}, headers=key("same"))).status_code == 201
    second = await bob.post(CITIES, json={"name": "Omsk"}, headers=key("same"))
    # Bob's request runs on its own: the name is taken, so it is a conflict, not Alice's answer.
    assert "idempotent-replayed" not in second.headers
    problem(second, 409)
    assert await count(h, City) == 1


async def test_key_is_scoped_to_the_route(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    city = await client.post(CITIES, json={"name": "Omsk"}, headers=key("route"))
    direction = await client.post(DIRECTIONS, json={"name": "Omsk"}, headers=key("route"))
    assert city.status_code == 201, city.text
    assert direction.status_code == 201, direction.text
    assert "idempotent-replayed" not in direction.headers
    assert (await client.get(DIRECTIONS)).json()["total"] == 1
    assert (await client.get(CITIES)).json()["total"] == 1


async def test_without_a_key_every_post_runs(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    first = await client.post(CITIES, json={"name": "Omsk"})
    assert first.status_code == 201
    # Same body again: it really runs (and meets the unique name) instead of being replayed.
    again = await client.post(CITIES, json={"name": "Omsk"})
    assert "idempotent-replayed" not in again.headers
    problem(again, 409)
    for name in ("Tomsk", "Tomsk-2"):
        assert (await client.post(CITIES, json={"name": name})).status_code == 201
    assert await count(h, City) == 3
    assert await count(h, IdempotencyKey) == 0


async def test_key_length_and_characters(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    body = problem(await client.post(CITIES, json={"name": "Omsk"}, headers=key("k" * 256)), 422, "validation-error")
    assert body["errors"][0]["field"] == "Idempotency-Key"
    problem(await client.post(CITIES, json={"name": "Omsk"}, headers=key("with space")), 422, "validation-error")
    problem(await client.post(CITIES, json={"name": "Omsk"}, headers=key("")), 422, "validation-error")
    assert await count(h, City) == 0
    longest = await client.post(CITIES, json={"name": "Omsk"}, headers=key("k" * 255))
    assert longest.status_code == 201, longest.text
    replay = await client.post(CITIES, json={"name": "Omsk"}, headers=key("k" * 255))
    assert replay.headers["idempotent-replayed"] == "true"


async def test_a_4xx_answer_is_replayed(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    first = await client.post(CITIES, json={"name": ""}, headers=key("bad"))
    problem(first, 422, "validation-error")
    second = await client.post(CITIES, json={"name": ""}, headers=key("bad"))
    problem(second, 422, "validation-error")
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert await count(h, City) == 0


async def test_a_conflict_is_replayed_even_after_the_cause_is_gone(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    existing = await client.post(CITIES, json={"name": "Omsk"})
    assert existing.status_code == 201
    problem(await client.post(CITIES, json={"name": "Omsk"}, headers=key("dup")), 409)
    assert (await client.delete(f"{CITIES}/{existing.json()['id']}")).status_code == 204
    replay = await client.post(CITIES, json={"name": "Omsk"}, headers=key("dup"))
    problem(replay, 409)
    assert replay.headers["idempotent-replayed"] == "true"
    assert await count(h, City) == 0


async def test_anonymous_post_with_a_key_is_401_and_not_remembered(h: Harness) -> None:
    problem(await h.client.post(CITIES, json={"name": "Omsk"}, headers=key("anon")), 401)
    assert await count(h, IdempotencyKey) == 0
    client = await h.signed_in(Role.admin)
    assert (await client.post(CITIES, json={"name": "Omsk"}, headers=key("anon"))).status_code == 201


async def test_auth_endpoints_are_not_idempotent(h: Harness) -> None:
    user = await h.user(Role.operator)
    client = await h.as_user(user)
    form = {"username": user.login, "password": PASSWORD}
    a = await client.post("/api/v1/auth/token", data=form, headers=key("login"))
    b = await client.post("/api/v1/auth/token", data=form, headers=key("login"))
    assert a.status_code == b.status_code == 200
    assert "idempotent-replayed" not in b.headers
    assert a.json()["access_token"] != b.json()["access_token"]


async def test_after_a_5xx_the_key_is_forgotten(harness_factory: Any) -> None:
    h: Harness = await harness_factory()
    calls: list[int] = []

    async def flaky(request: Request) -> JSONResponse:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("transient failure")
        if len(calls) == 2:
            raise Problem("Try later.", status=503)
        return JSONResponse({"call": len(calls)}, status_code=201)

    h.app.add_api_route("/api/v1/test-flaky", flaky, methods=["POST"])
    client = await h.signed_in(Role.admin)
    problem(await client.post("/api/v1/test-flaky", json={"x": 1}, headers=key("flaky")), 500, "internal-error")
    assert await count(h, IdempotencyKey) == 0
    problem(await client.post("/api/v1/test-flaky", json={"x": 1}, headers=key("flaky")), 503)
    assert await count(h, IdempotencyKey) == 0
    ok = await client.post("/api/v1/test-flaky", json={"x": 1}, headers=key("flaky"))
    assert ok.status_code == 201
    assert ok.json() == {"call": 3}
    assert "idempotent-replayed" not in ok.headers
    replay = await client.post("/api/v1/test-flaky", json={"x": 1}, headers=key("flaky"))
    assert replay.status_code == 201
    assert replay.json() == {"call": 3}
    assert replay.headers["idempotent-replayed"] == "true"
    assert len(calls) == 3


async def test_a_repeat_while_the_first_is_running_is_409(harness_factory: Any) -> None:
    h: Harness = await harness_factory()
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow(request: Request) -> JSONResponse:
        entered.set()
        await release.wait()
        return JSONResponse({"done": True}, status_code=201)

    h.app.add_api_route("/api/v1/test-slow", slow, methods=["POST"])
    client = await h.signed_in(Role.admin)
    first = asyncio.create_task(client.post("/api/v1/test-slow", json={"a": 1}, headers=key("slow")))
    await asyncio.wait_for(entered.wait(), 5)
    problem(await client.post("/api/v1/test-slow", json={"a": 1}, headers=key("slow")), 409)
    release.set()
    done = await asyncio.wait_for(first, 5)
    assert done.status_code == 201
    replay = await client.post("/api/v1/test-slow", json={"a": 1}, headers=key("slow"))
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
