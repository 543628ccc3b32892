"""What the hot path keeps between requests (the signed-in user, the runtime settings, the request count, the cash
totals) is never older than the last committed write: in this process, and in another process on the same Redis.

Each test runs on the embedded defaults (one process, in-process generations) and, on the PostgreSQL + Redis run,
again with two apps sharing one Redis, the second standing for another process."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.cash.helpers import TX, book
from tests.conftest import PASSWORD, REDIS_URL, Harness

TWO_PROCESSES = [False, True] if REDIS_URL else [False]


@pytest.fixture(params=TWO_PROCESSES, ids=lambda two: "two processes" if two else "one process")
async def pair(request: pytest.FixtureRequest, harness_factory: Any) -> tuple[Harness, Harness]:
    """The writer's and the reader's app: the same one, or two apps on one database and one Redis."""
    if not request.param:
        one: Harness = await harness_factory()
        return one, one
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    return await harness_factory(redis_prefix=prefix), await harness_factory(redis_prefix=prefix)


async def signed_in(h: Harness, login: str, password: str) -> httpx.AsyncClient:
    client = h.new_client()
    token = (await client.post("/api/v1/auth/token", data={"username": login, "password": password})).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    return client


async def test_a_block_cuts_the_user_off_on_their_next_request(pair: tuple[Harness, Harness]) -> None:
    writer, reader = pair
    city = await writer.city()
    operator = await writer.user("operator", cities=[city.id])
    admin = await writer.as_user(await writer.user("admin"))
    client = await signed_in(reader, operator.login, PASSWORD)
    for _ in range(3):  # remembered after the first
        assert (await client.get("/api/v1/auth/me")).status_code == 200
    assert (await admin.post(f"/api/v1/users/{operator.id}/block")).status_code == 200
    refused = await client.get("/api/v1/auth/me")
    assert refused.status_code == 401, refused.text


async def test_new_cities_are_in_the_scope_at_once(pair: tuple[Harness, Harness]) -> None:
    writer, reader = pair
    home, other = await writer.city(), await writer.city()
    director = await writer.user("director", cities=[home.id])
    admin = await writer.as_user(await writer.user("admin"))
    created = await admin.post("/api/v1/requests", json={"city_id": other.id, "client_phone": "+79161112233"})
    assert created.status_code == 201, created.text
    client = await signed_in(reader, director.login, PASSWORD)
    assert (await client.get("/api/v1/requests")).json()["total"] == 0
    changed = await admin.patch(f"/api/v1/users/{director.id}", json={"city_ids": [home.id, other.id]})
    assert changed.status_code == 200, changed.text
    assert (await client.get("/api/v1/requests")).json()["total"] == 1


async def test_the_request_count_includes_a_request_created_just_now(pair: tuple[Harness, Harness]) -> None:
    writer, reader = pair
    city = await writer.city()
    operator = await writer.user("operator", cities=[city.id])
    mine = await writer.as_user(operator)
    theirs = await signed_in(reader, operator.login, PASSWORD)
    for expected in range(1, 4):
        created = await mine.post(
            "/api/v1/requests", json={"city_id": city.id, "client_phone": f"+7916111223{expected}"}
        )
        assert created.status_code == 201, created.text
        for client in (mine, theirs):
            page = (await client.get("/api/v1/requests", params={"per_page": 1})).json()
            assert page["total"] == expected
            assert page["items"][0]["id"] == created.json()["id"]
            filtered = (await client.get("/api/v1/requests", params={"status": "new", "city_id": city.id})).json()
            assert filtered["total"] == expected


async def test_cash_totals_and_balance_include_a_transaction_booked_just_now(pair: tuple[Harness, Harness]) -> None:
    writer, reader = pair
    city = await writer.city()
    admin = await writer.as_user(await writer.user("admin"))
    made = await admin.post("/api/v1/transaction-types", json={"name": "Разное", "kind": "income"})
    assert made.status_code == 201, made.text
    income = made.json()
    director = await writer.user("director", cities=[city.id])
    theirs = await signed_in(reader, director.login, PASSWORD)
    period = {"date_from": "2024-03-01", "date_to": "2024-03-31"}
    for n in range(1, 3):
        await book(admin, city.id, income["id"], amount="100.50", occurred_on="2024-03-10")
        listed = (await theirs.get(TX, params=period)).json()
        assert listed["total"] == n
        assert listed["totals"]["income"] == f"{100.50 * n:.2f}"
        balance = (await theirs.get("/api/v1/cash/balance", params={**period, "city_id": city.id})).json()
        assert balance["totals"]["income"] == f"{100.50 * n:.2f}"


async def test_a_settings_change_is_seen_on_the_next_request(pair: tuple[Harness, Harness]) -> None:
    writer, reader = pair
    admin = await writer.as_user(await writer.user("admin"))
    other_admin = await writer.user("admin")
    theirs = await signed_in(reader, other_admin.login, PASSWORD)
    assert (await theirs.get("/api/v1/requests")).status_code == 200
    assert (await admin.patch("/api/v1/settings", json={"require_2fa_for_admins": True})).status_code == 200
    refused = await theirs.get("/api/v1/requests")
    assert refused.status_code == 403, refused.text


async def test_a_list_page_shows_a_renamed_city_at_once(pair: tuple[Harness, Harness]) -> None:
    writer, reader = pair
    city = await writer.city()
    admin = await writer.as_user(await writer.user("admin"))
    created = await admin.post("/api/v1/requests", json={"city_id": city.id, "client_phone": "+79161112233"})
    assert created.status_code == 201, created.text
    theirs = await signed_in(reader, (await writer.user("director", cities=[city.id])).login, PASSWORD)
    assert (await theirs.get("/api/v1/requests")).json()["items"][0]["city"]["name"] == city.name
    renamed = await admin.patch(f"/api/v1/cities/{city.id}", json={"name": "Новое имя"})
    assert renamed.status_code == 200, renamed.text
    assert (await theirs.get("/api/v1/requests")).json()["items"][0]["city"]["name"] == "Новое имя"


async def test_every_open_intake_queue_shows_a_new_call_and_a_move_at_once(pair: tuple[Harness, Harness]) -> None:
    """The queue fragment is kept per scope: two operators of one city share it, and a write replaces it."""
    from tests.console.test_intake import page_client

    writer, reader = pair
    city = await writer.city()
    first = await page_client(writer, await writer.user("operator", cities=[city.id]))
    second = await page_client(reader, await writer.user("operator", cities=[city.id]))
    for client in (first, second):
        assert "+7 916 111-22-33" not in (await client.get("/intake/rows")).text
    created = await first.post("/api/v1/requests", json={"city_id": city.id, "client_phone": "+79161112233"})
    assert created.status_code == 201, created.text
    request = created.json()
    for client in (first, second):
        rows = (await client.get("/intake/rows")).text
        assert f'data-id="{request["id"]}" data-status="new"' in rows
    moved = await first.post(f"/intake/{request['id']}/not-reached", data={"version": str(request["version"])})
    assert moved.status_code == 200, moved.text
    for client in (first, second):
        assert f'data-id="{request["id"]}" data-status="not_reached"' in (await client.get("/intake/rows")).text
