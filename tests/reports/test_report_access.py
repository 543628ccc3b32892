"""Who reads which report, and what the parameters take (docs/reports.md "Who reads what" and "Parameters"; SPEC §1,
§4). Every refusal is problem+json."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Harness, problem
from tests.reports.helpers import APRIL, REPORTS, by, new_request, report, report_url
from tests.requests.helpers import API, move


@dataclass
class Scope:
    """Two cities, each with a master, an operator and a campaign; one request each, booked by the city's operator;
    staff of every role."""

    h: Harness
    moscow: int
    kazan: int
    admin: httpx.AsyncClient
    director_m: httpx.AsyncClient  # city M only
    director_none: httpx.AsyncClient  # no cities: sees nothing
    marketer_m: httpx.AsyncClient
    marketer_all: httpx.AsyncClient  # empty list: every city
    operator_m: httpx.AsyncClient
    master_m: httpx.AsyncClient
    op_m: int
    op_k: int
    op_any: int  # an operator with no cities works in all of them
    master_m_id: int
    master_k_id: int
    campaign_m: int
    campaign_k: int


async def _campaign(admin: httpx.AsyncClient, city_id: int, phone: str) -> int:
    response = await admin.post(f"{API}/campaigns", json={"city_id": city_id, "name": f"Line {phone}", "phone": phone})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
async def scope(h: Harness) -> Scope:
    moscow = (await h.city("Москва (доступ)", "Europe/Moscow")).id
    kazan = (await h.city("Казань (доступ)", "Europe/Moscow")).id
    admin = await h.as_user(await h.user("admin"))
    op_m = await h.user("operator", cities=[moscow])
    op_k = await h.user("operator", cities=[kazan])
    op_any = await h.user("operator", cities=[])
    master_m = await h.user("master", master_city=moscow)
    master_k = await h.user("master", master_city=kazan)
    operator_m, operator_k = await h.as_user(op_m), await h.as_user(op_k)
    for client, city, phone in ((operator_m, moscow, "79990000001"), (operator_k, kazan, "79990000002")):
        await move(client, await new_request(client, city, phone), "awaiting_dispatch")
    return Scope(
        h=h,
        moscow=moscow,
        kazan=kazan,
        admin=admin,
        director_m=await h.as_user(await h.user("director", cities=[moscow])),
        director_none=await h.as_user(await h.user("director", cities=[])),
        marketer_m=await h.as_user(await h.user("marketer", cities=[moscow])),
        marketer_all=await h.as_user(await h.user("marketer", cities=[])),
        operator_m=operator_m,
        master_m=await h.as_user(master_m),
        op_m=op_m.id,
        op_k=op_k.id,
        op_any=op_any.id,
        master_m_id=master_m.id,
        master_k_id=master_k.id,
        campaign_m=await _campaign(admin, moscow, "74951110001"),
        campaign_k=await _campaign(admin, kazan, "78431110002"),
    )


def this_month() -> dict[str, str]:
    """From yesterday to tomorrow (Moscow): holds the requests just made, whatever the day of the run."""
    today = dt.datetime.now(ZoneInfo("Europe/Moscow")).date()
    return {
        "date_from": (today - dt.timedelta(days=1)).isoformat(),
        "date_to": (today + dt.timedelta(days=1)).isoformat(),
    }


# Scope ----------------------------------------------------------------------------------------------------------------
async def test_admin_sees_every_city(scope: Scope) -> None:
    cities = await report(scope.admin, "cities", **APRIL)
    assert {item["city_id"] for item in cities["items"]} == {scope.moscow, scope.kazan}
    masters = await report(scope.admin, "masters", **APRIL)
    assert {item["master_id"] for item in masters["items"]} == {scope.master_m_id, scope.master_k_id}
    campaigns = await report(scope.admin, "campaigns", **APRIL)
    assert {item["campaign_id"] for item in campaigns["items"]} == {scope.campaign_m, scope.campaign_k}
    operators = await report(scope.admin, "operators", **APRIL)
    assert {item["operator_id"] for item in operators["items"]} == {scope.op_m, scope.op_k, scope.op_any}


async def test_director_sees_only_their_cities(scope: Scope) -> None:
    director = scope.director_m
    cities = await report(director, "cities", **this_month())
    assert [item["city_id"] for item in cities["items"]] == [scope.moscow]
    assert cities["items"][0]["requests_total"] == 1  # only M's request
    assert cities["totals"]["requests_total"] == 1  # Kazan's request is in no total either
    summary = await report(director, "summary", **this_month())
    assert [item["city_id"] for item in summary["items"]] == [scope.moscow]
    assert summary["totals"]["requests_total"] == 1
    masters = await report(director, "masters", **this_month())
    assert [item["master_id"] for item in masters["items"]] == [scope.master_m_id]
    campaigns = await report(director, "campaigns", **this_month())
    assert [item["campaign_id"] for item in campaigns["items"]] == [scope.campaign_m]
    operators = await report(director, "operators", **this_month())
    # M's operator and the operator of all cities; not Kazan's
    items = by(operators["items"], "operator_id")
    assert set(items) == {scope.op_m, scope.op_any}
    assert items[scope.op_m]["requests_total"] == 1 and items[scope.op_m]["booked"] == 1
    assert items[scope.op_m]["booking_rate"] == "100.00"  # 1 / 1
    assert operators["totals"]["requests_total"] == 1  # 1 + 0


@pytest.mark.parametrize("name", REPORTS)
async def test_director_with_no_cities_sees_nothing(scope: Scope, name: str) -> None:
    body = await report(scope.director_none, name, **APRIL)
    assert body["items"] == []
    problem(await scope.director_none.get(report_url(name), params={"city_id": scope.moscow}), 404)


@pytest.mark.parametrize("name", REPORTS)
async def test_a_city_outside_the_scope_is_404(scope: Scope, name: str) -> None:
    response = await scope.director_m.get(report_url(name), params={"city_id": scope.kazan, **APRIL})
    problem(response, 404)
    own = await report(scope.director_m, name, city_id=scope.moscow, **APRIL)
    assert own["period"] == {"date_from": "2026-04-01", "date_to": "2026-04-30"}


@pytest.mark.parametrize("name", REPORTS)
async def test_an_unknown_city_is_404(scope: Scope, name: str) -> None:
    problem(await scope.admin.get(report_url(name), params={"city_id": 999_999, **APRIL}), 404)


async def test_city_id_narrows_the_admins_report(scope: Scope) -> None:
    body = await report(scope.admin, "campaigns", city_id=scope.kazan, **APRIL)
    assert [item["campaign_id"] for item in body["items"]] == [scope.campaign_k]
    body = await report(scope.admin, "summary", city_id=scope.kazan, **this_month())
    assert [item["city_id"] for item in body["items"]] == [scope.kazan]


async def test_one_callers_report_is_never_served_to_another(scope: Scope) -> None:
    """Same report, same period, different scopes, one after another (reports may be cached, SPEC §9)."""
    params = this_month()
    everything = await report(scope.admin, "cities", **params)
    assert {item["city_id"] for item in everything["items"]} == {scope.moscow, scope.kazan}
    assert everything["totals"]["requests_total"] == 2
    own = await report(scope.director_m, "cities", **params)
    assert [item["city_id"] for item in own["items"]] == [scope.moscow]
    assert own["totals"]["requests_total"] == 1
    operators = await report(scope.admin, "operators", **params)
    assert {item["operator_id"] for item in operators["items"]} == {scope.op_m, scope.op_k, scope.op_any}
    mine = await report(scope.operator_m, "operators", **params)
    assert [item["operator_id"] for item in mine["items"]] == [scope.op_m]
    assert (await report(scope.admin, "cities", **params)) == everything


async def test_an_operator_who_left_the_city_still_has_their_row(scope: Scope) -> None:
    """Anyone recorded as the operator of a request in scope is listed, with the requests of the scope only."""
    h = scope.h
    mover = await h.user("operator", cities=[scope.moscow, scope.kazan])
    client = await h.as_user(mover)
    await new_request(client, scope.moscow, "79990000011")  # handled in M
    await new_request(client, scope.kazan, "79990000012")  # handled in Kazan
    response = await scope.admin.patch(f"{API}/users/{mover.id}", json={"city_ids": [scope.kazan]})
    assert response.status_code == 200, response.text  # now works in Kazan only
    items = by((await report(scope.director_m, "operators", **this_month()))["items"], "operator_id")
    assert set(items) == {scope.op_m, scope.op_any, mover.id}
    row = items[mover.id]
    assert (row["requests_total"], row["booked"], row["booking_rate"]) == (1, 0, "0.00")  # M's one request: 0 / 1


@pytest.mark.parametrize("fmt", ["json", "csv"])
async def test_reports_are_not_stored_by_the_browser(scope: Scope, fmt: str) -> None:
    response = await scope.admin.get(report_url("cities"), params={"format": fmt, **APRIL})
    assert response.status_code == 200
    assert "no-store" in response.headers["cache-control"]


# Roles ----------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "status"), [("campaigns", 200), ("summary", 200), ("cities", 403),
                                              ("masters", 403), ("operators", 403)])  # fmt: skip
async def test_marketer_reads_campaigns_and_summary_only(scope: Scope, name: str, status: int) -> None:
    response = await scope.marketer_m.get(report_url(name), params=APRIL)
    if status == 200:
        assert response.status_code == 200, response.text
        key = "campaign_id" if name == "campaigns" else "city_id"
        expected = scope.campaign_m if name == "campaigns" else scope.moscow
        assert [item[key] for item in response.json()["items"]] == [expected]  # their city only
    else:
        problem(response, 403)


async def test_marketer_with_no_cities_reads_every_city(scope: Scope) -> None:
    campaigns = await report(scope.marketer_all, "campaigns", **APRIL)
    assert {item["campaign_id"] for item in campaigns["items"]} == {scope.campaign_m, scope.campaign_k}
    summary = await report(scope.marketer_all, "summary", **APRIL)
    assert {item["city_id"] for item in summary["items"]} == {scope.moscow, scope.kazan}


async def test_operator_reads_their_own_row_only(scope: Scope) -> None:
    body = await report(scope.operator_m, "operators", **this_month())
    assert [item["operator_id"] for item in body["items"]] == [scope.op_m]
    row = body["items"][0]
    assert (row["requests_total"], row["booked"], row["refused"], row["not_reached"]) == (1, 1, 0, 0)
    assert row["booking_rate"] == "100.00"
    assert body["totals"]["requests_total"] == 1 and body["totals"]["booking_rate"] == "100.00"


@pytest.mark.parametrize("name", ["cities", "masters", "campaigns", "summary"])
async def test_operator_reads_no_other_report(scope: Scope, name: str) -> None:
    problem(await scope.operator_m.get(report_url(name), params=APRIL), 403)


@pytest.mark.parametrize("name", REPORTS)
async def test_master_reads_no_report(scope: Scope, name: str) -> None:
    problem(await scope.master_m.get(report_url(name), params=APRIL), 403)
    problem(await scope.master_m.get(report_url(name), params={"format": "csv", **APRIL}), 403)


@pytest.mark.parametrize("name", REPORTS)
async def test_anonymous_is_401(h: Harness, name: str) -> None:
    problem(await h.client.get(report_url(name), params=APRIL), 401)
    problem(await h.client.get(report_url(name), params={"format": "csv"}), 401)


# Parameters -----------------------------------------------------------------------------------------------------------
BAD_PARAMS = [
    pytest.param({"format": "xlsx"}, id="format-xlsx"),
    pytest.param({"format": "pdf"}, id="format-pdf"),
    pytest.param({"date_from": "2026-05-01", "date_to": "2026-04-30"}, id="reversed"),
    pytest.param({"date_from": "1900-01-01", "date_to": "2026-04-30"}, id="before-2000"),
    pytest.param({"date_from": "2026-04-01", "date_to": "2101-01-01"}, id="after-2100"),
    pytest.param({"date_to": "1999-12-31"}, id="date_to-only-before-2000"),
    pytest.param({"date_from": "2001-01-01", "date_to": "2021-01-01"}, id="twenty-years"),
    pytest.param({"date_from": "2026-02-30"}, id="no-such-day"),
    pytest.param({"date_from": "yesterday"}, id="not-a-date"),
    pytest.param({"city_id": "abc"}, id="city-abc"),
    pytest.param({"city_id": "1.5"}, id="city-fraction"),
]


@pytest.mark.parametrize("params", BAD_PARAMS)
@pytest.mark.parametrize("name", REPORTS)
async def test_bad_parameters_are_422(scope: Scope, name: str, params: dict[str, str]) -> None:
    problem(await scope.admin.get(report_url(name), params=params), 422)


async def test_csv_with_bad_parameters_is_still_a_problem(scope: Scope) -> None:
    params = {"format": "csv", "date_from": "2026-05-01", "date_to": "2026-04-01"}
    response = await scope.admin.get(report_url("cities"), params=params)
    problem(response, 422)


async def test_ten_years_is_still_a_period(scope: Scope) -> None:
    body = await report(scope.admin, "cities", date_from="2016-01-01", date_to="2025-12-31")  # 3652 days
    assert body["period"] == {"date_from": "2016-01-01", "date_to": "2025-12-31"}


async def test_default_period(scope: Scope) -> None:
    """No dates: from the first of this month to today (business zone, Moscow); only date_to: from its month's first."""
    today = dt.datetime.now(ZoneInfo("Europe/Moscow")).date()
    body = await report(scope.admin, "cities")
    assert body["period"] == {"date_from": today.replace(day=1).isoformat(), "date_to": today.isoformat()}
    body = await report(scope.admin, "cities", date_to="2026-04-15")
    assert body["period"] == {"date_from": "2026-04-01", "date_to": "2026-04-15"}
    body = await report(scope.admin, "summary", date_from="2026-04-02", date_to="2026-04-02")
    assert body["period"] == {"date_from": "2026-04-02", "date_to": "2026-04-02"}
