"""The request state machine of SPEC §3.2 through the API: every (from, to) pair for every role, the requirements
of each move (422 with field errors) and the effects of the moves (master cleared, reopen targets, callback time,
handover withdrawn and rebooked, history rows, operator stamped).

The expected answers come from a literal copy of the SPEC table (``tests/requests/spec_table.py``), not from
``workflow.MOVES``; the last test checks that ``/requests/workflow`` and ``workflow.MOVES`` agree with that copy.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from leadflow.accounts.models import MasterProfile
from leadflow.requests import workflow
from leadflow.requests.workflow import Status
from tests.conftest import Harness, error_fields, problem
from tests.requests.helpers import API
from tests.requests.spec_table import (
    REFUSED_ASSIGNED,
    SPEC_TABLE,
    STATES,
    STATUSES,
    WITH_MASTER,
    spec_allowed,
    status_of,
)

BOOKING = {"address": "ул. Ленина, 1", "visit_at": "2030-01-15T10:00:00+03:00"}
CALLBACK_AT = "2030-01-10T12:30:00+03:00"
ROLES = ("admin", "director", "operator", "marketer", "master", "other_master")


@dataclass
class World:
    """One city with one account of every role, two masters (A is the one the walks assign) and their clients."""

    city_id: int
    clients: dict[str, httpx.AsyncClient]
    master_a: int
    master_b: int
    operator_id: int

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.clients["admin"]

    @property
    def director(self) -> httpx.AsyncClient:
        return self.clients["director"]


@pytest.fixture
async def w(h: Harness) -> World:
    city = await h.city()
    users = {
        "admin": await h.user("admin"),
        "director": await h.user("director", cities=[city.id]),
        "operator": await h.user("operator", cities=[city.id]),
        "marketer": await h.user("marketer", cities=[city.id]),
        "master": await h.user("master", master_city=city.id),
        "other_master": await h.user("master", master_city=city.id),
    }
    clients = {role: await h.as_user(user) for role, user in users.items()}
    return World(city.id, clients, users["master"].id, users["other_master"].id, users["operator"].id)


# Driving requests through the API ---------------------------------------------------------------------------------
async def create(w: World, *, booked: bool = True, client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"city_id": w.city_id, "client_phone": "+7 916 555-00-11", **(BOOKING if booked else {})}
    response = await (client or w.director).post(f"{API}/requests", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def move_body(w: World, req: dict[str, Any], to: str) -> dict[str, Any]:
    """The smallest body that satisfies what a move from the request's status to ``to`` requires."""
    current = req["status"]
    body: dict[str, Any] = {"to": to, "version": req["version"]}
    if to == "refused" or (current in ("done", "refused") and to in ("in_progress", "new", "awaiting_dispatch")):
        body["reason"] = "Клиент передумал"
    elif to == "callback":
        body["callback_at"] = CALLBACK_AT
    elif to == "deferred":
        body["note"] = "Ждём запчасть"
    elif to == "done":
        body |= {"result": "1000.00", "expenses": "100.00"}
    elif to == "awaiting_acceptance":
        body["master_id"] = w.master_b if req["master_id"] == w.master_a else w.master_a
    return body


async def post_move(client: httpx.AsyncClient, rid: int, body: dict[str, Any]) -> httpx.Response:
    return await client.post(f"{API}/requests/{rid}/transitions", json=body)


async def move(w: World, req: dict[str, Any], to: str, client: httpx.AsyncClient | None = None) -> dict[str, Any]:
    response = await post_move(client or w.admin, req["id"], move_body(w, req, to))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


PATHS: dict[str, tuple[str, ...]] = {
    "new": (),
    "callback": ("callback",),
    "not_reached": ("not_reached",),
    "awaiting_dispatch": ("awaiting_dispatch",),
    "awaiting_acceptance": ("awaiting_dispatch", "awaiting_acceptance"),
    "accepted": ("awaiting_dispatch", "awaiting_acceptance", "accepted"),
    "en_route": ("awaiting_dispatch", "awaiting_acceptance", "accepted", "en_route"),
    "in_progress": ("awaiting_dispatch", "awaiting_acceptance", "accepted", "in_progress"),
    "deferred": ("awaiting_dispatch", "awaiting_acceptance", "accepted", "in_progress", "deferred"),
    "done": ("awaiting_dispatch", "awaiting_acceptance", "accepted", "in_progress", "done"),
    "refused": ("refused",),
    REFUSED_ASSIGNED: ("awaiting_dispatch", "awaiting_acceptance", "refused"),
}


