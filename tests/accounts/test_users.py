"""Users and masters: every endpoint for every role (allowed, refused 403, out of scope 404) and the escalation rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from leadflow.accounts.models import Role, User
from leadflow.audit.models import AuditLog
from tests.conftest import PASSWORD, Harness, problem

STRONG = "Brand-New-Pass-2026"


@dataclass
class World:
    city_a: int
    city_b: int
    users: dict[str, User]
    clients: dict[str, httpx.AsyncClient]


@pytest.fixture
async def world(h: Harness) -> World:
    a, b = (await h.city("Alpha")).id, (await h.city("Beta")).id
    users = {
        "admin": await h.user(Role.admin, login="admin"),
        "director_a": await h.user(Role.director, cities=[a], login="director.a"),
        "director_b": await h.user(Role.director, cities=[b], login="director.b"),
        "director_none": await h.user(Role.director, login="director.none"),
        "operator_a": await h.user(Role.operator, cities=[a], login="operator.a"),
        "operator_ab": await h.user(Role.operator, cities=[a, b], login="operator.ab"),
        "operator_all": await h.user(Role.operator, login="operator.all"),
        "marketer": await h.user(Role.marketer, login="marketer"),
        "master_a": await h.user(Role.master, master_city=a, login="master.a"),
        "master_b": await h.user(Role.master, master_city=b, login="master.b"),
    }
    clients = {name: await h.as_user(user) for name, user in users.items()}
    clients["anonymous"] = h.new_client()
    return World(a, b, users, clients)


def ids(response: httpx.Response) -> set[int]:
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_list_users_by_role(world: World) -> None:
    u, c = world.users, world.clients
    assert ids(await c["admin"].get("/api/v1/users")) == {x.id for x in u.values()}
    assert ids(await c["director_a"].get("/api/v1/users")) == {u["master_a"].id, u["operator_a"].id}
    assert ids(await c["director_b"].get("/api/v1/users")) == {u["master_b"].id}
    assert ids(await c["director_none"].get("/api/v1/users")) == set()
    for role in ("operator_a", "marketer", "master_a"):
        problem(await c[role].get("/api/v1/users"), 403)
    problem(await c["anonymous"].get("/api/v1/users"), 401)


async def test_list_users_filters_and_pages(world: World) -> None:
    admin = world.clients["admin"]
    assert ids(await admin.get("/api/v1/users", params={"role": "master"})) == {
        world.users["master_a"].id,
        world.users["master_b"].id,
    }
    assert world.users["master_a"].id in ids(await admin.get("/api/v1/users", params={"city_id": world.city_a}))
    assert ids(await admin.get("/api/v1/users", params={"q": "OPERATOR.A"})) == {
        world.users["operator_a"].id,
        world.users["operator_ab"].id,
        world.users["operator_all"].id,
    }
    assert ids(await admin.get("/api/v1/users", params={"q": "Operator.AB"})) == {world.users["operator_ab"].id}
    page = (await admin.get("/api/v1/users", params={"per_page": 3, "page": 2})).json()
    assert page["total"] == len(world.users) and page["page"] == 2 and len(page["items"]) == 3
    first = [i["id"] for i in (await admin.get("/api/v1/users")).json()["items"]]
    assert first == sorted(first, reverse=True)  # newest first, id as tie-breaker
    problem(await admin.get("/api/v1/users", params={"per_page": 201}), 422)
    problem(await admin.get("/api/v1/users", params={"role": "king"}), 422)
    blocked = await admin.post(f"/api/v1/users/{world.users['marketer'].id}/block")
    assert blocked.status_code == 200
    assert ids(await admin.get("/api/v1/users", params={"status": "blocked"})) == {world.users["marketer"].id}


async def test_get_user_scope(world: World) -> None:
    u, c = world.users, world.clients
    own = await c["director_a"].get(f"/api/v1/users/{u['master_a'].id}")
    assert own.status_code == 200 and own.json()["master"]["city_id"] == world.city_a
    problem(await c["director_a"].get(f"/api/v1/users/{u['master_b'].id}"), 404)
    problem(await c["director_a"].get(f"/api/v1/users/{u['operator_ab'].id}"), 404)
    problem(await c["director_a"].get(f"/api/v1/users/{u['admin'].id}"), 404)
    problem(await c["admin"].get("/api/v1/users/999999"), 404)
    problem(await c["operator_a"].get(f"/api/v1/users/{u['master_a'].id}"), 403)
    problem(await c["admin"].get("/api/v1/users/not-a-number"), 422)


def master_body(city_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "login": extra.pop("login", "new.master"),
        "password": STRONG,
        "full_name": "Новый Мастер",
        "role": "master",
        "master": {"city_id": city_id, "phone": "8 (916) 123-45-67", "passport": "4510 123456", **extra},
    }


async def test_create_users(world: World, h: Harness) -> None:
    c = world.clients
    created = await c["director_a"].post("/api/v1/users", json=master_body(world.city_a))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["role"] == "master" and body["master"]["phone"] == "79161234567"
    assert body["master"]["passport"] == "4510 123456"  # the master's director sees it
    assert body["master"]["company_share"] is None
    assert "password" not in created.text.replace("two_factor", "")
    # The new account can sign in.
    await h.token("NEW.master", STRONG)
    problem(await c["director_a"].post("/api/v1/users", json=master_body(world.city_b, login="m2")), 422)
    operator = {"login": "op.new", "password": STRONG, "full_name": "Оператор", "role": "operator"}
    assert (
        await c["director_a"].post("/api/v1/users", json={**operator, "city_ids": [world.city_a]})
    ).status_code == 201
    problem(await c["director_a"].post("/api/v1/users", json={**operator, "login": "op2"}), 422)  # would see every city
    problem(
        await c["director_a"].post(
            "/api/v1/users", json={**operator, "login": "op3", "city_ids": [world.city_a, world.city_b]}
        ),
        422,
    )
    for role in ("director", "admin", "marketer"):
        problem(
            await c["director_a"].post(
                "/api/v1/users", json={**operator, "login": f"x{role}", "role": role, "city_ids": [world.city_a]}
            ),
            403,
        )
    for name in ("operator_a", "marketer", "master_a"):
        problem(await c[name].post("/api/v1/users", json={**operator, "login": f"y{name}"}), 403)
    problem(await c["anonymous"].post("/api/v1/users", json=operator), 401)
    # Admin creates anything.
    director = {
        "login": "dir.new",
        "password": STRONG,
        "full_name": "Директор",
        "role": "director",
        "city_ids": [world.city_b],
    }
    assert (await c["admin"].post("/api/v1/users", json=director)).status_code == 201
    async with h.database.session() as session:
        audited = list(await session.scalars(select(AuditLog).where(AuditLog.action == "user_created")))
    assert len(audited) == 3


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"login": "admin"}, "login"),
        ({"login": "ADMIN"}, "login"),
        ({"password": "weak"}, "password"),
        ({"password": "1234567890"}, "password"),
        ({"password": "aaaaaaaaaaaa"}, "password"),
        ({"password": "x" * 200}, "password"),
        ({"role": "emperor"}, "role"),
        ({"city_ids": [999]}, "city_ids"),
        ({"city_ids": "1"}, "city_ids"),
        ({"full_name": "x" * 100_000}, "full_name"),
        ({"full_name": "bad\u0000name"}, "full_name"),
        ({"is_admin": True}, "is_admin"),
        ({"id": 5}, "id"),
        ({"master": {"city_id": 1, "phone": "8 916 abc 45 67"}}, "master.phone"),
        ({"master": {"city_id": 1, "phone": "123"}}, "master.phone"),
        ({"master": {"city_id": 1, "phone": "79161234567", "company_share": "1.5"}}, "master.company_share"),
        ({"master": {"city_id": 1, "phone": "79161234567", "company_share": "0.333"}}, "master.company_share"),
        ({"master": {"phone": "79161234567"}}, "master.city_id"),
    ],
)
async def test_create_user_bad_input(world: World, h: Harness, patch: dict[str, Any], field: str) -> None:
    body = {"login": "fresh.user", "password": STRONG, "full_name": "Fresh", "role": "operator", **patch}
    if "master" in patch:
        body["role"] = "master"
        body["master"] = {**patch["master"]}
        if "city_id" in body["master"]:
            body["master"]["city_id"] = world.city_a
    response = await world.clients["admin"].post("/api/v1/users", json=body)
    status = 409 if field == "login" else 422
    errors = problem(response, status).get("errors", [])
    assert any(e["field"].startswith(field.split(".")[0]) for e in errors), errors
    async with h.database.session() as session:
        assert await session.scalar(select(User).where(User.login == "fresh.user")) is None


async def test_update_users_and_escalation(world: World) -> None:
    u, c = world.users, world.clients
    renamed = await c["director_a"].patch(f"/api/v1/users/{u['master_a'].id}", json={"full_name": "Мастер Альфа"})
    assert renamed.status_code == 200 and renamed.json()["full_name"] == "Мастер Альфа"
    problem(await c["director_a"].patch(f"/api/v1/users/{u['master_b'].id}", json={"full_name": "x"}), 404)
    problem(await c["director_a"].patch(f"/api/v1/users/{u['director_b'].id}", json={"full_name": "x"}), 404)
    problem(await c["director_a"].patch(f"/api/v1/users/{u['master_a'].id}", json={"role": "director"}), 403)
    problem(await c["director_a"].patch(f"/api/v1/users/{u['operator_a'].id}", json={"role": "admin"}), 403)
    problem(await c["director_a"].patch(f"/api/v1/users/{u['operator_a'].id}", json={"city_ids": [world.city_b]}), 422)
    problem(await c["admin"].patch(f"/api/v1/users/{u['admin'].id}", json={"role": "director"}), 403)
    problem(await c["operator_a"].patch(f"/api/v1/users/{u['operator_a'].id}", json={"role": "admin"}), 403)
    problem(await c["admin"].patch(f"/api/v1/users/{u['operator_a'].id}", json={"full_name": None}), 422)
    # Admin promotes an operator to director: the account's old token stops working (token version).
    promoted = await c["admin"].patch(f"/api/v1/users/{u['operator_a'].id}", json={"role": "director"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "director"
    problem(await c["operator_a"].get("/api/v1/auth/me"), 401)
    # Turning an operator into a master needs a profile.
    problem(
        await c["admin"].patch(f"/api/v1/users/{u['operator_ab'].id}", json={"role": "master", "city_ids": []}), 422
    )
    to_master = await c["admin"].patch(
        f"/api/v1/users/{u['operator_ab'].id}",
        json={"role": "master", "city_ids": [], "master": {"city_id": world.city_b, "phone": "+79001112233"}},
    )
    assert to_master.status_code == 200, to_master.text
    assert to_master.json()["master"]["city_id"] == world.city_b and to_master.json()["city_ids"] == []


async def test_last_admin_is_protected(world: World, h: Harness) -> None:
    c, admin = world.clients, world.users["admin"]
    problem(await c["admin"].post(f"/api/v1/users/{admin.id}/block"), 409, "last-admin")
    problem(await c["admin"].delete(f"/api/v1/users/{admin.id}"), 409, "last-admin")
    second = await h.user(Role.admin, login="admin.two")
    second_api = await h.as_user(second)
    problem(await second_api.patch(f"/api/v1/users/{second.id}", json={"role": "director"}), 403)
    assert (
        await c["admin"].patch(f"/api/v1/users/{second.id}", json={"role": "director", "city_ids": [world.city_a]})
    ).status_code == 200
    problem(await c["admin"].delete(f"/api/v1/users/{admin.id}"), 409, "last-admin")
    me = await c["admin"].get("/api/v1/auth/me")
    assert me.json()["role"] == "admin" and me.json()["status"] == "active"


async def test_delete_user(world: World, h: Harness) -> None:
    u, c = world.users, world.clients
    problem(await c["director_a"].delete(f"/api/v1/users/{u['master_b'].id}"), 404)
    problem(await c["operator_a"].delete(f"/api/v1/users/{u['master_a'].id}"), 403)
    assert (await c["director_a"].delete(f"/api/v1/users/{u['master_a'].id}")).status_code == 204
    problem(await c["master_a"].get("/api/v1/auth/me"), 401)
    problem(await c["admin"].get(f"/api/v1/users/{u['master_a'].id}"), 404)
    problem(await h.client.post("/api/v1/auth/token", data={"username": "master.a", "password": PASSWORD}), 401)
    # The login is free again.
    again = await c["director_a"].post("/api/v1/users", json=master_body(world.city_a, login="master.a"))
    assert again.status_code == 201


async def test_block_unblock_scope(world: World) -> None:
    u, c = world.users, world.clients
    problem(await c["director_a"].post(f"/api/v1/users/{u['master_b'].id}/block"), 404)
    problem(await c["marketer"].post(f"/api/v1/users/{u['master_a'].id}/block"), 403)
    assert (await c["director_a"].post(f"/api/v1/users/{u['master_a'].id}/block")).json()["status"] == "blocked"
    assert (await c["director_a"].post(f"/api/v1/users/{u['master_a'].id}/block")).json()["status"] == "blocked"
    assert (await c["director_a"].post(f"/api/v1/users/{u['master_a'].id}/unblock")).json()["status"] == "active"


async def test_masters_endpoints(world: World) -> None:
    u, c = world.users, world.clients
    both = {u["master_a"].id, u["master_b"].id}
    assert ids(await c["admin"].get("/api/v1/masters")) == both
    assert ids(await c["director_a"].get("/api/v1/masters")) == {u["master_a"].id}
    assert ids(await c["operator_a"].get("/api/v1/masters")) == {u["master_a"].id}
    assert ids(await c["operator_all"].get("/api/v1/masters")) == both
    assert ids(await c["master_a"].get("/api/v1/masters")) == {u["master_a"].id}
    assert ids(await c["admin"].get("/api/v1/masters", params={"city_id": world.city_b})) == {u["master_b"].id}
    assert ids(await c["admin"].get("/api/v1/masters", params={"q": "master.b"})) == {u["master_b"].id}
    problem(await c["marketer"].get("/api/v1/masters"), 403)
    listing = (await c["admin"].get("/api/v1/masters")).json()
    assert all("passport" not in item for item in listing["items"])

    patched = await c["director_a"].patch(
        f"/api/v1/masters/{u['master_a'].id}",
        json={"passport": "1234 567890", "company_share": "0.45", "telegram_chat_id": "123456", "full_name": "Пётр"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["company_share"] == "0.45" and patched.json()["passport"] == "1234 567890"
    assert (await c["admin"].get(f"/api/v1/masters/{u['master_a'].id}")).json()["passport"] == "1234 567890"
    assert (await c["operator_a"].get(f"/api/v1/masters/{u['master_a'].id}")).json()["passport"] is None
    own = await c["master_a"].get(f"/api/v1/masters/{u['master_a'].id}")
    assert own.status_code == 200 and own.json()["passport"] is None
    problem(await c["master_a"].get(f"/api/v1/masters/{u['master_b'].id}"), 404)
    problem(await c["director_a"].get(f"/api/v1/masters/{u['master_b'].id}"), 404)
    problem(await c["director_a"].patch(f"/api/v1/masters/{u['master_b'].id}", json={"notes": "x"}), 404)
    problem(await c["master_a"].patch(f"/api/v1/masters/{u['master_a'].id}", json={"company_share": "0.10"}), 403)
    problem(await c["operator_a"].patch(f"/api/v1/masters/{u['master_a'].id}", json={"notes": "x"}), 403)
    problem(await c["director_a"].patch(f"/api/v1/masters/{u['master_a'].id}", json={"city_id": world.city_b}), 422)
    problem(await c["director_a"].patch(f"/api/v1/masters/{u['master_a'].id}", json={"phone": None}), 422)
    problem(await c["admin"].get(f"/api/v1/masters/{u['operator_a'].id}"), 404)


async def test_operator_becomes_master_without_naming_cities(world: World, h: Harness) -> None:
    body = {"role": "master", "master": {"city_id": world.city_a, "phone": "+79001112233"}}
    changed = await world.clients["admin"].patch(f"/api/v1/users/{world.users['operator_a'].id}", json=body)
    assert changed.status_code == 200, changed.text
    assert changed.json()["city_ids"] == [] and changed.json()["master"]["city_id"] == world.city_a


async def test_master_profile_changes_are_audited_without_values(world: World, h: Harness) -> None:
    master = world.users["master_a"]
    body = {"passport": "9999 000000", "company_share": "0.40"}
    assert (await world.clients["director_a"].patch(f"/api/v1/masters/{master.id}", json=body)).status_code == 200
    renamed = await world.clients["admin"].patch(f"/api/v1/users/{master.id}", json={"login": "master.alpha"})
    assert renamed.status_code == 200
    async with h.database.session() as session:
        rows = {
            r.action: r for r in await session.scalars(select(AuditLog).where(AuditLog.target_id == str(master.id)))
        }
    assert rows["master_changed"].data == {"fields": ["company_share", "passport"]}
    assert "9999" not in str(rows["master_changed"].data)
    assert rows["user_changed"].data == {"login": ["master.a", "master.alpha"]}
