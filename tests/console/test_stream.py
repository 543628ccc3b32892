"""GET /api/v1/stream on real servers: notifications after commit, scoped to what the listener may see, heard in every
process when Redis is configured, ended with the session, and closed on SIGTERM so the drain does not wait for it."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.servers import Server, cli_env, start_server
from tests.conftest import PASSWORD, Harness

pytestmark = pytest.mark.slow


@pytest.fixture
def env(database_url: str, seeded_rows: object, tmp_path: Path) -> dict[str, str]:
    return cli_env(database_url, tmp_path / "data", rate_limit_per_minute=10_000)


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[Server]:
    started = start_server(env)
    yield started
    started.stop()


async def sign_in(base: str, login: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=10)
    response = await client.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
    return client


class Listener:
    """Reads one stream in the background and keeps its events."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.comments = 0
        self.open = asyncio.Event()
        self.ended = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async with self.client.stream("GET", "/api/v1/stream", timeout=None) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                kind = "message"
                async for line in response.aiter_lines():
                    self.open.set()
                    if line.startswith(":"):
                        self.comments += 1
                    elif line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        self.events.append((kind, json.loads(line[6:])))
                        kind = "message"
        finally:
            self.ended.set()

    async def wait_for(self, predicate: Any, within: float = 5) -> tuple[str, dict[str, Any]]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for item in self.events:
                if predicate(item):
                    return item
            await asyncio.sleep(0.02)
        raise AssertionError(f"no matching event in {self.events}")

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


@pytest.fixture
async def listeners() -> AsyncIterator[list[Listener]]:
    made: list[Listener] = []
    yield made
    for listener in made:
        await listener.close()
        await listener.client.aclose()


async def listen(base: str, login: str, made: list[Listener]) -> Listener:
    listener = Listener(await sign_in(base, login))
    made.append(listener)
    await asyncio.wait_for(listener.open.wait(), 5)
    return listener


async def new_request(client: httpx.AsyncClient, city_id: int, phone: str) -> dict[str, Any]:
    response = await client.post("/api/v1/requests", json={"city_id": city_id, "client_phone": phone})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_director_hears_only_their_cities(h: Harness, server: Server, listeners: list[Listener]) -> None:
    city_a, city_b = await h.city(), await h.city()
    director_a = await h.user("director", cities=[city_a.id])
    operator = await h.user("operator")
    listener = await listen(server.url, director_a.login, listeners)
    writer = await sign_in(server.url, operator.login)

    in_b = await new_request(writer, city_b.id, "79160000001")
    in_a = await new_request(writer, city_a.id, "79160000002")
    _, data = await listener.wait_for(lambda e: e[0] == "request.changed" and e[1]["id"] == in_a["id"])
    assert data == {"id": in_a["id"], "version": in_a["version"], "city_id": city_a.id, "status": "new"}
    await asyncio.sleep(0.3)
    assert all(e[1].get("city_id") != city_b.id for e in listener.events), listener.events
    assert all(e[1].get("id") != in_b["id"] for e in listener.events)
    await writer.aclose()


async def test_a_master_hears_of_their_own_jobs_only_including_one_taken_away(
    h: Harness, server: Server, listeners: list[Listener]
) -> None:
    city = await h.city()
    director = await h.user("director", cities=[city.id])
    ivanov = await h.user("master", master_city=city.id)
    petrov = await h.user("master", master_city=city.id)
    boss = await sign_in(server.url, director.login)
    job = await new_request(boss, city.id, "79160000003")
    job = (
        await boss.patch(
            f"/api/v1/requests/{job['id']}",
            json={"version": job["version"], "address": "Тверская, 1", "visit_at": "2030-01-01T10:00:00Z"},
        )
    ).json()
    job = (
        await boss.post(
            f"/api/v1/requests/{job['id']}/transitions", json={"to": "awaiting_dispatch", "version": job["version"]}
        )
    ).json()
    ears_ivanov = await listen(server.url, ivanov.login, listeners)
    ears_petrov = await listen(server.url, petrov.login, listeners)
    other = await new_request(boss, city.id, "79160000004")  # nobody's job

    offered = await boss.post(
        f"/api/v1/requests/{job['id']}/transitions",
        json={"to": "awaiting_acceptance", "version": job["version"], "master_id": ivanov.id},
    )
    assert offered.status_code == 200, offered.text
    await ears_ivanov.wait_for(lambda e: e[1].get("id") == job["id"] and e[1]["status"] == "awaiting_acceptance")
    moved = await boss.post(
        f"/api/v1/requests/{job['id']}/transitions",
        json={"to": "awaiting_acceptance", "version": offered.json()["version"], "master_id": petrov.id},
    )
    assert moved.status_code == 200, moved.text
    # Ivanov hears the job was taken from him; Petrov hears it is his now.
    await ears_ivanov.wait_for(lambda e: e[1].get("id") == job["id"] and e[1]["version"] == moved.json()["version"])
    await ears_petrov.wait_for(lambda e: e[1].get("id") == job["id"] and e[1]["version"] == moved.json()["version"])
    await asyncio.sleep(0.3)
    assert not any(e[1].get("id") == other["id"] for e in ears_ivanov.events + ears_petrov.events)
    assert not any(e[1]["version"] == offered.json()["version"] for e in ears_petrov.events)
    await boss.aclose()


async def test_the_stream_needs_a_session_and_ends_with_it(h: Harness, server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        response = await anonymous.get("/api/v1/stream")
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
    operator = await h.user("operator")
    client = await sign_in(server.url, operator.login)
    listener = Listener(client)
    await asyncio.wait_for(listener.open.wait(), 5)
    assert (await client.post("/api/v1/auth/logout")).status_code == 204
    # The session is checked at each keep-alive (15 s); the stream then says so and ends.
    await asyncio.wait_for(listener.ended.wait(), 25)
    assert listener.events[-1][0] == "session.ended"
    await client.aclose()


async def test_sigterm_closes_open_streams_and_exits_promptly(h: Harness, env: dict[str, str]) -> None:
    operator = await h.user("operator")
    server = await asyncio.to_thread(start_server, env)
    client = await sign_in(server.url, operator.login)
    listener = Listener(client)
    await asyncio.wait_for(listener.open.wait(), 5)
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(listener.ended.wait(), 10)
    ended_after = time.monotonic() - started
    await client.aclose()
    assert await asyncio.to_thread(server.process.wait, 10) == 0
    assert ended_after < 5


async def test_every_process_hears_every_write_with_redis(
    h: Harness, env: dict[str, str], redis_url: str, listeners: list[Listener]
) -> None:
    env = {**env, "LEADFLOW_REDIS_URL": redis_url, "LEADFLOW_REDIS_PREFIX": f"stream-{time.time_ns()}"}
    one, two = start_server(env), start_server(env)
    try:
        city = await h.city()
        director = await h.user("director", cities=[city.id])
        listener = await listen(two.url, director.login, listeners)
        writer = await sign_in(one.url, director.login)
        made = await new_request(writer, city.id, "79160000005")
        await listener.wait_for(lambda e: e[1].get("id") == made["id"])
        await writer.aclose()
    finally:
        one.stop()
        two.stop()
