"""Cash-desk transactions (SPEC §2 ``transactions``, §3.3 master handover, §3.4 versions, §5 Cash desk, §8).

Directors (their cities) and admins book, read, correct and soft-delete income and expense transactions; every other
role gets 403. The sign comes from the type, amounts are positive money, the handover income booked by a done
request is the request's to manage, and lists filter on the server and total every matching row.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from leadflow.cash.models import Transaction
from tests.cash.helpers import TX, book
from tests.conftest import Harness, error_fields, problem

API = TX

FIELDS = {
    "id",
    "city_id",
    "type_id",
    "kind",
    "amount",
    "occurred_on",
    "payment_reason",
    "notes",
    "request_id",
    "campaign_id",
    "master_id",
    "created_by_id",
    "version",
    "created_at",
    "updated_at",
    "files",
}


@dataclass
class Desk:
    """Two cities, an admin, a director of the first city, and the transaction types by name."""

    h: Harness
    city: int
    other_city: int
    admin: httpx.AsyncClient
    director: httpx.AsyncClient
    director_id: int
    sale: int  # income, created by the admin
    rent: int  # expense, created by the admin
    ads: int  # the system "advertising spend" expense
    handover: int  # the system "master handover" income


@pytest.fixture
async def desk(h: Harness) -> Desk:
    city, other_city = await h.city(), await h.city()
    admin = await h.as_user(await h.user("admin"))
    director_user = await h.user("director", cities=[city.id])
    director = await h.as_user(director_user)
    types = (await admin.get("/api/v1/transaction-types", params={"per_page": 200})).json()["items"]
    system = {(t["kind"], t["system"]): t["id"] for t in types}
    sale = await admin.post("/api/v1/transaction-types", json={"name": "Продажа запчастей", "kind": "income"})
    rent = await admin.post("/api/v1/transaction-types", json={"name": "Аренда офиса", "kind": "expense"})
    assert sale.status_code == rent.status_code == 201
    return Desk(
        h=h,
        city=city.id,
        other_city=other_city.id,
        admin=admin,
        director=director,
        director_id=director_user.id,
        sale=sale.json()["id"],
        rent=rent.json()["id"],
        ads=system[("expense", True)],
        handover=system[("income", True)],
    )


async def listed(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(API, params={"per_page": 200, **params})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def reasons(client: httpx.AsyncClient, **params: Any) -> list[str]:
    return [item["payment_reason"] for item in (await listed(client, **params))["items"]]


# Creating ----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("type_name", "kind"), [("sale", "income"), ("rent", "expense"), ("ads", "expense")])
async def test_create_takes_the_kind_from_the_type(desk: Desk, type_name: str, kind: str) -> None:
    type_id = getattr(desk, type_name)
    body = {"payment_reason": "Оплата", "notes": "наличными"}
    created = await book(desk.director, desk.city, type_id, "1500", "2024-03-10", **body)
    assert set(created) == FIELDS
    assert created["kind"] == kind and created["amount"] == "1500.00"  # positive whatever the kind
    assert (created["city_id"], created["type_id"], created["occurred_on"]) == (desk.city, type_id, "2024-03-10")
    assert (created["payment_reason"], created["notes"]) == ("Оплата", "наличными")
    assert created["request_id"] is created["campaign_id"] is created["master_id"] is None
    assert created["created_by_id"] == desk.director_id
    assert created["version"] == 1 and created["files"] == []
    assert created["created_at"].endswith("Z") and created["updated_at"].endswith("Z")
    got = await desk.director.get(f"{API}/{created['id']}")
    assert got.status_code == 200 and got.json() == created


@pytest.mark.parametrize(
    ("amount", "stored"),
    [(101.01, "101.01"), ("101.01", "101.01"), (7, "7.00"), ("0.01", "0.01"), ("9999999999.99", "9999999999.99")],
)
async def test_amount_accepts_strings_and_numbers(desk: Desk, amount: Any, stored: str) -> None:
    created = await book(desk.director, desk.city, desk.sale, amount)
    assert created["amount"] == stored
    assert (await desk.director.get(f"{API}/{created['id']}")).json()["amount"] == stored


@pytest.mark.parametrize(
    "amount",
    [0, "0", "0.00", -5, "-0.01", "1.001", 1.001, "NaN", "nan", "Infinity", "-Infinity", "abc", "", None, True,
     "10000000000.00"],
)  # fmt: skip
async def test_invalid_amount_is_422(desk: Desk, amount: Any) -> None:
    body = {"city_id": desk.city, "type_id": desk.sale, "amount": amount, "occurred_on": "2024-03-10"}
    assert error_fields(problem(await desk.director.post(API, json=body), 422, "validation-error")) == ["amount"]
    assert (await listed(desk.admin))["total"] == 0


@pytest.mark.parametrize("occurred_on", ["MISSING", None, "1900-01-01", "9999-12-31", "2024-02-30", "yesterday", ""])
async def test_occurred_on_is_required_and_sane(desk: Desk, occurred_on: str | None) -> None:
    body: dict[str, Any] = {"city_id": desk.city, "type_id": desk.sale, "amount": "10", "occurred_on": occurred_on}
    if occurred_on == "MISSING":
        del body["occurred_on"]
    response = await desk.director.post(API, json=body)
    assert error_fields(problem(response, 422, "validation-error")) == ["occurred_on"]


@pytest.mark.parametrize("field", ["city_id", "type_id", "amount"])
async def test_required_fields(desk: Desk, field: str) -> None:
    body = {"city_id": desk.city, "type_id": desk.sale, "amount": "10", "occurred_on": "2024-03-10"}
    del body[field]
    assert error_fields(problem(await desk.director.post(API, json=body), 422)) == [field]


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "expense"), ("version", 3), ("request_id", 1), ("created_by_id", 1), ("id", 9), ("deleted_at", None)],
)
async def test_server_owned_fields_are_rejected(desk: Desk, field: str, value: Any) -> None:
    body = {"city_id": desk.city, "type_id": desk.sale, "amount": "10", "occurred_on": "2024-03-10", field: value}
    assert field in error_fields(problem(await desk.director.post(API, json=body), 422))
    assert (await listed(desk.admin))["total"] == 0


@pytest.mark.parametrize("which", ["unknown", "inactive", "master_handover"])
async def test_type_must_be_bookable(desk: Desk, which: str) -> None:
    type_id = {"unknown": 999999, "inactive": desk.rent, "master_handover": desk.handover}[which]
    if which == "inactive":
        assert (await desk.admin.patch(f"/api/v1/transaction-types/{desk.rent}", json={"active": False})).is_success
    body = {"city_id": desk.city, "type_id": type_id, "amount": "10", "occurred_on": "2024-03-10"}
    for client in (desk.director, desk.admin):
        assert error_fields(problem(await client.post(API, json=body), 422, "validation-error")) == ["type_id"]
    assert (await listed(desk.admin))["total"] == 0


async def test_links_must_belong_to_the_transactions_city(desk: Desk) -> None:
    h = desk.h
    campaign = await desk.admin.post(
        "/api/v1/campaigns", json={"city_id": desk.city, "name": "Avito", "phone": "84951112233"}
    )
    foreign_campaign = await desk.admin.post(
        "/api/v1/campaigns", json={"city_id": desk.other_city, "name": "Avito B", "phone": "84951112244"}
    )
    master = await h.user("master", master_city=desk.city)
    foreign_master = await h.user("master", master_city=desk.other_city)
    operator = await h.user("operator", cities=[desk.city])
    base = {"city_id": desk.city, "type_id": desk.ads, "amount": "10", "occurred_on": "2024-03-10"}

    for extra, field in (
        ({"campaign_id": foreign_campaign.json()["id"]}, "campaign_id"),
        ({"campaign_id": 999999}, "campaign_id"),
        ({"master_id": foreign_master.id}, "master_id"),
        ({"master_id": operator.id}, "master_id"),
        ({"master_id": 999999}, "master_id"),
    ):
        for client in (desk.director, desk.admin):
            response = await client.post(API, json={**base, **extra})
            assert error_fields(problem(response, 422, "validation-error")) == [field], extra

    linked = await book(desk.director, desk.city, desk.ads, campaign_id=campaign.json()["id"], master_id=master.id)
    assert (linked["campaign_id"], linked["master_id"], linked["kind"]) == (campaign.json()["id"], master.id, "expense")


async def test_city_must_be_known_and_in_scope(desk: Desk) -> None:
    body = {"city_id": desk.other_city, "type_id": desk.sale, "amount": "10", "occurred_on": "2024-03-10"}
    assert error_fields(problem(await desk.director.post(API, json=body), 422)) == ["city_id"]
    assert error_fields(problem(await desk.admin.post(API, json={**body, "city_id": 999999}), 422)) == ["city_id"]
    assert (await book(desk.admin, desk.other_city, desk.sale))["city_id"] == desk.other_city
    two_cities = await desk.h.as_user(await desk.h.user("director", cities=[desk.city, desk.other_city]))
    assert (await book(two_cities, desk.other_city, desk.sale))["city_id"] == desk.other_city


# Who may --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["operator", "marketer", "master"])
async def test_other_roles_are_403(desk: Desk, role: str) -> None:
    h = desk.h
    tid = (await book(desk.director, desk.city, desk.sale))["id"]
    if role == "master":
        user = await h.user(role, master_city=desk.city)
    else:
        user = await h.user(role, cities=[desk.city])
    client = await h.as_user(user)
    body = {"city_id": desk.city, "type_id": desk.sale, "amount": "10", "occurred_on": "2024-03-10"}
    for response in (
        await client.get(API),
        await client.post(API, json=body),
        await client.get(f"{API}/{tid}"),
        await client.patch(f"{API}/{tid}", json={"amount": "1", "version": 1}),
        await client.delete(f"{API}/{tid}"),
    ):
        problem(response, 403, "forbidden")
    assert (await listed(desk.director))["total"] == 1
    assert (await desk.director.get(f"{API}/{tid}")).json()["amount"] == "100.00"


async def test_anonymous_is_401(h: Harness) -> None:
    problem(await h.client.get(API), 401, "unauthenticated")
    problem(await h.client.post(API, json={}), 401, "unauthenticated")


async def test_directors_never_see_other_cities(desk: Desk) -> None:
    h = desk.h
    mine = await book(desk.director, desk.city, desk.sale, payment_reason="A")
    theirs = await book(desk.admin, desk.other_city, desk.sale, payment_reason="B")
    other_director = await h.as_user(await h.user("director", cities=[desk.other_city]))
    nobody = await h.as_user(await h.user("director"))

    assert await reasons(desk.director) == ["A"]
    assert await reasons(desk.director, city_id=desk.other_city) == []
    assert await reasons(other_director) == ["B"]
    assert await reasons(nobody) == []
    assert sorted(await reasons(desk.admin)) == ["A", "B"]
    for client, foreign in ((desk.director, theirs), (other_director, mine), (nobody, mine)):
        problem(await client.get(f"{API}/{foreign['id']}"), 404, "not-found")
        problem(await client.patch(f"{API}/{foreign['id']}", json={"notes": "x", "version": 1}), 404, "not-found")
        problem(await client.delete(f"{API}/{foreign['id']}"), 404, "not-found")
    assert (await desk.admin.get(f"{API}/{mine['id']}")).json() == mine
    assert (await desk.admin.get(f"{API}/{theirs['id']}")).json() == theirs


# Versions, corrections and deletes -----------------------------------------------------------------------------------
async def test_get_sends_etag_and_patch_checks_the_version(desk: Desk) -> None:
    tid = (await book(desk.director, desk.city, desk.sale, "100"))["id"]
    url = f"{API}/{tid}"
    got = await desk.director.get(url)
    assert got.headers["ETag"] == '"1"' and got.json()["version"] == 1

    body = problem(await desk.director.patch(url, json={"amount": "200"}), 422, "validation-error")
    assert error_fields(body) == ["version"]

    ok = await desk.director.patch(url, json={"amount": "200", "version": 1})
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == 2 and ok.json()["amount"] == "200.00"
    assert ok.headers["ETag"] == '"2"'

    problem(await desk.director.patch(url, json={"amount": "300", "version": 1}), 409, "stale-version")
    problem(
        await desk.director.patch(url, json={"amount": "300"}, headers={"If-Match": '"1"'}), 412, "precondition-failed"
    )
    after = await desk.director.get(url)
    assert after.json()["amount"] == "200.00" and after.headers["ETag"] == '"2"'

    by_etag = await desk.director.patch(url, json={"notes": "проверено"}, headers={"If-Match": '"2"'})
    assert by_etag.status_code == 200, by_etag.text
    assert by_etag.json()["version"] == 3 and by_etag.json()["notes"] == "проверено"
    assert by_etag.json()["updated_at"] >= ok.json()["updated_at"]
    assert (await desk.director.get(url)).json() == by_etag.json()


async def test_patch_revalidates_the_merged_transaction(desk: Desk) -> None:
    h = desk.h
    campaign = await desk.admin.post(
        "/api/v1/campaigns", json={"city_id": desk.city, "name": "Avito", "phone": "84951112233"}
    )
    both = await h.as_user(await h.user("director", cities=[desk.city, desk.other_city]))
    created = await book(both, desk.city, desk.ads, "50", campaign_id=campaign.json()["id"])
    url = f"{API}/{created['id']}"

    for change, field in (
        ({"type_id": desk.handover}, "type_id"),
        ({"type_id": 999999}, "type_id"),
        ({"amount": "0"}, "amount"),
        ({"amount": None}, "amount"),
        ({"occurred_on": "1999-12-31"}, "occurred_on"),
        ({"city_id": desk.other_city}, "campaign_id"),  # the campaign belongs to the first city
        ({"kind": "income"}, "kind"),
    ):
        response = await both.patch(url, json={**change, "version": 1})
        assert field in error_fields(problem(response, 422, "validation-error")), change
    assert (await both.get(url)).json() == created

    out_of_scope = await desk.director.patch(url, json={"city_id": desk.other_city, "campaign_id": None, "version": 1})
    assert error_fields(problem(out_of_scope, 422)) == ["city_id"]

    moved = await both.patch(
        url, json={"city_id": desk.other_city, "campaign_id": None, "type_id": desk.sale, "version": 1}
    )
    assert moved.status_code == 200, moved.text
    assert (moved.json()["city_id"], moved.json()["campaign_id"], moved.json()["kind"]) == (
        desk.other_city,
        None,
        "income",
    )
    problem(await desk.director.get(url), 404, "not-found")  # now outside the first director's cities


async def test_a_type_deactivated_later_does_not_block_other_corrections(desk: Desk) -> None:
    created = await book(desk.director, desk.city, desk.rent)
    assert (await desk.admin.patch(f"/api/v1/transaction-types/{desk.rent}", json={"active": False})).is_success
    fixed = await desk.director.patch(f"{API}/{created['id']}", json={"notes": "счёт №5", "version": 1})
    assert fixed.status_code == 200 and fixed.json()["type_id"] == desk.rent
    back = await desk.director.patch(f"{API}/{created['id']}", json={"type_id": desk.sale, "version": 2})
    assert back.status_code == 200
    again = await desk.director.patch(f"{API}/{created['id']}", json={"type_id": desk.rent, "version": 3})
    assert error_fields(problem(again, 422)) == ["type_id"]


async def test_delete_is_soft_and_hides_the_transaction(desk: Desk) -> None:
    kept = await book(desk.director, desk.city, desk.sale, "10", payment_reason="kept")
    gone = await book(desk.director, desk.city, desk.sale, "90", payment_reason="gone")
    url = f"{API}/{gone['id']}"

    problem(await desk.director.delete(url, headers={"If-Match": '"7"'}), 412, "precondition-failed")
    problem(await desk.director.delete(url), 422, "validation-error")  # no version read: refused
    deleted = await desk.director.request("DELETE", url, json={"version": gone["version"]})
    assert deleted.status_code == 204 and deleted.content == b""

    for client in (desk.director, desk.admin):
        problem(await client.get(url), 404, "not-found")
        problem(await client.patch(url, json={"notes": "x", "version": 1}), 404, "not-found")
        problem(await client.delete(url), 404, "not-found")
        page = await listed(client)
        assert [i["id"] for i in page["items"]] == [kept["id"]] and page["total"] == 1
        assert page["totals"] == {"income": "10.00", "expense": "0.00", "net": "10.00"}

    async with desk.h.database.session() as session:  # soft: the row is still there, marked deleted
        row = await session.scalar(select(Transaction).where(Transaction.id == gone["id"]))
        assert row is not None and row.deleted_at is not None


# The master handover belongs to its request -------------------------------------------------------------------------
async def complete_request(desk: Desk) -> tuple[int, int]:
    """Drive a new request to done through the API (result 5000, expenses 1000, share 0.50); return its id and the
    master's id."""
    master = await desk.h.user("master", master_city=desk.city)
    created = await desk.director.post(
        "/api/v1/requests", json={"city_id": desk.city, "client_phone": "8 (916) 123-45-67"}
    )
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    patched = await desk.director.patch(
        f"/api/v1/requests/{rid}",
        json={
            "address": "ул. Ленина, 1",
            "visit_at": "2030-01-15T10:00:00+03:00",
            "version": created.json()["version"],
        },
    )
    assert patched.status_code == 200, patched.text
    version = patched.json()["version"]
    for to, extra in (
        ("awaiting_dispatch", {}),
        ("awaiting_acceptance", {"master_id": master.id}),
        ("accepted", {}),
        ("in_progress", {}),
        ("done", {"result": "5000", "expenses": "1000"}),
    ):
        moved = await desk.director.post(
            f"/api/v1/requests/{rid}/transitions", json={"to": to, "version": version, **extra}
        )
        assert moved.status_code == 200, moved.text
        version = moved.json()["version"]
    return rid, master.id


