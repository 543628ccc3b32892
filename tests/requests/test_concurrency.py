"""Racing writers (SPEC §3.4): simultaneous "done" saves, PATCHes and idempotent creates through one app, each on its
own client and session. Exactly one writer wins, the others get 409 ``stale-version`` and change nothing; the handover
income exists once. On PostgreSQL (a pool of 5 + 20) these are real concurrent transactions; the done race is
repeated for several rounds so that a check-then-insert would show.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import func, select

from leadflow.requests.models import Request
from tests.conftest import Harness, problem
from tests.requests.helpers import API, REQUESTS, Team, around_today, events, handovers, reach, team, url

PARALLEL = 8
ROUNDS = 5


async def clients_of(h: Harness, t: Team, role: str) -> list[httpx.AsyncClient]:
    """PARALLEL clients, each signed in separately (its own session) as the team's master or a new director."""
    if role == "master":
        user = t.master_user
    else:
        user = await h.user("director", cities=[t.city.id])
    return [await h.as_user(user) for _ in range(PARALLEL)]


def one_winner(responses: list[httpx.Response]) -> httpx.Response:
    """Exactly one 200; every other answer is a 409 stale-version problem."""
    codes = Counter(r.status_code for r in responses)
    assert codes == Counter({200: 1, 409: PARALLEL - 1}), [(r.status_code, r.text[:200]) for r in responses]
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "stale-version")
    return next(r for r in responses if r.status_code == 200)


async def test_parallel_done_saves_complete_once_and_book_one_handover(h: Harness) -> None:
    t = await team(h)
    masters = await clients_of(h, t, "master")
    for round_ in range(ROUNDS):
        req = await reach(t, "in_progress")
        rid, version = req["id"], req["version"]
        body = {"to": "done", "version": version, "result": "1000", "expenses": str(100 + round_)}
        responses = list(await asyncio.gather(*(c.post(url(rid, "/transitions"), json=body) for c in masters)))
        winner = one_winner(responses).json()
        assert (winner["status"], winner["version"]) == ("done", version + 1)

        stored = (await t.director.get(url(rid))).json()
        assert (stored["status"], stored["version"], stored["master_handover"]) == (
            "done",
            version + 1,
            winner["master_handover"],
        )
        [income] = await handovers(t.director, rid)
        assert (income["kind"], income["amount"]) == ("income", winner["master_handover"])
        done_moves = [e for e in await events(t.director, rid) if e["to_status"] == "done"]
        assert len(done_moves) == 1, done_moves

    listing = (await t.director.get(f"{REQUESTS}", params={"status": "done"})).json()
    assert listing["total"] == ROUNDS
    earnings = (await t.master.get(f"{API}/masters/{t.master_id}/earnings", params=around_today())).json()
    assert earnings["done"] == ROUNDS


async def test_parallel_patches_of_one_version_change_it_once(h: Harness) -> None:
    t = await team(h)
    directors = await clients_of(h, t, "director")
    for _round in range(2):
        req = await reach(t, "awaiting_dispatch", client_name="Анна")
        rid, version = req["id"], req["version"]
        responses = list(
            await asyncio.gather(
                *(
                    c.patch(url(rid), json={"client_name": f"Имя {i}", "version": version})
                    for i, c in enumerate(directors)
                )
            )
        )
        winner = one_winner(responses).json()
        assert winner["version"] == version + 1
        stored = (await t.director.get(url(rid))).json()
        assert (stored["client_name"], stored["version"]) == (winner["client_name"], version + 1)
        updates = [e for e in await events(t.director, rid) if e["kind"] == "updated"]
        assert [e["data"]["changes"]["client_name"]["to"] for e in updates] == [winner["client_name"]]


async def test_parallel_creates_with_one_idempotency_key_make_one_request(h: Harness) -> None:
    t = await team(h)
    operator = await h.user("operator", cities=[t.city.id])
    first, second = await h.as_user(operator), await h.as_user(operator)  # one user, two sessions
    body = {"city_id": t.city.id, "client_phone": "79161234567", "client_name": "Анна"}
    headers = {"Idempotency-Key": "call-42"}
    responses = await asyncio.gather(
        first.post(REQUESTS, json=body, headers=headers), second.post(REQUESTS, json=body, headers=headers)
    )
    codes = sorted(r.status_code for r in responses)
    assert codes in ([201, 201], [201, 409]), [r.text for r in responses]
    created = [r.json()["id"] for r in responses if r.status_code == 201]
    assert len(set(created)) == 1
    for response in responses:
        if response.status_code == 409:
            problem(response, 409)
    # A later retry replays the stored answer.
    retry = await first.post(REQUESTS, json=body, headers=headers)
    assert retry.status_code == 201 and retry.headers["idempotent-replayed"] == "true"
    assert retry.json()["id"] == created[0]
    assert (await t.admin.get(REQUESTS)).json()["total"] == 1
    async with h.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Request)) == 1


async def test_parallel_intakes_of_one_new_phone_make_one_first_time_request(h: Harness) -> None:
    """first_time or repeat is read from the phone's history, so intakes of one phone take turns on both databases
    (SQLite lets two transactions read before either writes; the turn is taken before the read)."""
    t = await team(h)
    operators = [await h.as_user(await h.user("operator", cities=[t.city.id])) for _ in range(4)]
    body = {"city_id": t.city.id, "client_phone": "79167770011", "client_name": "Анна"}
    for _ in range(3):  # rounds with a fresh phone each, so a lucky interleaving cannot pass alone
        responses = await asyncio.gather(*(client.post(REQUESTS, json=body) for client in operators))
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        kinds = Counter(r.json()["request_type"]["code"] for r in responses)
        assert kinds == Counter({"first_time": 1, "repeat": 3})
        body = {**body, "client_phone": str(int(body["client_phone"]) + 1)}
