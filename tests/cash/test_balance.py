"""The cash balance (SPEC §5 ``GET /cash/balance``, §8, Appendix A "Cash balance").

Per city and per type over a period of business dates (``occurred_on``): opening = Σ income − Σ expense strictly
before ``date_from``; income and expense within the period, both ends included; net = income − expense; closing =
opening + net. Soft-deleted transactions count nowhere. Every expected figure below is computed by hand from the
crafted ledger, never by re-implementing the sums.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.cash.helpers import TX, book
from tests.conftest import Harness, error_fields, problem

API = "/api/v1/cash/balance"
MONEY_KEYS = ("opening", "income", "expense", "net", "closing")
ZEROS = dict.fromkeys(MONEY_KEYS, "0.00")


@dataclass
class Books:
    """Three cities (A and B with transactions, C without), an admin, a director of A, and four types."""

    h: Harness
    a: int
    b: int
    c: int
    admin: httpx.AsyncClient
    director: httpx.AsyncClient
    sale: int  # income
    other: int  # income
    rent: int  # expense
    ads: int  # the system advertising-spend expense


@pytest.fixture
async def books(h: Harness) -> Books:
    a, b, c = await h.city("Архангельск"), await h.city("Брянск"), await h.city("Владимир")
    admin = await h.as_user(await h.user("admin"))
    director = await h.as_user(await h.user("director", cities=[a.id]))
    made = {}
    for name, kind in (("Продажа", "income"), ("Прочий доход", "income"), ("Аренда", "expense")):
        response = await admin.post("/api/v1/transaction-types", json={"name": name, "kind": kind})
        assert response.status_code == 201, response.text
        made[name] = response.json()["id"]
    types = (await admin.get("/api/v1/transaction-types", params={"per_page": 200})).json()["items"]
    ads = next(t["id"] for t in types if t["system"] and t["kind"] == "expense")
    return Books(h, a.id, b.id, c.id, admin, director, made["Продажа"], made["Прочий доход"], made["Аренда"], ads)


async def craft(books: Books) -> None:
    """The ledger. Period of interest: 2024-03-01 .. 2024-03-31.

    City A: before — sale 1000.00 (02-28), rent 250.50 (02-29), other 100.00 (2023-12-31) → opening 849.50;
            within — sale 500.00 (03-01), sale 250.25 (03-15), ads 120.10 (03-10), rent 300.00 (03-31);
            after — sale 9999.00 (04-01); deleted — sale 777.77 (03-20), rent 55.55 (02-01).
    City B: before — rent 400.00 (01-15) → opening −400.00; within — other 1000.00 (03-02), sale 0.99 (03-31).
    City C: nothing.
    """
    x, d = books, books.director
    for type_id, amount, day in (
        (x.sale, "1000.00", "2024-02-28"),
        (x.rent, "250.50", "2024-02-29"),
        (x.other, "100.00", "2023-12-31"),
        (x.sale, "500.00", "2024-03-01"),
        (x.sale, "250.25", "2024-03-15"),
        (x.ads, "120.10", "2024-03-10"),
        (x.rent, "300.00", "2024-03-31"),
        (x.sale, "9999.00", "2024-04-01"),
    ):
        await book(d, x.a, type_id, amount, day)
    for type_id, amount, day in ((x.sale, "777.77", "2024-03-20"), (x.rent, "55.55", "2024-02-01")):
        gone = await book(d, x.a, type_id, amount, day)
        deleted = await d.delete(f"{TX}/{gone['id']}", headers={"If-Match": '"1"'})
        assert deleted.status_code == 204
    for type_id, amount, day in (
        (x.rent, "400.00", "2024-01-15"),
        (x.other, "1000.00", "2024-03-02"),
        (x.sale, "0.99", "2024-03-31"),
    ):
        await book(x.admin, x.b, type_id, amount, day)


MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-31"}
A_MARCH = {"opening": "849.50", "income": "750.25", "expense": "420.10", "net": "330.15", "closing": "1179.65"}
B_MARCH = {"opening": "-400.00", "income": "1000.99", "expense": "0.00", "net": "1000.99", "closing": "600.99"}


async def balance(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(API, params=params)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def figures(item: dict[str, Any]) -> dict[str, str]:
    return {key: item[key] for key in MONEY_KEYS}


def by_city(body: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["city_id"]: item for item in body["items"]}


def type_amounts(item: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """The non-zero per-type amounts of a city (a type with nothing in the period may be listed as 0.00 or left out)."""
    return {t["type_id"]: (t["kind"], t["amount"]) for t in item["by_type"] if t["amount"] != "0.00"}


# The figures --------------------------------------------------------------------------------------------------------
async def test_admin_sees_every_city_with_hand_computed_figures(books: Books) -> None:
    await craft(books)
    body = await balance(books.admin, **MARCH)
    assert set(body) == {"items", "totals", "period"}
    assert body["period"] == MARCH
    cities = by_city(body)
    assert set(cities) == {books.a, books.b, books.c}

    a, b, c = cities[books.a], cities[books.b], cities[books.c]
    assert set(a) == {"city_id", "city_name", *MONEY_KEYS, "by_type"}
    assert (a["city_name"], b["city_name"], c["city_name"]) == ("Архангельск", "Брянск", "Владимир")
    assert figures(a) == A_MARCH
    assert figures(b) == B_MARCH
    assert figures(c) == ZEROS and c["by_type"] == []

    assert type_amounts(a) == {
        books.sale: ("income", "750.25"),
        books.ads: ("expense", "120.10"),
        books.rent: ("expense", "300.00"),
    }
    assert type_amounts(b) == {books.other: ("income", "1000.00"), books.sale: ("income", "0.99")}
    names = {t["type_id"]: t["name"] for t in a["by_type"]}
    assert names[books.sale] == "Продажа" and names[books.rent] == "Аренда"
    for t in a["by_type"] + b["by_type"]:
        assert set(t) == {"type_id", "name", "kind", "amount"}

    # Totals across the cities: 849.50 − 400.00 + 0; 750.25 + 1000.99; 420.10; 330.15 + 1000.99; 1179.65 + 600.99.
    assert body["totals"] == {
        "opening": "449.50",
        "income": "1751.24",
        "expense": "420.10",
        "net": "1331.14",
        "closing": "1780.64",
    }


@pytest.mark.parametrize(
    ("period", "expected_a"),
    [
        # Inner days: 03-01 sale 500.00 moves into the opening, 03-31 rent 300.00 falls outside.
        (
            {"date_from": "2024-03-02", "date_to": "2024-03-30"},
            {"opening": "1349.50", "income": "250.25", "expense": "120.10", "net": "130.15", "closing": "1479.65"},
        ),
        # One day, the last of March: everything before it is the opening.
        (
            {"date_from": "2024-03-31", "date_to": "2024-03-31"},
            {"opening": "1479.65", "income": "0.00", "expense": "300.00", "net": "-300.00", "closing": "1179.65"},
        ),
        # One day, the first of March.
        (
            {"date_from": "2024-03-01", "date_to": "2024-03-01"},
            {"opening": "849.50", "income": "500.00", "expense": "0.00", "net": "500.00", "closing": "1349.50"},
        ),
        # Before every transaction: all zeros.
        ({"date_from": "2023-01-01", "date_to": "2023-12-30"}, ZEROS),
        # Long after: the opening is the whole history (the deleted rows excluded), nothing within.
        (
            {"date_from": "2025-01-01", "date_to": "2025-01-31"},
            {"opening": "11178.65", "income": "0.00", "expense": "0.00", "net": "0.00", "closing": "11178.65"},
        ),
        # Everything: opening 0, the full history within.
        (
            {"date_from": "2023-01-01", "date_to": "2024-12-31"},
            {"opening": "0.00", "income": "11849.25", "expense": "670.60", "net": "11178.65", "closing": "11178.65"},
        ),
    ],
    ids=["inner-days", "last-day", "first-day", "before-all", "after-all", "all-time"],
)
async def test_period_boundaries(books: Books, period: dict[str, str], expected_a: dict[str, str]) -> None:
    await craft(books)
    body = await balance(books.director, **period)
    assert body["period"] == period
    assert [item["city_id"] for item in body["items"]] == [books.a]
    assert figures(body["items"][0]) == expected_a
    assert body["totals"] == expected_a


async def test_director_sees_only_their_cities(books: Books) -> None:
    await craft(books)
    body = await balance(books.director, **MARCH)
    assert [item["city_id"] for item in body["items"]] == [books.a]
    assert body["totals"] == A_MARCH

    problem(await books.director.get(API, params={**MARCH, "city_id": books.b}), 404, "not-found")
    problem(await books.director.get(API, params={**MARCH, "city_id": 999999}), 404, "not-found")
    only_a = await balance(books.director, city_id=books.a, **MARCH)
    assert [figures(i) for i in only_a["items"]] == [A_MARCH]

    both = await books.h.as_user(await books.h.user("director", cities=[books.a, books.b]))
    body = await balance(both, **MARCH)
    assert {item["city_id"]: figures(item) for item in body["items"]} == {books.a: A_MARCH, books.b: B_MARCH}
    assert body["totals"]["closing"] == "1780.64"  # 1179.65 + 600.99

    nobody = await books.h.as_user(await books.h.user("director"))
    empty = await balance(nobody, **MARCH)
    assert empty["items"] == [] and empty["totals"] == ZEROS


@pytest.mark.parametrize(
    ("city", "expected"), [("b", B_MARCH), ("c", ZEROS)], ids=["with-transactions", "without-transactions"]
)
async def test_city_filter(books: Books, city: str, expected: dict[str, str]) -> None:
    await craft(books)
    city_id = getattr(books, city)
    body = await balance(books.admin, city_id=city_id, **MARCH)
    assert [item["city_id"] for item in body["items"]] == [city_id]
    assert figures(body["items"][0]) == expected and body["totals"] == expected
    problem(await books.admin.get(API, params={"city_id": 999999}), 404, "not-found")


async def test_soft_deleted_transactions_count_nowhere(books: Books) -> None:
    d, a = books.director, books.a
    kept_before = (await book(d, a, books.sale, "10.00", "2024-02-10"))["id"]
    gone_before = (await book(d, a, books.rent, "3.00", "2024-02-11"))["id"]
    kept_within = (await book(d, a, books.rent, "4.00", "2024-03-10"))["id"]
    gone_within = (await book(d, a, books.sale, "20.00", "2024-03-11"))["id"]
    start = await balance(d, **MARCH)
    assert start["totals"] == {
        "opening": "7.00",
        "income": "20.00",
        "expense": "4.00",
        "net": "16.00",
        "closing": "23.00",
    }

    for tid in (gone_before, gone_within):
        assert (await d.delete(f"{TX}/{tid}", headers={"If-Match": '"1"'})).status_code == 204
    after = await balance(d, **MARCH)
    assert after["totals"] == {
        "opening": "10.00",
        "income": "0.00",
        "expense": "4.00",
        "net": "-4.00",
        "closing": "6.00",
    }
    assert type_amounts(after["items"][0]) == {books.rent: ("expense", "4.00")}
    # What the balance counts is exactly what the ledger still lists.
    listed = await d.get(TX, params={"per_page": 200})
    assert listed.status_code == 200, listed.text
    assert sorted(item["id"] for item in listed.json()["items"]) == sorted([kept_before, kept_within])


async def test_corrections_move_the_figures(books: Books) -> None:
    d, a = books.director, books.a
    tid = (await book(d, a, books.sale, "100.00", "2024-03-05"))["id"]
    assert (await balance(d, **MARCH))["totals"]["income"] == "100.00"
    moved = await d.patch(f"{TX}/{tid}", json={"occurred_on": "2024-02-05", "type_id": books.rent, "version": 1})
    assert moved.status_code == 200, moved.text
    body = await balance(d, **MARCH)
    assert body["totals"] == {
        "opening": "-100.00",
        "income": "0.00",
        "expense": "0.00",
        "net": "0.00",
        "closing": "-100.00",
    }


# Defaults and bad input ------------------------------------------------------------------------------------------
def business_today(books: Books) -> dt.date:
    return dt.datetime.now(ZoneInfo(books.h.settings.timezone)).date()


async def test_default_period_is_this_month_up_to_today(books: Books) -> None:
    today = business_today(books)
    first = today.replace(day=1)
    d, a = books.director, books.a
    await book(d, a, books.sale, "1000.00", (first - dt.timedelta(days=1)).isoformat())  # opening
    await book(d, a, books.rent, "30.00", first.isoformat())
    await book(d, a, books.sale, "100.00", today.isoformat())
    await book(d, a, books.sale, "5000.00", (today + dt.timedelta(days=1)).isoformat())  # after the period

    body = await balance(d)
    in_city = await balance(d, city_id=a)  # with a city, the city's today (the same zone here)
    if business_today(books) != today:  # pragma: no cover - the run crossed midnight
        pytest.skip("the day changed during the test")
    # The day held, so the server's today (in the business time zone) must be ours: any other date is a bug.
    assert body["period"] == in_city["period"] == {"date_from": first.isoformat(), "date_to": today.isoformat()}
    assert (
        body["totals"]
        == in_city["totals"]
        == {
            "opening": "1000.00",
            "income": "100.00",
            "expense": "30.00",
            "net": "70.00",
            "closing": "1070.00",
        }
    )


async def test_date_to_alone_starts_at_the_first_of_its_month(books: Books) -> None:
    await craft(books)
    body = await balance(books.director, date_to="2024-03-15")
    assert body["period"] == {"date_from": "2024-03-01", "date_to": "2024-03-15"}
    # Within: 500.00 + 250.25 income, 120.10 expense; the 03-31 rent is after the period.
    expected = {"opening": "849.50", "income": "750.25", "expense": "120.10", "net": "630.15", "closing": "1479.65"}
    assert body["totals"] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2024-03-31", "date_to": "2024-03-01"},
        {"date_from": "2024-02-30", "date_to": "2024-03-31"},
        {"date_to": "tomorrow"},
        {"city_id": "A"},
        {"city_id": 0},
    ],
    ids=["reversed", "impossible-date", "word", "city-not-int", "city-zero"],
)
async def test_invalid_parameters_are_422(books: Books, params: dict[str, Any]) -> None:
    problem(await books.director.get(API, params=params), 422, "validation-error")


async def test_reversed_range_names_the_field(books: Books) -> None:
    response = await books.admin.get(API, params={"date_from": "2024-03-31", "date_to": "2024-03-01"})
    body = problem(response, 422, "validation-error")
    assert "date_from" in error_fields(body)


@pytest.mark.parametrize("role", ["operator", "marketer", "master"])
async def test_other_roles_are_403(books: Books, role: str) -> None:
    h = books.h
    user = await h.user(role, master_city=books.a) if role == "master" else await h.user(role, cities=[books.a])
    client = await h.as_user(user)
    problem(await client.get(API), 403, "forbidden")
    problem(await client.get(API, params={"city_id": books.a, **MARCH}), 403, "forbidden")


async def test_anonymous_is_401(h: Harness) -> None:
    problem(await h.client.get(API), 401, "unauthenticated")