async def test_handover_transaction_is_managed_by_its_request(desk: Desk) -> None:
    own = await book(desk.director, desk.city, desk.sale, "1", payment_reason="own")
    rid, master_id = await complete_request(desk)
    page = await listed(desk.director, request_id=rid)
    assert page["total"] == 1
    handover = page["items"][0]
    assert (handover["type_id"], handover["kind"], handover["amount"]) == (desk.handover, "income", "2000.00")
    assert (handover["request_id"], handover["master_id"], handover["city_id"]) == (rid, master_id, desk.city)
    assert (await listed(desk.director, master_id=master_id))["items"] == [handover]
    url = f"{API}/{handover['id']}"

    for client in (desk.director, desk.admin):
        version = handover["version"]
        problem(await client.patch(url, json={"amount": "1", "version": version}), 409, "managed-by-request")
        problem(await client.patch(url, json={"notes": "x"}, headers={"If-Match": f'"{version}"'}), 409)
        problem(await client.delete(url, headers={"If-Match": f'"{version}"'}), 409, "managed-by-request")
    assert (await desk.director.get(url)).json() == {**handover, "files": []}  # the detail adds its receipts
    assert (await listed(desk.director))["total"] == 2
    assert (await listed(desk.director, request_id=rid + 1000))["total"] == 0
    own_tag = {"If-Match": f'"{own["version"]}"'}
    assert (await desk.director.delete(f"{API}/{own['id']}", headers=own_tag)).status_code == 204