async def walk(w: World, state: str) -> dict[str, Any]:
    """A new request driven (as admin) from `new` into ``state``."""
    req = await create(w)
    for to in PATHS[state]:
        req = await move(w, req, to)
    assert req["status"] == status_of(state)
    return req


async def transactions(w: World, rid: int) -> int:
    response = await w.admin.get(f"{API}/transactions", params={"request_id": rid})
    assert response.status_code == 200, response.text
    return int(response.json()["total"])


# The whole table ---------------------------------------------------------------------------------------------------
def expected_code(role: str, state: str, to: str, assigned_master: int | None, w: World) -> int:
    if role == "marketer":
        return 403  # marketers read requests only
    if role == "other_master" or (role == "master" and assigned_master != w.master_a):
        return 404  # a master sees only the requests assigned to them
    roles = SPEC_TABLE.get((state, to))
    if roles is None:
        return 409
    return 200 if role == "admin" or role in roles else 403


SUFFIX = {403: "forbidden", 404: "not-found", 409: "invalid-transition"}


def mismatch(response: httpx.Response, req: dict[str, Any], to: str, code: int, allowed: list[str]) -> str | None:
    """None when the answer is the expected one, else what is wrong with it."""
    try:
        if code != 200:
            body = problem(response, code, SUFFIX[code])
            if code == 409:
                assert body["allowed"] == allowed, f"allowed {body['allowed']} != {allowed}"
            return None
        assert response.status_code == 200, f"{response.status_code} {response.text}"
        moved = response.json()
        assert moved["status"] == to, moved["status"]
        assert moved["version"] == req["version"] + 1, (moved["version"], req["version"])
        assert response.headers["ETag"] == f'"{moved["version"]}"', response.headers["ETag"]
    except AssertionError as exc:
        return str(exc).splitlines()[0][:300]
    return None


@pytest.mark.parametrize("state", STATES)
async def test_every_move_for_every_role(w: World, state: str) -> None:
    """For each target and role: a fresh request in ``state`` (re-walked only after a move consumed it), the
    move with a body that meets its requirements, and the answer the SPEC table gives. Every mismatch is listed."""
    was_assigned = "awaiting_acceptance" in PATHS[state]
    allowed = workflow.allowed_targets(Status(status_of(state)), was_assigned)
    assert set(allowed) == spec_allowed(state)
    wrong: list[str] = []
    req: dict[str, Any] | None = None
    for to in STATUSES:
        for role in ROLES:
            if req is None:  # the previous role moved it: walk a fresh one into the state
                req = await walk(w, state)
            code = expected_code(role, state, to, req["master_id"], w)
            response = await post_move(w.clients[role], req["id"], move_body(w, req, to))
            problem_text = mismatch(response, req, to, code, allowed)
            if problem_text:
                wrong.append(f"{role}: {state} → {to}: expected {code}, {problem_text}")
            if response.status_code == 200:
                req = None
    assert req is not None
    stored = (await w.admin.get(f"{API}/requests/{req['id']}")).json()
    assert (stored["status"], stored["version"]) == (req["status"], req["version"]), "a refused move changed it"
    assert not wrong, "\n".join(wrong)


# Requirements: 422 with field errors, and nothing changes ----------------------------------------------------------
async def assert_refused(w: World, req: dict[str, Any], body: dict[str, Any], fields: set[str]) -> None:
    response = await post_move(w.director, req["id"], {"version": req["version"], **body})
    body = problem(response, 422)
    assert error_fields(body) == sorted(fields), body["errors"]
    stored = (await w.admin.get(f"{API}/requests/{req['id']}")).json()
    assert (stored["status"], stored["version"], stored["master_id"]) == (
        req["status"],
        req["version"],
        req["master_id"],
    )


