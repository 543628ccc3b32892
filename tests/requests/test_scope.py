"""Who sees which request (SPEC §1): every role and city assignment against requests of two cities. Out of scope is
404 (never 403, so ids do not leak); a role that may never write answers 403; masters see only their assignments.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from leadflow.catalog.models import City
from tests.conftest import Harness, error_fields, problem
from tests.requests.helpers import REQUESTS, create, move, url

# viewer -> (role, cities it is given: "a", "b", both or none)
VIEWERS: dict[str, tuple[str, str]] = {
    "admin": ("admin", ""),
    "director_a": ("director", "a"),
    "director_b": ("director", "b"),
    "director_ab": ("director", "ab"),
    "director_none": ("director", ""),
    "operator_a": ("operator", "a"),
    "operator_b": ("operator", "b"),
    "operator_none": ("operator", ""),
    "marketer_a": ("marketer", "a"),
    "marketer_b": ("marketer", "b"),
    "marketer_none": ("marketer", ""),
    "master_assigned": ("master", "b"),
    "master_idle": ("master", "b"),
    "master_a": ("master", "a"),
}
# What each viewer lists: ra (city A, new), rb (city B, offered to master_assigned), rb2 (city B, new).
SEES: dict[str, set[str]] = {
    "admin": {"ra", "rb", "rb2"},
    "director_a": {"ra"},
    "director_b": {"rb", "rb2"},
    "director_ab": {"ra", "rb", "rb2"},
    "director_none": set(),
    "operator_a": {"ra"},
    "operator_b": {"rb", "rb2"},
    "operator_none": {"ra", "rb", "rb2"},
    "marketer_a": {"ra"},
    "marketer_b": {"rb", "rb2"},
    "marketer_none": {"ra", "rb", "rb2"},
    "master_assigned": {"rb"},
    "master_idle": set(),
    "master_a": set(),
}
WRITERS = {"admin", "director_b", "director_ab", "operator_b", "operator_none"}  # may edit and move rb2


@dataclass
class World:
    a: City
    b: City
    admin: httpx.AsyncClient
    clients: dict[str, httpx.AsyncClient]
    user_ids: dict[str, int]
    ids: dict[str, int]  # ra, rb, rb2 -> request id

    def name_of(self, rid: int) -> str:
        return next(name for name, value in self.ids.items() if value == rid)


async def world(h: Harness, *viewers: str) -> World:
    a, b = await h.city(), await h.city()
    cities = {"a": [a.id], "b": [b.id], "ab": [a.id, b.id], "": []}
    clients: dict[str, httpx.AsyncClient] = {}
    user_ids: dict[str, int] = {}
    for name in {*viewers, "admin", "master_assigned"}:
        role, where = VIEWERS[name]
        if role == "master":
            user = await h.user(role, master_city=cities[where][0])
        else:
            user = await h.user(role, cities=cities[where])
        clients[name], user_ids[name] = await h.as_user(user), user.id
    admin = clients["admin"]
    ra = await create(admin, a.id, client_name="Анна")
    rb = await create(admin, b.id, client_name="Борис", address="ул. Ленина, 1", visit_at="2026-11-25T10:00:00Z")
    await move(admin, rb["id"], "awaiting_dispatch")
    await move(admin, rb["id"], "awaiting_acceptance", master_id=user_ids["master_assigned"])
    rb2 = await create(admin, b.id, client_name="Вера")
    ids = {"ra": ra["id"], "rb": rb["id"], "rb2": rb2["id"]}
    return World(a, b, admin, clients, user_ids, ids)


async def listed(client: httpx.AsyncClient, w: World, **params: int | str) -> set[str]:
    response = await client.get(REQUESTS, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return {w.name_of(item["id"]) for item in body["items"]}


@pytest.mark.parametrize("viewer", list(VIEWERS))
async def test_each_viewer_lists_and_reads_exactly_its_scope(h: Harness, viewer: str) -> None:
    w = await world(h, viewer)
    client = w.clients[viewer]
    assert await listed(client, w) == SEES[viewer]
    for name, rid in w.ids.items():
        for path in (url(rid), url(rid, "/events")):
            response = await client.get(path)
            if name in SEES[viewer]:
                assert response.status_code == 200, f"{viewer} {path}: {response.text}"
            else:
                problem(response, 404, "not-found")
    # A city filter never widens the scope.
    assert await listed(client, w, city_id=w.b.id) == SEES[viewer] - {"ra"}


@pytest.mark.parametrize("viewer", list(VIEWERS))
async def test_each_viewer_edits_and_moves_only_within_its_scope(h: Harness, viewer: str) -> None:
    w = await world(h, viewer)
    client, rid = w.clients[viewer], w.ids["rb2"]
    patched = await client.patch(url(rid), json={"client_name": "Вера Павловна", "version": 1})
    moved = await client.post(url(rid, "/transitions"), json={"to": "callback", "version": 1})
    if viewer in WRITERS:
        assert patched.status_code == 200, patched.text
        problem(moved, 409, "stale-version")  # the PATCH took version 1
        moved = await client.post(url(rid, "/transitions"), json={"to": "callback", "version": 2})
        assert moved.status_code == 200 and moved.json()["status"] == "callback", moved.text
        return
    if VIEWERS[viewer][0] == "marketer":  # reads requests, never writes them
        problem(patched, 403, "forbidden")
        problem(moved, 403, "forbidden")
    else:
        problem(patched, 404, "not-found")
        problem(moved, 404, "not-found")
    after = (await w.admin.get(url(rid))).json()
    assert (after["version"], after["client_name"], after["status"]) == (1, "Вера", "new")


@pytest.mark.parametrize("role", ["director", "operator"])
async def test_intake_outside_ones_cities_is_refused(h: Harness, role: str) -> None:
    home, elsewhere = await h.city(), await h.city()
    client = await h.as_user(await h.user(role, cities=[home.id]))
    response = await client.post(REQUESTS, json={"city_id": elsewhere.id, "client_phone": "79161234567"})
    assert error_fields(problem(response, 422, "validation-error")) == ["city_id"]
    assert (await create(client, home.id))["city_id"] == home.id


async def test_a_director_without_cities_can_take_no_request(h: Harness) -> None:
    city = await h.city()
    client = await h.as_user(await h.user("director", cities=[]))
    response = await client.post(REQUESTS, json={"city_id": city.id, "client_phone": "79161234567"})
    assert error_fields(problem(response, 422)) == ["city_id"]


async def test_masters_list_is_theirs_whatever_the_filter(h: Harness) -> None:
    w = await world(h, "master_assigned", "master_idle")
    assigned, idle = w.user_ids["master_assigned"], w.user_ids["master_idle"]
    mine = w.clients["master_assigned"]
    assert await listed(mine, w, master_id=assigned) == {"rb"}
    assert await listed(mine, w, master_id=idle) == set()
    assert await listed(mine, w, city_id=w.b.id, queue="work") == {"rb"}
    assert await listed(w.clients["master_idle"], w, master_id=assigned) == set()
    assert await listed(w.admin, w, master_id=assigned) == {"rb"}
    # The master's own request: they may write their notes, and it is refused to the other master.
    rid = w.ids["rb"]
    version = (await mine.get(url(rid))).json()["version"]
    problem(await w.clients["master_idle"].patch(url(rid), json={"master_notes": "x", "version": version}), 404)
    problem(
        await w.clients["master_idle"].post(url(rid, "/transitions"), json={"to": "accepted", "version": version}), 404
    )
    noted = await mine.patch(url(rid), json={"master_notes": "Позвонить заранее", "version": version})
    assert noted.status_code == 200, noted.text


async def test_a_reassigned_request_leaves_the_former_masters_view(h: Harness) -> None:
    w = await world(h, "master_assigned", "master_idle")
    rid = w.ids["rb"]
    await move(w.admin, rid, "awaiting_acceptance", master_id=w.user_ids["master_idle"])
    problem(await w.clients["master_assigned"].get(url(rid)), 404, "not-found")
    assert await listed(w.clients["master_assigned"], w) == set()
    assert await listed(w.clients["master_idle"], w) == {"rb"}


@pytest.mark.parametrize("rid", [999_999, 0, 2**31, -1])
async def test_unknown_and_impossible_ids_are_404(h: Harness, rid: int) -> None:
    client = await h.signed_in("admin")
    await create(client, (await h.city()).id)
    body = {"client_name": "x", "version": 1}
    for response in (
        await client.get(url(rid)),
        await client.get(url(rid, "/events")),
        await client.patch(url(rid), json=body),
        await client.post(url(rid, "/transitions"), json={"to": "callback", "version": 1}),
        await client.delete(url(rid)),
    ):
        problem(response, 404, "not-found")
