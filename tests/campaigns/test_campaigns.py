"""Advertising campaigns (SPEC §1 scope, §2 ``advertising_campaigns``, §4 phones and lists, §5 Campaigns, Appendix A).

Admins, directors (their cities) and marketers (their cities, or every city when none is assigned) create, read,
change and delete campaigns; operators only read; masters may not even read. The tracking number is normalized and
unique among the *active* campaigns; a soft delete frees it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.conftest import Harness, error_fields, problem

API = "/api/v1/campaigns"
FIELDS = {"id", "city_id", "name", "channel", "phone", "active", "created_at"}
PHONE = "74951112233"


async def create(
    client: httpx.AsyncClient,
    city_id: int,
    *,
    name: str = "Avito spring",
    phone: str = "+7 495 111-22-33",
    channel: str | None = "avito",
    active: bool = True,
) -> dict[str, Any]:
    body = {"city_id": city_id, "name": name, "phone": phone, "channel": channel, "active": active}
    response = await client.post(API, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def ids(client: httpx.AsyncClient, **params: Any) -> list[int]:
    response = await client.get(API, params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


# CRUD -------------------------------------------------------------------------------------------------------------
async def test_admin_crud_round_trip(h: Harness) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")

    created = await create(admin, city.id, name="Яндекс Директ", phone="8 (495) 111-22-33", channel="yandex")
    assert set(created) == FIELDS
    assert created["phone"] == PHONE
    assert (created["city_id"], created["name"], created["channel"], created["active"]) == (
        city.id,
        "Яндекс Директ",
        "yandex",
        True,
    )
    assert created["created_at"].endswith("Z")
    cid = created["id"]

    got = await admin.get(f"{API}/{cid}")
    assert got.status_code == 200 and got.json() == created

    patched = await admin.patch(f"{API}/{cid}", json={"name": "Листовки", "channel": None})
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**created, "name": "Листовки", "channel": None}
    assert (await admin.get(f"{API}/{cid}")).json()["name"] == "Листовки"

    deleted = await admin.delete(f"{API}/{cid}")
    assert deleted.status_code == 204 and deleted.content == b""
    problem(await admin.get(f"{API}/{cid}"), 404, "not-found")
    problem(await admin.patch(f"{API}/{cid}", json={"name": "again"}), 404, "not-found")
    problem(await admin.delete(f"{API}/{cid}"), 404, "not-found")
    assert await ids(admin) == []
    assert await ids(admin, active="false") == []


async def test_unknown_campaign_is_404(h: Harness) -> None:
    admin = await h.signed_in("admin")
    problem(await admin.get(f"{API}/999999"), 404, "not-found")
    problem(await admin.patch(f"{API}/999999", json={"name": "x"}), 404, "not-found")
    problem(await admin.delete(f"{API}/999999"), 404, "not-found")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"city_id", "name", "phone"}),
        ({"name": "A", "phone": "84951112233"}, {"city_id"}),
        ({"city_id": "one", "name": "A", "phone": "84951112233"}, {"city_id"}),
        ({"city_id": "CITY", "name": "", "phone": "84951112233"}, {"name"}),
        ({"city_id": "CITY", "name": "A", "phone": "84951112233", "id": 5}, {"id"}),
        ({"city_id": "CITY", "name": "A", "phone": "84951112233", "deleted_at": None}, {"deleted_at"}),
        ({"city_id": "CITY", "name": "A", "phone": "84951112233", "channel": "bad channel!"}, {"channel"}),
    ],
    ids=["empty", "no-city", "city-not-int", "empty-name", "server-id", "server-field", "bad-channel"],
)
async def test_create_rejects_invalid_bodies(h: Harness, body: dict[str, Any], fields: set[str]) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    if body.get("city_id") == "CITY":
        body = {**body, "city_id": city.id}
    assert fields <= set(error_fields(problem(await admin.post(API, json=body), 422, "validation-error")))
    assert await ids(admin) == []


@pytest.mark.parametrize(
    "body", [{"name": None}, {"phone": None}, {"city_id": None}, {"active": None}, {"version": 1}, {"id": 3}]
)
async def test_patch_rejects_nulls_and_unknown_fields(h: Harness, body: dict[str, Any]) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    cid = (await create(admin, city.id))["id"]
    assert set(body) <= set(error_fields(problem(await admin.patch(f"{API}/{cid}", json=body), 422)))


# Phones -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", ["8 (495) 111-22-33", "+7 495 111 22 33", "4951112233", "7.495.111.22.33", PHONE])
async def test_tracking_phone_is_normalized(h: Harness, raw: str) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    created = await create(admin, city.id, phone=raw)
    assert created["phone"] == PHONE
    patched = await admin.patch(f"{API}/{created['id']}", json={"phone": "8 (916) 000-11-22"})
    assert patched.status_code == 200 and patched.json()["phone"] == "79160001122"


@pytest.mark.parametrize("raw", ["8 (495) ABC-22-33", "phone", "+7 495 111-22-33 доб. 5", "12345", "", "7#4951112233"])
async def test_tracking_phone_with_letters_or_wrong_length_is_422(h: Harness, raw: str) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    body = {"city_id": city.id, "name": "Bad", "phone": raw}
    assert "phone" in error_fields(problem(await admin.post(API, json=body), 422, "validation-error"))
    cid = (await create(admin, city.id))["id"]
    assert "phone" in error_fields(problem(await admin.patch(f"{API}/{cid}", json={"phone": raw}), 422))
    assert (await admin.get(f"{API}/{cid}")).json()["phone"] == PHONE


# Uniqueness of the tracking number among active campaigns ------------------------------------------------------------
def assert_phone_taken(response: httpx.Response) -> None:
    body = problem(response, 409, "duplicate-phone")
    assert error_fields(body) == ["phone"]


async def test_tracking_number_is_unique_among_active_campaigns(h: Harness) -> None:
    city, other_city = await h.city(), await h.city()
    admin = await h.signed_in("admin")
    holder = await create(admin, city.id, name="Holder", phone="8 (495) 111-22-33")

    # The same number typed differently, in any city, while the holder is active.
    for raw, city_id in (("+7 495 111 22 33", city.id), ("4951112233", other_city.id)):
        body = {"city_id": city_id, "name": "Clash", "phone": raw}
        assert_phone_taken(await admin.post(API, json=body))
    assert await ids(admin, active="true") == [holder["id"]]

    # An inactive campaign with the same number is allowed (even two of them).
    dormant = await create(admin, city.id, name="Dormant", phone="+74951112233", active=False)
    dormant2 = await create(admin, other_city.id, name="Dormant 2", phone="84951112233", active=False)
    assert dormant["phone"] == dormant2["phone"] == PHONE

    # Re-activating one while the holder is active: 409, and nothing changes.
    assert_phone_taken(await admin.patch(f"{API}/{dormant['id']}", json={"active": True}))
    assert (await admin.get(f"{API}/{dormant['id']}")).json()["active"] is False

    # Moving another active campaign onto the number: 409 too.
    other = await create(admin, city.id, name="Other", phone="84950000000")
    assert_phone_taken(await admin.patch(f"{API}/{other['id']}", json={"phone": "8-495-111-22-33"}))
    assert (await admin.get(f"{API}/{other['id']}")).json()["phone"] == "74950000000"

    # The holder may re-save its own number, typed differently.
    resaved = await admin.patch(f"{API}/{holder['id']}", json={"phone": "+7 (495) 111-22-33", "active": True})
    assert resaved.status_code == 200, resaved.text

    # After the holder's soft delete the number is free: one dormant campaign takes it, the next one cannot.
    assert (await admin.delete(f"{API}/{holder['id']}")).status_code == 204
    revived = await admin.patch(f"{API}/{dormant['id']}", json={"active": True})
    assert revived.status_code == 200 and revived.json()["active"] is True
    assert_phone_taken(await admin.patch(f"{API}/{dormant2['id']}", json={"active": True}))
    assert_phone_taken(await admin.post(API, json={"city_id": city.id, "name": "Late", "phone": PHONE}))


async def test_simultaneous_creates_of_one_number_leave_one_active_campaign(h: Harness) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    typed = ("+7 495 111-22-33", "8 (495) 111-22-33", "4951112233")
    bodies = [{"city_id": city.id, "name": f"Race {i}", "phone": typed[i % 3]} for i in range(6)]
    responses = await asyncio.gather(*(admin.post(API, json=body) for body in bodies))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5, [r.text for r in responses]
    for response in responses:
        if response.status_code == 409:
            assert_phone_taken(response)
    assert len(await ids(admin, active="true")) == 1


async def test_deactivating_the_holder_frees_the_number(h: Harness) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    holder = await create(admin, city.id, name="Holder")
    assert (await admin.patch(f"{API}/{holder['id']}", json={"active": False})).status_code == 200
    newcomer = await create(admin, city.id, name="Newcomer")
    assert newcomer["active"] is True and newcomer["phone"] == holder["phone"]
    assert_phone_taken(await admin.patch(f"{API}/{holder['id']}", json={"active": True}))


# Roles and scope ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["admin", "director", "marketer"])
async def test_writers_manage_campaigns_of_their_cities(h: Harness, role: str) -> None:
    city = await h.city()
    user = await h.user(role, cities=[] if role == "admin" else [city.id])
    client = await h.as_user(user)
    created = await create(client, city.id)
    cid = created["id"]
    assert (await client.get(f"{API}/{cid}")).status_code == 200
    assert await ids(client) == [cid]
    patched = await client.patch(f"{API}/{cid}", json={"name": "Renamed", "active": False})
    assert patched.status_code == 200 and patched.json()["active"] is False
    assert (await client.delete(f"{API}/{cid}")).status_code == 204
    problem(await client.get(f"{API}/{cid}"), 404)


@pytest.mark.parametrize("assigned", [True, False], ids=["own-cities", "no-cities"])
async def test_operators_read_but_never_write(h: Harness, assigned: bool) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    cid = (await create(admin, city.id))["id"]
    operator = await h.as_user(await h.user("operator", cities=[city.id] if assigned else []))

    assert await ids(operator) == [cid]
    got = await operator.get(f"{API}/{cid}")
    assert got.status_code == 200 and got.json()["phone"] == PHONE
    body = {"city_id": city.id, "name": "Mine", "phone": "84950000001"}
    problem(await operator.post(API, json=body), 403, "forbidden")
    problem(await operator.patch(f"{API}/{cid}", json={"name": "Mine"}), 403, "forbidden")
    problem(await operator.delete(f"{API}/{cid}"), 403, "forbidden")
    after = (await admin.get(f"{API}/{cid}")).json()
    assert after["name"] == "Avito spring" and after["active"] is True
    assert await ids(admin) == [cid]


async def test_operator_of_other_cities_does_not_see_the_campaign(h: Harness) -> None:
    city, other = await h.city(), await h.city()
    admin = await h.signed_in("admin")
    cid = (await create(admin, city.id))["id"]
    operator = await h.as_user(await h.user("operator", cities=[other.id]))
    assert await ids(operator) == []
    problem(await operator.get(f"{API}/{cid}"), 404, "not-found")


async def test_masters_may_not_even_read(h: Harness) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    cid = (await create(admin, city.id))["id"]
    master = await h.as_user(await h.user("master", master_city=city.id))
    problem(await master.get(API), 403, "forbidden")
    problem(await master.get(f"{API}/{cid}"), 403, "forbidden")
    problem(await master.post(API, json={"city_id": city.id, "name": "M", "phone": "84950000001"}), 403)
    problem(await master.patch(f"{API}/{cid}", json={"name": "M"}), 403, "forbidden")
    problem(await master.delete(f"{API}/{cid}"), 403, "forbidden")


async def test_anonymous_is_401(h: Harness) -> None:
    problem(await h.client.get(API), 401, "unauthenticated")
    problem(await h.client.post(API, json={}), 401, "unauthenticated")


@pytest.mark.parametrize("role", ["director", "marketer"])
async def test_city_bound_writer_stays_in_their_cities(h: Harness, role: str) -> None:
    mine, foreign = await h.city(), await h.city()
    admin = await h.signed_in("admin")
    theirs = await create(admin, foreign.id, name="Foreign", phone="84950000009")
    client = await h.as_user(await h.user(role, cities=[mine.id]))
    own = await create(client, mine.id)

    outside = {"city_id": foreign.id, "name": "Outside", "phone": "84950000001"}
    assert error_fields(problem(await client.post(API, json=outside), 422, "validation-error")) == ["city_id"]
    unknown = {"city_id": 999999, "name": "Nowhere", "phone": "84950000002"}
    assert error_fields(problem(await client.post(API, json=unknown), 422)) == ["city_id"]

    problem(await client.get(f"{API}/{theirs['id']}"), 404, "not-found")
    problem(await client.patch(f"{API}/{theirs['id']}", json={"name": "Mine now"}), 404, "not-found")
    problem(await client.delete(f"{API}/{theirs['id']}"), 404, "not-found")
    moved = await client.patch(f"{API}/{own['id']}", json={"city_id": foreign.id})
    assert error_fields(problem(moved, 422)) == ["city_id"]
    assert (await client.get(f"{API}/{own['id']}")).json()["city_id"] == mine.id

    assert await ids(client) == [own["id"]]
    assert await ids(client, city_id=foreign.id) == []
    assert (await admin.get(f"{API}/{theirs['id']}")).json()["name"] == "Foreign"


async def test_marketer_without_cities_works_everywhere(h: Harness) -> None:
    first, second = await h.city(), await h.city()
    admin = await h.signed_in("admin")
    existing = await create(admin, first.id, name="By admin")
    marketer = await h.as_user(await h.user("marketer"))
    made = await create(marketer, second.id, name="By marketer", phone="84950000001")
    assert await ids(marketer) == [made["id"], existing["id"]]
    patched = await marketer.patch(f"{API}/{existing['id']}", json={"city_id": second.id})
    assert patched.status_code == 200 and patched.json()["city_id"] == second.id
    unknown = {"city_id": 999999, "name": "Nowhere", "phone": "84950000002"}
    assert error_fields(problem(await marketer.post(API, json=unknown), 422)) == ["city_id"]


async def test_director_without_cities_sees_and_creates_nothing(h: Harness) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    cid = (await create(admin, city.id))["id"]
    director = await h.as_user(await h.user("director"))
    assert await ids(director) == []
    problem(await director.get(f"{API}/{cid}"), 404)
    body = {"city_id": city.id, "name": "X", "phone": "84950000001"}
    assert error_fields(problem(await director.post(API, json=body), 422)) == ["city_id"]


# Lists --------------------------------------------------------------------------------------------------------------
async def test_filters_search_and_order(h: Harness) -> None:
    moscow, kazan = await h.city(), await h.city()
    admin = await h.signed_in("admin")
    a = await create(admin, moscow.id, name="Avito Весна", phone="84951112233", channel="avito")
    b = await create(admin, moscow.id, name="Листовки у метро", phone="84957778899", channel="leaflet", active=False)
    c = await create(admin, kazan.id, name="Yandex Kazan", phone="88432223344", channel="yandex")
    d = await create(admin, kazan.id, name="AVITO Казань", phone="88435556677", channel="Avito")

    assert await ids(admin) == [d["id"], c["id"], b["id"], a["id"]]  # newest first
    cases: list[tuple[dict[str, Any], list[dict[str, Any]]]] = [
        ({"city_id": moscow.id}, [b, a]),
        ({"city_id": kazan.id}, [d, c]),
        ({"channel": "avito"}, [d, a]),
        ({"channel": "leaflet"}, [b]),
        ({"active": "true"}, [d, c, a]),
        ({"active": "false"}, [b]),
        ({"q": "avito"}, [d, a]),
        ({"q": "метро"}, [b]),
        ({"q": "843"}, [d, c]),
        ({"q": "777-88"}, [b]),
        ({"q": "+7 (495) 111"}, [a]),
        ({"q": "nothing like it"}, []),
        ({"q": "%"}, []),
        ({"q": "_"}, []),
        ({"city_id": kazan.id, "channel": "avito", "active": "true"}, [d]),
        ({"city_id": 999999}, []),
    ]
    for params, expected in cases:
        assert await ids(admin, **params) == [x["id"] for x in expected], params


async def test_pagination(h: Harness) -> None:
    city = await h.city()
    admin = await h.signed_in("admin")
    made = [await create(admin, city.id, name=f"C{i}", phone=f"8495000000{i}") for i in range(5)]
    newest_first = [x["id"] for x in reversed(made)]

    first = (await admin.get(API, params={"per_page": 2})).json()
    assert (first["total"], first["page"], first["per_page"]) == (5, 1, 2)
    assert [x["id"] for x in first["items"]] == newest_first[:2]
    assert set(first["items"][0]) == FIELDS
    third = (await admin.get(API, params={"per_page": 2, "page": 3})).json()
    assert [x["id"] for x in third["items"]] == newest_first[4:]
    beyond = (await admin.get(API, params={"per_page": 2, "page": 4})).json()
    assert beyond["items"] == [] and beyond["total"] == 5
    filtered = (await admin.get(API, params={"q": "C3", "per_page": 1})).json()
    assert filtered["total"] == 1 and filtered["items"][0]["id"] == made[3]["id"]


@pytest.mark.parametrize(
    "params", [{"per_page": 201}, {"per_page": 0}, {"page": 0}, {"active": "maybe"}, {"city_id": "x"}]
)
async def test_invalid_list_parameters_are_422(h: Harness, params: dict[str, Any]) -> None:
    admin = await h.signed_in("admin")
    problem(await admin.get(API, params=params), 422, "validation-error")