@pytest.mark.parametrize(
    ("patch", "missing"),
    [
        ({}, {"address", "visit_at"}),
        ({"address": "ул. Мира, 5"}, {"visit_at"}),
        ({"visit_at": CALLBACK_AT}, {"address"}),
    ],
)
async def test_booking_needs_address_and_visit_time(w: World, patch: dict[str, Any], missing: set[str]) -> None:
    req = await create(w, booked=False)
    if patch:
        response = await w.director.patch(f"{API}/requests/{req['id']}", json={**patch, "version": req["version"]})
        assert response.status_code == 200, response.text
        req = response.json()
    await assert_refused(w, req, {"to": "awaiting_dispatch"}, missing)


@pytest.mark.parametrize(
    ("state", "body", "fields"),
    [
        ("new", {"to": "refused"}, {"reason"}),
        ("awaiting_acceptance", {"to": "refused"}, {"reason"}),
        ("en_route", {"to": "refused", "reason": ""}, {"reason"}),
        ("in_progress", {"to": "deferred"}, {"note"}),
        ("done", {"to": "in_progress"}, {"reason"}),
        ("refused", {"to": "new"}, {"reason"}),
        (REFUSED_ASSIGNED, {"to": "awaiting_dispatch"}, {"reason"}),
        ("awaiting_dispatch", {"to": "awaiting_acceptance"}, {"master_id"}),
        ("awaiting_dispatch", {"to": "awaiting_acceptance", "master_id": 2_000_000}, {"master_id"}),
        ("awaiting_acceptance", {"to": "accepted", "master_id": "A"}, {"master_id"}),
        ("accepted", {"to": "en_route", "master_id": "A"}, {"master_id"}),
        ("awaiting_acceptance", {"to": "accepted", "result": "10.00"}, {"result"}),
        ("new", {"to": "not_reached", "callback_at": CALLBACK_AT}, {"callback_at"}),
        ("new", {"to": "refused", "reason": "x", "master_id": "A"}, {"master_id"}),
        ("in_progress", {"to": "deferred", "note": "x", "result": "1", "expenses": "0"}, {"result", "expenses"}),
        ("new", {"to": "callback", "callback_at": "2030-01-10T12:30:00"}, {"callback_at"}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
async def test_missing_or_unused_fields(w: World, state: str, body: dict[str, Any], fields: set[str]) -> None:
    req = await walk(w, state)
    if body.get("master_id") == "A":
        body = {**body, "master_id": w.master_a}
    await assert_refused(w, req, body, fields)


@pytest.mark.parametrize("which", ["operator", "other_city", "blocked", "deleted"])
async def test_offer_needs_an_active_master_of_the_city(h: Harness, w: World, which: str) -> None:
    req = await walk(w, "awaiting_dispatch")
    if which == "operator":
        master_id = w.operator_id
    elif which == "other_city":
        master_id = (await h.user("master", master_city=(await h.city()).id)).id
    else:
        master = await h.user("master", master_city=w.city_id)
        master_id = master.id
        if which == "blocked":
            blocked = await w.admin.post(f"{API}/users/{master.id}/block")
        else:
            blocked = await w.admin.delete(f"{API}/users/{master.id}")
        assert blocked.status_code in (200, 204), blocked.text
    await assert_refused(w, req, {"to": "awaiting_acceptance", "master_id": master_id}, {"master_id"})


@pytest.mark.parametrize("state", ["awaiting_acceptance", *WITH_MASTER])
async def test_reassign_needs_another_master(w: World, state: str) -> None:
    req = await walk(w, state)
    await assert_refused(w, req, {"to": "awaiting_acceptance", "master_id": w.master_a}, {"master_id"})
    moved = await move(w, req, "awaiting_acceptance", client=w.director)
    assert moved["master_id"] == w.master_b and moved["status"] == "awaiting_acceptance"
    problem(await w.clients["master"].get(f"{API}/requests/{req['id']}"), 404, "not-found")
    accepted = await move(w, moved, "accepted", client=w.clients["other_master"])
    assert accepted["master_id"] == w.master_b


@pytest.mark.parametrize(
    ("money", "fields"),
    [
        ({}, {"result", "expenses"}),
        ({"expenses": "0"}, {"result"}),
        ({"result": "10"}, {"expenses"}),
        ({"result": "-1", "expenses": "0"}, {"result"}),
        ({"result": "10", "expenses": "-0.01"}, {"expenses"}),
        ({"result": "100.00", "expenses": "100.01"}, {"expenses"}),
        ({"result": "10.001", "expenses": "0"}, {"result"}),
        ({"result": "10", "expenses": "1.005"}, {"expenses"}),
        ({"result": 10.005, "expenses": 0}, {"result"}),
        ({"result": "NaN", "expenses": "0"}, {"result"}),
        ({"result": "10000000000.00", "expenses": "0"}, {"result"}),
        ({"result": "abc", "expenses": "0"}, {"result"}),
    ],
)
async def test_done_needs_valid_money(w: World, money: dict[str, Any], fields: set[str]) -> None:
    req = await walk(w, "in_progress")
    await assert_refused(w, req, {"to": "done", **money}, fields)
    assert await transactions(w, req["id"]) == 0


async def test_done_accepts_numbers_and_expenses_equal_to_result(w: World) -> None:
    req = await walk(w, "in_progress")
    response = await post_move(
        w.director, req["id"], {"to": "done", "version": req["version"], "result": 99.99, "expenses": 99.99}
    )
    assert response.status_code == 200, response.text
    assert response.json()["net_amount"] == "0.00" and response.json()["master_handover"] == "0.00"
    assert await transactions(w, req["id"]) == 0


# Effects -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("actor", ["director", "master"])
async def test_decline_clears_the_master(w: World, actor: str) -> None:
    req = await walk(w, "awaiting_acceptance")
    assert req["master_id"] == w.master_a
    declined = await move(w, req, "awaiting_dispatch", client=w.clients[actor])
    assert declined["status"] == "awaiting_dispatch" and declined["master_id"] is None and declined["master"] is None
    problem(await w.clients["master"].get(f"{API}/requests/{req['id']}"), 404, "not-found")


@pytest.mark.parametrize(
    ("history", "target", "other"),
    [
        (("refused",), "new", "awaiting_dispatch"),
        (("awaiting_dispatch", "refused"), "new", "awaiting_dispatch"),
        (("awaiting_dispatch", "awaiting_acceptance", "refused"), "awaiting_dispatch", "new"),
        (("awaiting_dispatch", "awaiting_acceptance", "accepted", "en_route", "refused"), "awaiting_dispatch", "new"),
        # Declined (master cleared) and then refused: it did have a master once.
        (("awaiting_dispatch", "awaiting_acceptance", "awaiting_dispatch", "refused"), "awaiting_dispatch", "new"),
    ],
)
async def test_reopen_refused(w: World, history: tuple[str, ...], target: str, other: str) -> None:
    req = await create(w)
    for to in history:
        req = await move(w, req, to)
    wrong = await post_move(w.director, req["id"], {"to": other, "version": req["version"], "reason": "x"})
    assert problem(wrong, 409, "invalid-transition")["allowed"] == [target]
    reopened = await move(w, req, target, client=w.director)
    assert reopened["status"] == target and reopened["master_id"] is None
    assert reopened["queue"] == ("intake" if target == "new" else "work")


@pytest.mark.parametrize("leave_to", ["not_reached", "awaiting_dispatch", "refused"])
async def test_callback_time_is_set_and_cleared(w: World, leave_to: str) -> None:
    operator = w.clients["operator"]
    called = await move(w, await create(w, client=operator), "callback", client=operator)
    assert called["callback_at"] == "2030-01-10T09:30:00Z"  # +03:00 stored and returned in UTC
    assert (await operator.get(f"{API}/requests/{called['id']}")).json()["callback_at"] == called["callback_at"]
    left = await move(w, called, leave_to, client=operator)
    assert left["status"] == leave_to and left["callback_at"] is None


@pytest.mark.parametrize("blocked", [False, True])
async def test_done_snapshots_the_assigned_masters_share(h: Harness, w: World, blocked: bool) -> None:
    """§3.3: the share is the master's own setting (else the default), snapshotted on entering done, whoever
    reports the money; a master blocked after taking the job still has their own share."""
    async with h.database.session() as session:
        await session.execute(
            update(MasterProfile).where(MasterProfile.user_id == w.master_a).values(company_share=Decimal("0.30"))
        )
        await session.commit()
    req = await walk(w, "in_progress")
    if blocked:
        response = await w.admin.post(f"{API}/users/{w.master_a}/block")
        assert response.status_code == 200, response.text
    done = await move(w, req, "done", client=w.director)
    assert (done["company_share"], done["net_amount"], done["master_handover"]) == ("0.30", "900.00", "270.00")
    listed = (await w.admin.get(f"{API}/transactions", params={"request_id": req["id"]})).json()
    assert [t["amount"] for t in listed["items"]] == ["270.00"]


async def test_reopen_done_withdraws_the_handover_and_redone_books_one(w: World) -> None:
    req = await walk(w, "done")
    assert req["master_handover"] == "450.00" and await transactions(w, req["id"]) == 1
    reopened = await move(w, req, "in_progress", client=w.director)
    assert reopened["status"] == "in_progress" and reopened["completed_at"] is None
    assert await transactions(w, req["id"]) == 0
    redone = await move(w, reopened, "done", client=w.clients["master"])
    assert redone["master_handover"] == "450.00"
    listed = (await w.admin.get(f"{API}/transactions", params={"request_id": req["id"]})).json()
    assert listed["total"] == 1 and listed["items"][0]["amount"] == "450.00"
    deferred = await move(w, await move(w, redone, "in_progress"), "deferred")
    assert await transactions(w, req["id"]) == 0
    await move(w, deferred, "done")
    assert await transactions(w, req["id"]) == 1


async def test_every_move_writes_an_event(w: World) -> None:
    req = await walk(w, REFUSED_ASSIGNED)
    req = await move(w, req, "awaiting_dispatch", client=w.director)
    events = (await w.admin.get(f"{API}/requests/{req['id']}/events")).json()
    moves = [(e["from_status"], e["to_status"]) for e in events["items"] if e["kind"] == "status_changed"]
    path = ["new", *PATHS[REFUSED_ASSIGNED], "awaiting_dispatch"]
    assert moves == list(itertools.pairwise(path))
    actors = {e["actor_id"] for e in events["items"] if e["kind"] == "status_changed"}
    assert len(actors) == 2  # the admin walked it, the director reopened it
    seen_by_master = await w.clients["master"].get(f"{API}/requests/{req['id']}/events")
    problem(seen_by_master, 404, "not-found")  # no longer theirs


@pytest.mark.parametrize("to", ["awaiting_dispatch", "refused"])
async def test_operator_is_stamped_when_moving_out_of_intake(w: World, to: str) -> None:
    req = await create(w)
    assert req["operator_id"] is None
    moved = await move(w, req, to, client=w.clients["operator"])
    assert moved["operator_id"] == w.operator_id
    other = await move(w, await create(w), to, client=w.director)
    assert other["operator_id"] is None


# The published table ------------------------------------------------------------------------------------------------
def expand(rows: list[dict[str, Any]]) -> dict[tuple[str, str], frozenset[str]]:
    pairs: dict[tuple[str, str], frozenset[str]] = {}
    for row in rows:
        for source in row["from_statuses"]:
            key = (REFUSED_ASSIGNED if (source, row["to"]) == ("refused", "awaiting_dispatch") else source, row["to"])
            assert key not in pairs, key
            pairs[key] = frozenset(row["roles"]) - {"admin"}
    return pairs


async def test_workflow_endpoint_agrees_with_moves_and_spec(w: World) -> None:
    assert [s.value for s in Status] == STATUSES
    for role in ("marketer", "master"):
        response = await w.clients[role].get(f"{API}/requests/workflow")
        assert response.status_code == 200, response.text
        rows = response.json()
        from_moves = [
            {"from_statuses": [s.value for s in m.sources], "to": m.target.value, "roles": [r.value for r in m.roles]}
            for m in workflow.MOVES
        ]
        assert expand(rows) == expand(from_moves) == SPEC_TABLE
        needs = {row["to"]: set(row["requires"]) for row in rows if row["from_statuses"] == ["in_progress", "deferred"]}
        assert needs == {"done": {"money"}}
        for row in rows:
            assert row["roles"][0] == "admin" and row["description"]
    for state in STATES:
        status, assigned = Status(status_of(state)), state == REFUSED_ASSIGNED
        assert set(workflow.allowed_targets(status, assigned)) == spec_allowed(state)