# Lists: filters, order, totals ----------------------------------------------------------------------------------------
@dataclass
class Ledger:
    campaign: int
    master: int
    amounts: dict[str, tuple[str, Decimal]]  # reason → (kind, amount), city A only


async def ledger(desk: Desk) -> Ledger:
    """City A (the director's): L1..L5 booked in this order; city B: B1 (admin only)."""
    campaign = await desk.admin.post(
        "/api/v1/campaigns", json={"city_id": desk.city, "name": "Avito", "phone": "84951112233"}
    )
    cid = campaign.json()["id"]
    master = await desk.h.user("master", master_city=desk.city)
    rows = [
        ("L1", desk.sale, "income", "1000.00", "2024-03-01", {"campaign_id": cid}),
        ("L2", desk.rent, "expense", "300.50", "2024-03-05", {}),
        ("L3", desk.ads, "expense", "200.00", "2024-03-10", {"campaign_id": cid}),
        ("L4", desk.sale, "income", "50.25", "2024-03-31", {"master_id": master.id}),
        ("L5", desk.rent, "expense", "10.00", "2024-04-01", {"master_id": master.id}),
    ]
    amounts: dict[str, tuple[str, Decimal]] = {}
    for reason, type_id, kind, amount, day, extra in rows:
        made = await book(desk.director, desk.city, type_id, amount, day, payment_reason=reason, **extra)
        assert (made["kind"], made["amount"]) == (kind, amount), reason
        amounts[reason] = (kind, Decimal(amount))
    await book(desk.admin, desk.other_city, desk.sale, "999.99", "2024-03-05", payment_reason="B1")
    return Ledger(campaign=cid, master=master.id, amounts=amounts)


