"""Cached reports never outlive the writes that change them (SPEC §9), including the less obvious ones: a
transaction type switching kind, an operator's city list emptied; and CSV cells never run as formulas."""

from __future__ import annotations

import csv
import io

from tests.cash.helpers import book
from tests.conftest import Harness
from tests.requests.helpers import create, local_today, team

TODAY = {"date_from": local_today().replace(day=1).isoformat(), "date_to": local_today().isoformat()}


async def test_a_transaction_type_changing_kind_moves_the_cash_figures(h: Harness) -> None:
    t = await team(h)
    kind = await t.admin.post("/api/v1/transaction-types", json={"name": "Misc", "kind": "income"})
    assert kind.status_code == 201, kind.text
    await book(t.director, t.city.id, kind.json()["id"], "100.00", local_today().isoformat())
    item = (await t.director.get("/api/v1/reports/cities", params=TODAY)).json()["items"][0]
    assert (item["cash_income"], item["cash_expense"]) == ("100.00", "0.00")
    changed = await t.admin.patch(f"/api/v1/transaction-types/{kind.json()['id']}", json={"kind": "expense"})
    assert changed.status_code == 200, changed.text
    item = (await t.director.get("/api/v1/reports/cities", params=TODAY)).json()["items"][0]
    assert (item["cash_income"], item["cash_expense"]) == ("0.00", "100.00")


async def test_an_operator_whose_cities_are_emptied_shows_up_everywhere(h: Harness) -> None:
    t = await team(h)
    other = await h.city()
    admin = t.admin
    director = await h.as_user(await h.user("director", cities=[other.id]))
    names = {i["operator_id"] for i in (await director.get("/api/v1/reports/operators")).json()["items"]}
    assert t.operator_id not in names  # works in t.city only
    cleared = await admin.patch(f"/api/v1/users/{t.operator_id}", json={"city_ids": []})
    assert cleared.status_code == 200, cleared.text
    names = {i["operator_id"] for i in (await director.get("/api/v1/reports/operators")).json()["items"]}
    assert t.operator_id in names  # no cities: works in every city, the other director's included


async def test_csv_cells_never_start_a_formula(h: Harness) -> None:
    t = await team(h)
    campaign = await t.admin.post(
        "/api/v1/campaigns",
        json={"city_id": t.city.id, "name": '=HYPERLINK("http://evil.example","x")', "phone": "+7 800 111-22-33"},
    )
    assert campaign.status_code == 201, campaign.text
    await create(t.operator, t.city.id, campaign_id=campaign.json()["id"])
    body = (await t.admin.get("/api/v1/reports/campaigns", params={"format": "csv", "lang": "en"})).content
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    names = [row[0] for row in rows[1:-1]]
    assert names == ['\'=HYPERLINK("http://evil.example","x")']
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row)


async def test_the_default_period_includes_every_citys_own_today(h: Harness) -> None:
    """A city far east (UTC+14) is on tomorrow's date for most of the day in Moscow: what it did today counts."""
    admin = await h.as_user(await h.user("admin"))
    east = await h.city(timezone="Pacific/Kiritimati")
    await create(admin, east.id)
    item = next(i for i in (await admin.get("/api/v1/reports/cities")).json()["items"] if i["city_id"] == east.id)
    assert item["requests_total"] == 1
    summary = (await admin.get("/api/v1/reports/summary")).json()
    assert next(i for i in summary["items"] if i["city_id"] == east.id)["today"]["requests_total"] == 1


def test_registering_the_report_taggers_twice_stores_each_once() -> None:
    from leadflow.platform import cache as cache_module
    from leadflow.reports.invalidation import register_cache_taggers

    register_cache_taggers()
    before = {table: list(taggers) for table, taggers in cache_module._TAGGERS.items()}
    register_cache_taggers()
    assert {table: list(taggers) for table, taggers in cache_module._TAGGERS.items()} == before
    assert sum(t.__module__ == "leadflow.reports.invalidation" for t in before["requests"]) == 1
