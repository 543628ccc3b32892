"""Reference data (§2, §5 "Reference data", Appendix A): cities, request types, directions, transaction types.

Read by every signed-in role, written by admins only; duplicates, rows in use and system rows answer 409.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from leadflow.accounts.models import Role
from tests.conftest import Harness, problem

API = "/api/v1"
ROLES = ("admin", "director", "operator", "marketer", "master")
NON_ADMIN_ROLES = ("director", "operator", "marketer", "master")
SEEDED_REQUEST_TYPES = {"first_time", "repeat"}
SEEDED_TRANSACTION_TYPES = {"master_handover", "advertising_spend"}


def _slug() -> str:
    return "t_" + uuid.uuid4().hex[:10]


@dataclass(frozen=True)
class Table:
    path: str
    fields: frozenset[str]
    make: Callable[[str], dict[str, Any]]
    seeded: int = 0

    def body(self, name: str | None = None, **extra: Any) -> dict[str, Any]:
        data = self.make(name or f"Row {uuid.uuid4().hex[:8]}")
        data.update(extra)
        return data


TABLES = {
    "cities": Table(
        "/cities",
        frozenset({"id", "name", "timezone", "active"}),
        lambda name: {"name": name, "timezone": "Asia/Yekaterinburg"},
    ),
    "request-types": Table(
        "/request-types",
        frozenset({"id", "code", "name", "active"}),
        lambda name: {"code": _slug(), "name": name},
        seeded=2,
    ),
    "directions": Table(
        "/directions",
        frozenset({"id", "name", "active"}),
        lambda name: {"name": name},
    ),
    "transaction-types": Table(
        "/transaction-types",
        frozenset({"id", "name", "kind", "system", "active"}),
        lambda name: {"name": name, "kind": "income"},
        seeded=2,
    ),
}
TABLE_IDS = list(TABLES)


@pytest.fixture(params=TABLE_IDS)
def table(request: pytest.FixtureRequest) -> Table:
    return TABLES[request.param]


@pytest.fixture
async def admin(h: Harness) -> httpx.AsyncClient:
    return await h.signed_in(Role.admin)


async def create(client: httpx.AsyncClient, table: Table, **kwargs: Any) -> dict[str, Any]:
    name = kwargs.pop("name", None)
    response = await client.post(API + table.path, json=table.body(name, **kwargs))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def list_all(client: httpx.AsyncClient, table: Table, **params: Any) -> dict[str, Any]:
    response = await client.get(API + table.path, params={"per_page": 200, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def find_by_code(client: httpx.AsyncClient, path: str, code: str) -> dict[str, Any]:
    """Seeded rows: request types expose `code`; transaction types are found by their seeded name."""
    items = (await list_all(client, TABLES[path.strip("/")]))["items"]
    if path == "/request-types":
        return next(i for i in items if i["code"] == code)
    names = {"master_handover": "Сдача мастера", "advertising_spend": "Расходы на рекламу"}
    return next(i for i in items if i["name"] == names[code])


# --- reading -------------------------------------------------------------------------------------------------------


async def test_list_shape_and_defaults(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    made = [await create(admin, table) for _ in range(3)]
    response = await admin.get(API + table.path)
    assert response.status_code == 200
    assert "no-store" in response.headers.get("cache-control", "")
    body = response.json()
    assert set(body) == {"items", "total", "page", "per_page"}
    assert body["page"] == 1
    assert body["per_page"] == 50
    assert body["total"] == 3 + table.seeded
    assert len(body["items"]) == 3 + table.seeded
    for item in body["items"]:
        assert set(item) == table.fields
    ids = {i["id"] for i in body["items"]}
    assert {m["id"] for m in made} <= ids


async def test_list_pagination(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    for _ in range(5):
        await create(admin, table)
    total = 5 + table.seeded
    first = (await admin.get(API + table.path, params={"page": 1, "per_page": 2})).json()
    assert first["page"] == 1
    assert first["per_page"] == 2
    assert first["total"] == total
    assert len(first["items"]) == 2
    beyond = (await admin.get(API + table.path, params={"page": 1000, "per_page": 2})).json()
    assert beyond["items"] == []
    assert beyond["total"] == total
    assert beyond["page"] == 1000
    maximum = await admin.get(API + table.path, params={"per_page": 200})
    assert maximum.status_code == 200
    assert maximum.json()["per_page"] == 200


async def test_list_order_is_stable_across_pages(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    # Names chosen so that the insertion order differs from the alphabetical order.
    for name in ("Delta", "alpha", "Charlie", "bravo", "Echo", "Alpha two", "delta two"):
        await create(admin, table, name=f"{name} {uuid.uuid4().hex[:4]}")
    full = (await list_all(admin, table))["items"]
    again = (await list_all(admin, table))["items"]
    assert [i["id"] for i in full] == [i["id"] for i in again]
    paged: list[int] = []
    page = 1
    while True:
        chunk = (await admin.get(API + table.path, params={"page": page, "per_page": 2})).json()
        if not chunk["items"]:
            break
        paged.extend(i["id"] for i in chunk["items"])
        page += 1
    assert paged == [i["id"] for i in full]
    assert len(set(paged)) == len(paged) == len(full)


@pytest.mark.parametrize(
    "params",
    [
        {"per_page": 201},
        {"per_page": 1000},
        {"per_page": 0},
        {"per_page": -1},
        {"page": 0},
        {"page": -1},
        {"page": "x"},
        {"per_page": "many"},
        {"active": "maybe"},
        {"q": "a\u0000b"},
        {"q": "x" * 201},
    ],
    ids=[
        "per_page-201",
        "per_page-1000",
        "per_page-0",
        "per_page-negative",
        "page-0",
        "page-negative",
        "page-text",
        "per_page-text",
        "active-not-bool",
        "q-nul",
        "q-too-long",
    ],
)
async def test_list_rejects_bad_query(
    h: Harness, admin: httpx.AsyncClient, table: Table, params: dict[str, Any]
) -> None:
    body = problem(await admin.get(API + table.path, params=params), 422, "validation-error")
    assert body["errors"], body


async def test_list_filter_active(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    on = await create(admin, table)
    off = await create(admin, table, active=False)
    assert off["active"] is False
    active_ids = {i["id"] for i in (await list_all(admin, table, active="true"))["items"]}
    inactive = await list_all(admin, table, active="false")
    inactive_ids = {i["id"] for i in inactive["items"]}
    assert on["id"] in active_ids
    assert off["id"] not in active_ids
    assert inactive_ids == {off["id"]}
    assert inactive["total"] == 1
    everything = {i["id"] for i in (await list_all(admin, table))["items"]}
    assert {on["id"], off["id"]} <= everything


async def test_list_filter_q(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    tag = uuid.uuid4().hex[:6]
    a = await create(admin, table, name=f"Washing {tag} North")
    b = await create(admin, table, name=f"washing {tag} south")
    await create(admin, table, name=f"Fridge {tag}")
    found = await list_all(admin, table, q=f"WASHING {tag}")
    assert {i["id"] for i in found["items"]} == {a["id"], b["id"]}
    assert found["total"] == 2
    assert (await list_all(admin, table, q="no-such-thing-at-all"))["items"] == []
    # LIKE wildcards are taken literally.
    assert (await list_all(admin, table, q="%"))["total"] == 0
    assert (await list_all(admin, table, q="_"))["total"] == 0


async def test_list_filters_combine(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    tag = uuid.uuid4().hex[:6]
    on = await create(admin, table, name=f"Combo {tag} one")
    off = await create(admin, table, name=f"Combo {tag} two", active=False)
    await create(admin, table, name=f"Other {tag}", active=False)
    assert [i["id"] for i in (await list_all(admin, table, q=f"combo {tag}", active="true"))["items"]] == [on["id"]]
    assert [i["id"] for i in (await list_all(admin, table, q=f"combo {tag}", active="false"))["items"]] == [off["id"]]


async def test_list_filter_q_cyrillic_is_case_insensitive(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    row = await create(admin, table, name="Стиральные машины Москва")
    found = await list_all(admin, table, q="москва")
    assert [i["id"] for i in found["items"]] == [row["id"]]


async def test_get_one(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    made = await create(admin, table)
    response = await admin.get(f"{API}{table.path}/{made['id']}")
    assert response.status_code == 200
    assert response.json() == made


@pytest.mark.parametrize("role", ROLES)
async def test_every_role_reads(h: Harness, admin: httpx.AsyncClient, table: Table, role: str) -> None:
    made = await create(admin, table)
    client = await h.signed_in(role)
    listed = await client.get(API + table.path)
    assert listed.status_code == 200, listed.text
    assert made["id"] in {i["id"] for i in listed.json()["items"]}
    one = await client.get(f"{API}{table.path}/{made['id']}")
    assert one.status_code == 200
    assert one.json() == made


async def test_anonymous_gets_401(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    made = await create(admin, table)
    url = f"{API}{table.path}/{made['id']}"
    problem(await h.client.get(API + table.path), 401)
    problem(await h.client.get(url), 401)
    problem(await h.client.post(API + table.path, json=table.body()), 401)
    problem(await h.client.patch(url, json={"name": "Anonymous"}), 401)
    problem(await h.client.delete(url), 401)
    assert (await admin.get(url)).json() == made


@pytest.mark.parametrize("role", NON_ADMIN_ROLES)
async def test_non_admin_cannot_write(h: Harness, admin: httpx.AsyncClient, table: Table, role: str) -> None:
    made = await create(admin, table)
    client = await h.signed_in(role)
    before = (await list_all(admin, table))["total"]
    url = f"{API}{table.path}/{made['id']}"
    problem(await client.post(API + table.path, json=table.body()), 403, "forbidden")
    problem(await client.patch(url, json={"name": "Hijacked"}), 403, "forbidden")
    problem(await client.delete(url), 403, "forbidden")
    assert (await admin.get(url)).json() == made
    assert (await list_all(admin, table))["total"] == before


# --- writing -------------------------------------------------------------------------------------------------------


async def test_create_returns_stored_object(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    body = table.body("  Padded name  ")
    response = await admin.post(API + table.path, json=body)
    assert response.status_code == 201, response.text
    made = response.json()
    assert set(made) == table.fields
    assert isinstance(made["id"], int)
    assert made["name"] == "Padded name"
    assert made["active"] is True
    for key, value in body.items():
        if key != "name":
            assert made[key] == value
    if "system" in table.fields:
        assert made["system"] is False
    assert (await admin.get(f"{API}{table.path}/{made['id']}")).json() == made


async def test_name_length_limit(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    longest = "Я" * 100
    made = await create(admin, table, name=longest)
    assert made["name"] == longest
    problem(await admin.post(API + table.path, json=table.body("Ж" * 101)), 422, "validation-error")
    problem(await admin.patch(f"{API}{table.path}/{made['id']}", json={"name": "Ж" * 101}), 422, "validation-error")
    assert (await admin.get(f"{API}{table.path}/{made['id']}")).json()["name"] == longest


async def test_city_defaults_to_moscow_time(h: Harness, admin: httpx.AsyncClient) -> None:
    response = await admin.post(f"{API}/cities", json={"name": "Тверь"})
    assert response.status_code == 201, response.text
    assert response.json()["timezone"] == "Europe/Moscow"
    assert response.json()["active"] is True


async def test_patch_changes_fields(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    made = await create(admin, table)
    url = f"{API}{table.path}/{made['id']}"
    response = await admin.patch(url, json={"name": "Renamed row"})
    assert response.status_code == 200, response.text
    assert response.json() == {**made, "name": "Renamed row"}
    response = await admin.patch(url, json={"active": False})
    assert response.status_code == 200
    assert response.json() == {**made, "name": "Renamed row", "active": False}
    assert (await admin.get(url)).json() == {**made, "name": "Renamed row", "active": False}
    empty = await admin.patch(url, json={})
    assert empty.status_code == 200
    assert empty.json() == {**made, "name": "Renamed row", "active": False}


async def test_patch_table_specific_fields(h: Harness, admin: httpx.AsyncClient) -> None:
    city = await create(admin, TABLES["cities"])
    r = await admin.patch(f"{API}/cities/{city['id']}", json={"timezone": "Asia/Vladivostok"})
    assert r.status_code == 200
    assert r.json()["timezone"] == "Asia/Vladivostok"
    rt = await create(admin, TABLES["request-types"])
    r = await admin.patch(f"{API}/request-types/{rt['id']}", json={"code": "warranty"})
    assert r.status_code == 200
    assert r.json()["code"] == "warranty"
    tt = await create(admin, TABLES["transaction-types"])
    r = await admin.patch(f"{API}/transaction-types/{tt['id']}", json={"kind": "expense"})
    assert r.status_code == 200
    assert r.json()["kind"] == "expense"
    assert (await admin.get(f"{API}/transaction-types/{tt['id']}")).json()["kind"] == "expense"


async def test_delete_unused_row(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    made = await create(admin, table)
    url = f"{API}{table.path}/{made['id']}"
    response = await admin.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    problem(await admin.get(url), 404, "not-found")
    problem(await admin.delete(url), 404, "not-found")
    assert (await list_all(admin, table))["total"] == table.seeded


@pytest.mark.parametrize("row_id", [999_999, 0, -1])
async def test_unknown_id_is_404(h: Harness, admin: httpx.AsyncClient, table: Table, row_id: int) -> None:
    url = f"{API}{table.path}/{row_id}"
    problem(await admin.get(url), 404, "not-found")
    problem(await admin.patch(url, json={"name": "Nobody"}), 404, "not-found")
    problem(await admin.delete(url), 404, "not-found")


async def test_non_integer_id_is_422(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    problem(await admin.get(f"{API}{table.path}/abc"), 422)
    problem(await admin.get(f"{API}{table.path}/1.5"), 422)


# --- duplicates ----------------------------------------------------------------------------------------------------

NAMED = ["cities", "directions", "transaction-types"]


@pytest.mark.parametrize("key", NAMED)
@pytest.mark.parametrize(
    ("first", "second"),
    [("Kazan", "Kazan"), ("Kazan", "KAZAN"), ("Kazan", "  kazan  "), ("Казань", "Казань")],
    ids=["same", "upper", "padded-lower", "cyrillic-same"],
)
async def test_duplicate_name_is_409(h: Harness, admin: httpx.AsyncClient, key: str, first: str, second: str) -> None:
    table = TABLES[key]
    await create(admin, table, name=first)
    problem(await admin.post(API + table.path, json=table.body(second)), 409)
    assert (await list_all(admin, table))["total"] == 1 + table.seeded


@pytest.mark.parametrize("key", NAMED)
async def test_duplicate_cyrillic_name_other_case_is_409(h: Harness, admin: httpx.AsyncClient, key: str) -> None:
    table = TABLES[key]
    await create(admin, table, name="Нижний Новгород")
    problem(await admin.post(API + table.path, json=table.body("нижний новгород")), 409)
    problem(await admin.post(API + table.path, json=table.body("НИЖНИЙ НОВГОРОД")), 409)
    assert (await list_all(admin, table))["total"] == 1 + table.seeded


@pytest.mark.parametrize("key", NAMED)
async def test_rename_onto_existing_name_is_409(h: Harness, admin: httpx.AsyncClient, key: str) -> None:
    table = TABLES[key]
    await create(admin, table, name="Samara")
    other = await create(admin, table, name="Tolyatti")
    url = f"{API}{table.path}/{other['id']}"
    problem(await admin.patch(url, json={"name": "SAMARA"}), 409)
    assert (await admin.get(url)).json()["name"] == "Tolyatti"
    # Changing only the case of one's own name is not a conflict.
    response = await admin.patch(url, json={"name": "TOLYATTI"})
    assert response.status_code == 200
    assert response.json()["name"] == "TOLYATTI"


async def test_duplicate_name_of_seeded_transaction_type_is_409(h: Harness, admin: httpx.AsyncClient) -> None:
    problem(await admin.post(f"{API}/transaction-types", json={"name": "Сдача мастера", "kind": "expense"}), 409)


async def test_duplicate_request_type_code_is_409(h: Harness, admin: httpx.AsyncClient) -> None:
    problem(await admin.post(f"{API}/request-types", json={"code": "first_time", "name": "Another"}), 409)
    made = await create(admin, TABLES["request-types"])
    problem(await admin.post(f"{API}/request-types", json={"code": made["code"], "name": "Copy"}), 409)
    problem(await admin.patch(f"{API}/request-types/{made['id']}", json={"code": "repeat"}), 409)
    assert (await list_all(admin, TABLES["request-types"]))["total"] == 3


# --- invalid input -------------------------------------------------------------------------------------------------

BIG = "x" * 100_000


@pytest.mark.parametrize(
    "patch",
    [
        {"unexpected": 1},
        {"id": 12345},
        {"created_at": "2024-01-01T00:00:00Z"},
        {"name": 123},
        {"name": ["a"]},
        {"name": {"x": 1}},
        {"name": True},
        {"name": ""},
        {"name": "   "},
        {"name": "a\u0000b"},
        {"name": BIG},
        {"active": "maybe"},
        {"active": [True]},
    ],
    ids=[
        "unknown-field",
        "id",
        "created_at",
        "name-int",
        "name-list",
        "name-object",
        "name-bool",
        "name-empty",
        "name-blank",
        "name-nul",
        "name-100kb",
        "active-text",
        "active-list",
    ],
)
async def test_create_rejects_invalid_body(
    h: Harness, admin: httpx.AsyncClient, table: Table, patch: dict[str, Any]
) -> None:
    body = table.body()
    body.update(patch)
    result = problem(await admin.post(API + table.path, json=body), 422, "validation-error")
    assert result["errors"]
    assert all({"field", "message"} <= set(e) for e in result["errors"])
    assert BIG not in str(result)
    assert (await list_all(admin, table))["total"] == table.seeded


async def test_create_requires_fields(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    problem(await admin.post(API + table.path, json={}), 422, "validation-error")
    body = table.body()
    body.pop("name")
    problem(await admin.post(API + table.path, json=body), 422, "validation-error")


async def test_create_rejects_non_object_body(h: Harness, admin: httpx.AsyncClient, table: Table) -> None:
    problem(await admin.post(API + table.path, json=[table.body()]), 422)
    problem(await admin.post(API + table.path, json="name"), 422)
    problem(await admin.post(API + table.path, content=b"{not json", headers={"content-type": "application/json"}), 422)


@pytest.mark.parametrize(
    "patch",
    [
        {"name": None},
        {"active": None},
        {"unexpected": "x"},
        {"id": 1},
        {"name": 5},
        {"name": ""},
        {"name": "a\u0000b"},
        {"name": BIG},
        {"active": "maybe"},
    ],
    ids=[
        "name-null",
        "active-null",
        "unknown",
        "id",
        "name-int",
        "name-empty",
        "name-nul",
        "name-100kb",
        "active-text",
    ],
)
async def test_patch_rejects_invalid_body(
    h: Harness, admin: httpx.AsyncClient, table: Table, patch: dict[str, Any]
) -> None:
    made = await create(admin, table)
    url = f"{API}{table.path}/{made['id']}"
    problem(await admin.patch(url, json=patch), 422, "validation-error")
    assert (await admin.get(url)).json() == made


@pytest.mark.parametrize(
    "timezone",
    [
        "Mars/Olympus_Mons",
        "europe/moscow",
        "Europe",
        "America",
        "Etc",
        "Europe/",
        "/etc/passwd",
        "../etc/passwd",
        "",
        "zone.tab",
        "a\u0000b",
        "Europe/Moscow" * 10,
        BIG,
        3,
        None,
    ],
)
async def test_city_invalid_timezone_is_422(h: Harness, admin: httpx.AsyncClient, timezone: Any) -> None:
    problem(await admin.post(f"{API}/cities", json={"name": "Omsk", "timezone": timezone}), 422, "validation-error")
    city = await create(admin, TABLES["cities"])
    url = f"{API}/cities/{city['id']}"
    problem(await admin.patch(url, json={"timezone": timezone}), 422, "validation-error")
    assert (await admin.get(url)).json() == city


@pytest.mark.parametrize("timezone", ["UTC", "Asia/Novosibirsk", "Europe/Kaliningrad", "America/New_York"])
async def test_city_valid_timezones(h: Harness, admin: httpx.AsyncClient, timezone: str) -> None:
    response = await admin.post(f"{API}/cities", json={"name": f"Town {timezone}", "timezone": timezone})
    assert response.status_code == 201, response.text
    assert response.json()["timezone"] == timezone


@pytest.mark.parametrize("code", ["First_Time", "1abc", "with space", "дом", "", "a-b", "x" * 51, "a\u0000b", 7])
async def test_request_type_invalid_code_is_422(h: Harness, admin: httpx.AsyncClient, code: Any) -> None:
    problem(await admin.post(f"{API}/request-types", json={"code": code, "name": "Bad"}), 422, "validation-error")


@pytest.mark.parametrize("kind", ["refund", "INCOME", "", None, 1])
async def test_transaction_type_invalid_kind_is_422(h: Harness, admin: httpx.AsyncClient, kind: Any) -> None:
    problem(await admin.post(f"{API}/transaction-types", json={"name": "Bad", "kind": kind}), 422, "validation-error")


async def test_transaction_type_cannot_be_made_system(h: Harness, admin: httpx.AsyncClient) -> None:
    body = {"name": "Sneaky", "kind": "income", "system": True}
    problem(await admin.post(f"{API}/transaction-types", json=body), 422, "validation-error")
    made = await create(admin, TABLES["transaction-types"])
    url = f"{API}/transaction-types/{made['id']}"
    problem(await admin.patch(url, json={"system": True}), 422, "validation-error")
    problem(await admin.patch(url, json={"code": "master_handover"}), 422, "validation-error")
    assert (await admin.get(url)).json()["system"] is False


async def test_transaction_type_needs_kind(h: Harness, admin: httpx.AsyncClient) -> None:
    problem(await admin.post(f"{API}/transaction-types", json={"name": "No kind"}), 422, "validation-error")


async def test_request_type_needs_code(h: Harness, admin: httpx.AsyncClient) -> None:
    problem(await admin.post(f"{API}/request-types", json={"name": "No code"}), 422, "validation-error")


# --- rows in use ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["director", "operator", "marketer"])
async def test_city_in_a_users_city_list_cannot_be_deleted(h: Harness, admin: httpx.AsyncClient, role: str) -> None:
    city = await h.city("Ufa")
    await h.user(Role(role), cities=[city.id])
    url = f"{API}/cities/{city.id}"
    body = problem(await admin.delete(url), 409)
    assert body["type"].endswith("in-use"), body
    still = await admin.get(url)
    assert still.status_code == 200
    assert still.json()["name"] == "Ufa"
    # Deactivating is the way out.
    off = await admin.patch(url, json={"active": False})
    assert off.status_code == 200
    assert off.json()["active"] is False


async def test_city_of_a_master_cannot_be_deleted(h: Harness, admin: httpx.AsyncClient) -> None:
    city = await h.city("Perm")
    await h.user(Role.master, master_city=city.id)
    url = f"{API}/cities/{city.id}"
    body = problem(await admin.delete(url), 409)
    assert body["type"].endswith("in-use"), body
    assert (await admin.get(url)).status_code == 200
    assert city.id in {c["id"] for c in (await list_all(admin, TABLES["cities"]))["items"]}


async def test_city_in_use_stays_usable_after_refusal(h: Harness, admin: httpx.AsyncClient) -> None:
    """The failed delete must not leave the session or the row in a broken state."""
    used = await h.city("Chelyabinsk")
    free = await h.city("Kurgan")
    director = await h.user(Role.director, cities=[used.id])
    problem(await admin.delete(f"{API}/cities/{used.id}"), 409)
    assert (await admin.delete(f"{API}/cities/{free.id}")).status_code == 204
    client = await h.as_user(director)
    assert (await client.get(f"{API}/cities/{used.id}")).status_code == 200


# --- system rows ---------------------------------------------------------------------------------------------------


async def test_seeded_request_types_exist(h: Harness, admin: httpx.AsyncClient) -> None:
    items = (await list_all(admin, TABLES["request-types"]))["items"]
    assert {i["code"] for i in items} == SEEDED_REQUEST_TYPES
    assert all(i["active"] for i in items)


async def test_seeded_transaction_types_are_system(h: Harness, admin: httpx.AsyncClient) -> None:
    items = (await list_all(admin, TABLES["transaction-types"]))["items"]
    assert len(items) == 2
    assert all(i["system"] is True and i["active"] is True for i in items)
    assert {i["kind"] for i in items} == {"income", "expense"}


@pytest.mark.parametrize("code", sorted(SEEDED_REQUEST_TYPES))
async def test_system_request_type_is_protected(h: Harness, admin: httpx.AsyncClient, code: str) -> None:
    row = await find_by_code(admin, "/request-types", code)
    url = f"{API}/request-types/{row['id']}"
    problem(await admin.delete(url), 409)
    problem(await admin.patch(url, json={"active": False}), 409)
    problem(await admin.patch(url, json={"code": "something_else"}), 409)
    problem(await admin.patch(url, json={"code": "something_else", "name": "Renamed"}), 409)
    assert (await admin.get(url)).json() == row
    # What is allowed: renaming the display name and re-sending the same code or active=true.
    same = await admin.patch(url, json={"code": code, "active": True})
    assert same.status_code == 200
    assert same.json() == row
    renamed = await admin.patch(url, json={"name": "Новое имя"})
    assert renamed.status_code == 200
    assert renamed.json() == {**row, "name": "Новое имя"}


@pytest.mark.parametrize("code", sorted(SEEDED_TRANSACTION_TYPES))
async def test_system_transaction_type_is_protected(h: Harness, admin: httpx.AsyncClient, code: str) -> None:
    row = await find_by_code(admin, "/transaction-types", code)
    assert row["system"] is True
    url = f"{API}/transaction-types/{row['id']}"
    other_kind = "expense" if row["kind"] == "income" else "income"
    problem(await admin.delete(url), 409)
    problem(await admin.patch(url, json={"active": False}), 409)
    problem(await admin.patch(url, json={"kind": other_kind}), 409)
    problem(await admin.patch(url, json={"kind": other_kind, "name": "Renamed"}), 409)
    assert (await admin.get(url)).json() == row
    same = await admin.patch(url, json={"kind": row["kind"], "active": True})
    assert same.status_code == 200
    assert same.json() == row
    renamed = await admin.patch(url, json={"name": "Переименовано"})
    assert renamed.status_code == 200
    assert renamed.json() == {**row, "name": "Переименовано"}


async def test_ordinary_request_and_transaction_types_are_not_protected(h: Harness, admin: httpx.AsyncClient) -> None:
    rt = await create(admin, TABLES["request-types"])
    url = f"{API}/request-types/{rt['id']}"
    assert (await admin.patch(url, json={"active": False})).status_code == 200
    assert (await admin.delete(url)).status_code == 204
    tt = await create(admin, TABLES["transaction-types"])
    url = f"{API}/transaction-types/{tt['id']}"
    assert (await admin.patch(url, json={"active": False, "kind": "expense"})).status_code == 200
    assert (await admin.delete(url)).status_code == 204