async def test_filters_apply_on_the_server_and_totals_follow(desk: Desk) -> None:
    books = await ledger(desk)
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({}, ["L5", "L4", "L3", "L2", "L1"]),
        ({"city_id": desk.city}, ["L5", "L4", "L3", "L2", "L1"]),
        ({"city_id": desk.other_city}, []),
        ({"type_id": desk.sale}, ["L4", "L1"]),
        ({"type_id": desk.ads}, ["L3"]),
        ({"kind": "income"}, ["L4", "L1"]),
        ({"kind": "expense"}, ["L5", "L3", "L2"]),
        ({"date_from": "2024-03-05"}, ["L5", "L4", "L3", "L2"]),
        ({"date_to": "2024-03-05"}, ["L2", "L1"]),
        ({"date_from": "2024-03-05", "date_to": "2024-03-31"}, ["L4", "L3", "L2"]),
        ({"date_from": "2024-03-31", "date_to": "2024-03-31"}, ["L4"]),
        ({"date_from": "2024-03-02", "date_to": "2024-03-04"}, []),
        ({"campaign_id": books.campaign}, ["L3", "L1"]),
        ({"master_id": books.master}, ["L5", "L4"]),
        ({"kind": "expense", "campaign_id": books.campaign}, ["L3"]),
        ({"kind": "income", "date_from": "2024-03-02"}, ["L4"]),
        ({"request_id": 999999}, []),
    ]
    for params, expected in cases:
        page = await listed(desk.director, **params)
        assert [i["payment_reason"] for i in page["items"]] == expected, params
        assert page["total"] == len(expected), params
        income = sum((a for r, (k, a) in books.amounts.items() if r in expected and k == "income"), Decimal(0))
        expense = sum((a for r, (k, a) in books.amounts.items() if r in expected and k == "expense"), Decimal(0))
        assert page["totals"] == {
            "income": f"{income:.2f}",
            "expense": f"{expense:.2f}",
            "net": f"{income - expense:.2f}",
        }

    assert await reasons(desk.admin) == ["L5", "L4", "L3", "B1", "L2", "L1"]  # same day: newest id first
    assert await reasons(desk.admin, city_id=desk.other_city) == ["B1"]
    assert await reasons(desk.admin, date_from="2024-03-05", date_to="2024-03-05") == ["B1", "L2"]


