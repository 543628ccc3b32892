"""Load for the fault tests: a few concurrent API clients against a real ``leadflow serve`` process, every call
recorded (what, when, how long, how it ended), and the checks that what the service acknowledged is what it stored.

Each client takes requests by hand with phones of its own and walks each one through the whole workflow to ``done``
(which books the master's handover in the same transaction), reading between the writes: the request, the list, the
cash balance, the signed-in user; one client also signs in each round. A write that did not answer 2xx abandons its request; what became of it is checked
afterwards with :func:`check_consistency`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from tests.cli.servers import run_cli
from tests.conftest import PASSWORD

API = "/api/v1"
PROBLEM = "application/problem+json"
# The moves a director makes from "new" to "done" (SPEC §3.2), with what each needs besides the version.
PATH: list[tuple[str, dict[str, Any]]] = [
    ("awaiting_dispatch", {}),
    ("awaiting_acceptance", {"master_id": None}),  # filled with the scenario's master
    ("accepted", {}),
    ("in_progress", {}),
    ("done", {"result": "1000.00", "expenses": "100.00"}),
]
STATUSES = ["new", *(status for status, _ in PATH)]
HANDOVER = Decimal("450.00")  # (1000 - 100) x 0.50


@dataclass
class Call:
    """One HTTP call as the client saw it."""

    name: str
    started: float  # time.monotonic()
    elapsed: float
    status: int | None = None  # None: no complete response (see error)
    content_type: str = ""
    problem_type: str | None = None
    error: str | None = None  # the transport error's type, when there was no complete response
    responded: bool = False  # the status line and headers arrived
    finished: bool = False  # the call is over (with or without a response)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def ended(self) -> float:
        return self.started + self.elapsed

    def __str__(self) -> str:
        what = self.status if self.status is not None else self.error
        return f"{self.name} → {what} {self.problem_type or ''} in {self.elapsed * 1000:.0f} ms"


@dataclass
class Scenario:
    """The accounts and the city the load works with, made through the CLI and the API."""

    url: str
    city_id: int
    master_id: int
    admin: str  # bearer tokens
    director: str


@dataclass
class Attempt:
    """A request the load tried to take: its phone, the status the service acknowledged last, and its id."""

    phone: str
    create_status: int | None = None
    request_id: int | None = None
    acknowledged: str | None = None  # the last status a 2xx answer confirmed
    abandoned_move: str | None = None  # the move whose answer was not 2xx


def problem_slug(response: httpx.Response) -> str | None:
    if not response.headers.get("content-type", "").startswith(PROBLEM):
        return None
    try:
        kind = response.json().get("type", "")
    except ValueError:
        return None
    return str(kind).rsplit("/", 1)[-1] or None


ADMIN = "fault-admin"


def make_admin(env: dict[str, str]) -> None:
    """The first admin, as an operator makes it: ``leadflow create-admin``."""
    made = run_cli(["create-admin", "--login", ADMIN, "--password-stdin"], env, PASSWORD + "\n")
    assert made.returncode == 0, made.stderr


async def token(url: str, login: str) -> str:
    """An access token of ``login`` (password :data:`PASSWORD`)."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        answer = await client.post(f"{API}/auth/token", data={"username": login, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


async def scenario(url: str) -> Scenario:
    """Through the API, as the admin of :func:`make_admin`: a city, a director of it and a master in it."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        admin = await token(url, ADMIN)
        as_admin = {"Authorization": f"Bearer {admin}"}
        city = await client.post(f"{API}/cities", json={"name": "Faultburg"}, headers=as_admin)
        assert city.status_code == 201, city.text
        city_id = int(city.json()["id"])
        users = {
            "director": {"role": "director", "city_ids": [city_id]},
            "master": {"role": "master", "master": {"city_id": city_id, "phone": "+79160000001"}},
        }
        ids = {}
        for login, fields in users.items():
            body = {"login": f"fault-{login}", "password": PASSWORD, "full_name": f"Fault {login.title()}", **fields}
            created = await client.post(f"{API}/users", json=body, headers=as_admin)
            assert created.status_code == 201, created.text
            ids[login] = int(created.json()["id"])
        return Scenario(url, city_id, ids["master"], admin, await token(url, "fault-director"))


def server_env(env: dict[str, str]) -> dict[str, str]:
    """The load's users are exempt from nothing: the limits are just high enough for a few seconds of it."""
    return {**env, "LEADFLOW_RATE_LIMIT_PER_MINUTE": "100000", "LEADFLOW_LOGIN_RATE_LIMIT_PER_MINUTE": "100000"}


PHONES = itertools.count(1_000_000)


def next_phone() -> str:
    """A phone no other attempt uses, as the service stores it (digits only; sent as typed, with the plus)."""
    return f"7916{next(PHONES):07d}"


@dataclass
class Load:
    """``clients`` concurrent API clients (each with its own keep-alive connection) until :meth:`stop`. With
    ``stop_on_refusal`` the clients make no new call once one found the service gone (no answer at all)."""

    scenario: Scenario
    clients: int = 8
    timeout: float = 20
    stop_on_refusal: bool = False
    calls: list[Call] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._client(signs_in=i == 0)) for i in range(self.clients)]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.gather(*self._tasks)

    def client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {self.scenario.director}"}
        return httpx.AsyncClient(base_url=self.scenario.url, headers=headers, timeout=self.timeout)

    async def call(
        self, client: httpx.AsyncClient, name: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        """One call, recorded; its response (read whole), or None when there was no complete response."""
        record = Call(name, time.monotonic(), 0.0)
        self.calls.append(record)
        response = None
        try:
            async with client.stream(method, path, **kwargs) as streamed:
                record.responded = True
                record.content_type = streamed.headers.get("content-type", "")
                await streamed.aread()
                record.status = streamed.status_code
                response = streamed
            record.problem_type = problem_slug(response)
        except httpx.HTTPError as exc:
            record.error = type(exc).__name__
            if self.stop_on_refusal:
                self._stop.set()
        record.elapsed = time.monotonic() - record.started
        record.finished = True
        return response

    async def slow_create(self, client: httpx.AsyncClient, seconds: float, parts: int = 10) -> httpx.Response | None:
        """Take a request whose body the client sends in ``parts`` pieces over ``seconds`` (a slow uplink)."""
        attempt = Attempt(next_phone())
        self.attempts.append(attempt)
        body = json.dumps(self._new_request(attempt)).encode() + b" " * 2000  # JSON allows trailing whitespace
        step = len(body) // parts + 1

        async def trickle() -> AsyncIterator[bytes]:
            for start in range(0, len(body), step):
                yield body[start : start + step]
                await asyncio.sleep(seconds / parts)

        headers = {"Content-Type": "application/json"}
        created = await self.call(client, "slow-create", "POST", f"{API}/requests", content=trickle(), headers=headers)
        attempt.create_status = created.status_code if created is not None else None
        if created is not None and created.status_code == 201:
            attempt.request_id, attempt.acknowledged = int(created.json()["id"]), "new"
        return created

    def _new_request(self, attempt: Attempt) -> dict[str, Any]:
        visit = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
        return {
            "city_id": self.scenario.city_id,
            "client_phone": "+" + attempt.phone,
            "address": "Lenina 1",
            "visit_at": visit,
        }

    async def _client(self, signs_in: bool) -> None:
        """One client's loop. One of them only signs in, again and again (the lockout and the sign-in limit are
        exercised all through the load, not once per round of moves; one client only, as concurrent sign-ins of one
        login wait for each other by design: ``login-busy``)."""
        async with self.client() as client:
            while not self._stop.is_set():
                if signs_in:
                    login = {"username": "fault-director", "password": PASSWORD}
                    await self.call(client, "sign-in", "POST", f"{API}/auth/token", data=login)
                    await self._reads(client, None)
                else:
                    await self._one_request(client)

    async def _one_request(self, client: httpx.AsyncClient) -> None:
        attempt = Attempt(next_phone())
        self.attempts.append(attempt)
        created = await self.call(client, "create", "POST", f"{API}/requests", json=self._new_request(attempt))
        attempt.create_status = created.status_code if created is not None else None
        await self._reads(client, None)
        if created is None or created.status_code != 201:
            return
        request = created.json()
        attempt.request_id, attempt.acknowledged = int(request["id"]), "new"
        for target, needs in PATH:
            if self._stop.is_set():
                return
            move = {"to": target, "version": request["version"], **needs}
            if "master_id" in needs:
                move["master_id"] = self.scenario.master_id
            moved = await self.call(
                client, f"move:{target}", "POST", f"{API}/requests/{request['id']}/transitions", json=move
            )
            if moved is None or moved.status_code != 200:
                attempt.abandoned_move = target
                return
            request = moved.json()
            attempt.acknowledged = target
            await self._reads(client, int(request["id"]))

    async def _reads(self, client: httpx.AsyncClient, request_id: int | None) -> None:
        if self._stop.is_set():
            return
        if request_id is not None:
            await self.call(client, "get", "GET", f"{API}/requests/{request_id}")
        else:
            await self.call(client, "list", "GET", f"{API}/requests", params={"city_id": self.scenario.city_id})
            await self.call(client, "me", "GET", f"{API}/auth/me")
            await self.call(client, "balance", "GET", f"{API}/cash/balance", params={"city_id": self.scenario.city_id})

    def between(self, start: float, end: float) -> list[Call]:
        """The calls that started and ended within ``[start, end]``."""
        return [c for c in self.calls if c.started >= start and c.ended <= end]

    def overlapping(self, start: float, end: float) -> list[Call]:
        return [c for c in self.calls if c.started < end and c.ended > start]


async def _pages(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    for page in itertools.count(1):
        answer = await client.get(path, params={**params, "page": page, "per_page": 200})
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        for item in items:
            yield item
        if len(items) < 200:
            return


async def check_consistency(load: Load, client: httpx.AsyncClient | None = None) -> dict[str, int]:
    """Through the API, as the admin: every request the load was told exists, in the status it was told or (a move
    whose answer was lost) the next one; its history is exactly the moves that led there; it has the handover
    transaction exactly when it is done. A create that did not answer 201 left no request, or (its commit went
    through, its answer did not) a whole one. Returns the counts seen. ``client``: an admin's client of another
    server on the same database (the load's own server may be gone)."""
    if client is None:
        headers = {"Authorization": f"Bearer {load.scenario.admin}"}
        async with httpx.AsyncClient(base_url=load.scenario.url, headers=headers, timeout=30) as client:
            return await _consistent(load, client)
    return await _consistent(load, client)


async def _consistent(load: Load, client: httpx.AsyncClient) -> dict[str, int]:
    items = [item async for item in _pages(client, f"{API}/requests", {"city_id": load.scenario.city_id})]
    stored = {item["client_phone"]: item for item in items}
    assert len(stored) == len(items), "one request per phone"
    transactions: dict[int, list[dict[str, Any]]] = {}
    async for item in _pages(client, f"{API}/transactions", {"city_id": load.scenario.city_id}):
        transactions.setdefault(int(item["request_id"] or 0), []).append(item)
    assert set(transactions) <= {int(item["id"]) for item in items}, "a transaction of no request"
    counts = {"acknowledged": 0, "unacknowledged_absent": 0, "unacknowledged_whole": 0, "done": 0}
    known = {a.phone for a in load.attempts}
    assert set(stored) <= known, f"requests nobody took: {set(stored) - known}"
    for attempt in load.attempts:
        request = stored.get(attempt.phone)
        if attempt.create_status == 201:
            assert request is not None, f"acknowledged request {attempt.request_id} is missing"
            assert request["id"] == attempt.request_id
            counts["acknowledged"] += 1
            allowed = [attempt.acknowledged]
            if attempt.abandoned_move:
                allowed.append(attempt.abandoned_move)  # its answer may be what was lost, not its commit
            assert request["status"] in allowed, (attempt, request["status"])
        elif request is None:
            counts["unacknowledged_absent"] += 1
            continue
        else:
            counts["unacknowledged_whole"] += 1
            assert request["status"] == "new", (attempt, request)
        events = (await client.get(f"{API}/requests/{request['id']}/events", params={"per_page": 200})).json()
        moves = [e["to_status"] for e in events["items"]]
        assert moves == STATUSES[: STATUSES.index(request["status"]) + 1], (attempt, moves)
        booked = [t for t in transactions.get(int(request["id"]), []) if t.get("deleted_at") is None]
        if request["status"] == "done":
            counts["done"] += 1
            assert len(booked) == 1 and Decimal(booked[0]["amount"]) == HANDOVER, (attempt, booked)
            assert Decimal(request["master_handover"]) == HANDOVER
        else:
            assert booked == [], (attempt, booked)
    return counts


def recovered_after(calls: list[Call], since: float) -> float | None:
    """When the calls started after ``since`` became all 2xx: the start of the first call after the last failure
    (None while there is no 2xx after the last failure)."""
    after = sorted((c for c in calls if c.started >= since and c.finished), key=lambda c: c.started)
    failed = [i for i, c in enumerate(after) if not c.ok]
    rest = after[failed[-1] + 1 :] if failed else after
    return rest[0].started if rest else None


def summary(calls: list[Call]) -> str:
    """``N calls: 200×a 201×b 503×c ConnectError×d; slowest NNN ms`` for failure messages and the report."""
    tally: dict[str, int] = {}
    for c in calls:
        key = str(c.status) if c.status is not None else str(c.error)
        tally[key] = tally.get(key, 0) + 1
    slowest = max((c.elapsed for c in calls), default=0.0)
    parts = " ".join(f"{k}×{v}" for k, v in sorted(tally.items()))
    return f"{len(calls)} calls: {parts}; slowest {slowest * 1000:.0f} ms"