async def test_totals_cover_every_matching_row_not_just_the_page(desk: Desk) -> None:
    await ledger(desk)
    first = (await desk.director.get(API, params={"per_page": 2})).json()
    assert (first["total"], first["page"], first["per_page"], len(first["items"])) == (5, 1, 2, 2)
    # Hand-computed: income 1000.00 + 50.25; expense 300.50 + 200.00 + 10.00.
    assert first["totals"] == {"income": "1050.25", "expense": "510.50", "net": "539.75"}
    last = (await desk.director.get(API, params={"per_page": 2, "page": 3})).json()
    assert [i["payment_reason"] for i in last["items"]] == ["L1"] and last["totals"] == first["totals"]
    expenses = (await desk.director.get(API, params={"per_page": 1, "kind": "expense"})).json()
    assert expenses["total"] == 3
    assert expenses["totals"] == {"income": "0.00", "expense": "510.50", "net": "-510.50"}
    everything = (await desk.admin.get(API, params={"per_page": 1})).json()
    assert everything["totals"] == {"income": "2050.24", "expense": "510.50", "net": "1539.74"}


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("occurred_on", ["L1", "L2", "L3", "L4", "L5"]),
        ("-occurred_on", ["L5", "L4", "L3", "L2", "L1"]),
        ("amount", ["L5", "L4", "L3", "L2", "L1"]),
        ("-amount", ["L1", "L2", "L3", "L4", "L5"]),
        ("created_at", ["L1", "L2", "L3", "L4", "L5"]),
        ("-created_at", ["L5", "L4", "L3", "L2", "L1"]),
    ],
)
async def test_sort_options(desk: Desk, sort: str, expected: list[str]) -> None:
    await ledger(desk)
    assert await reasons(desk.director, sort=sort) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2024-03-31", "date_to": "2024-03-01"},
        {"date_from": "2024-02-30"},
        {"date_to": "soon"},
        {"kind": "refund"},
        {"sort": "name"},
        {"sort": "-kind"},
        {"per_page": 201},
        {"type_id": 0},
    ],
)
async def test_invalid_list_parameters_are_422(desk: Desk, params: dict[str, Any]) -> None:
    problem(await desk.director.get(API, params=params), 422, "validation-error")


async def test_reversed_dates_name_the_field(desk: Desk) -> None:
    response = await desk.director.get(API, params={"date_from": "2024-03-31", "date_to": "2024-03-01"})
    assert "date_from" in error_fields(problem(response, 422, "validation-error"))
