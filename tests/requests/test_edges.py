"""Edges found in review: input at the far ends of dates and text, searches that must not over-match, history in UTC,
and cash-desk edits of transactions whose links changed meanwhile. Each is a clear answer, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import Harness, error_fields, problem
from tests.requests.helpers import API, REQUESTS, create, events, team, url


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"date_to": "9999-12-31"}, ["date_to"]),
        ({"date_from": "0001-01-01"}, ["date_from"]),
        ({"date_from": "1999-12-31", "date_to": "2000-01-02"}, ["date_from"]),
    ],
    ids=["far-future-end", "far-past-start", "start-just-before-2000"],
)
async def test_dates_outside_any_ledger_are_422_everywhere(
    h: Harness, params: dict[str, str], fields: list[str]
) -> None:
    """Only the fields the caller sent are named, also where a missing date_from is derived from date_to."""
    t = await team(h)
    paths = (REQUESTS, f"{API}/transactions", f"{API}/masters/{t.master_user.id}/earnings", f"{API}/cash/balance")
    expected = dict.fromkeys(paths, fields)
    for path, names in expected.items():
        body = problem(await t.admin.get(path, params=params), 422, "validation-error")
        assert error_fields(body) == names, path


@pytest.mark.parametrize("moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00", "1970-01-01T00:00:00Z"])
async def test_timestamps_outside_2000_2100_are_422(h: Harness, moment: str) -> None:
    t = await team(h)
    body = {"city_id": t.city.id, "client_phone": "+79160000001", "visit_at": moment}
    assert error_fields(problem(await t.admin.post(REQUESTS, json=body), 422)) == ["visit_at"]
    req = await create(t.admin, t.city.id)
    moved = await t.admin.post(
        url(req["id"], "/transitions"), json={"to": "callback", "version": 1, "callback_at": moment}
    )
    assert error_fields(problem(moved, 422)) == ["callback_at"]
    assert (await t.admin.get(url(req["id"]))).json()["version"] == 1


@pytest.mark.parametrize("q", ["²", "12²", "٣٤٥", "+", "()"])
async def test_odd_search_text_is_answered(h: Harness, q: str) -> None:
    t = await team(h)
    await create(t.admin, t.city.id)
    response = await t.admin.get(REQUESTS, params={"q": q})
    assert response.status_code == 200, response.text


async def test_a_street_and_number_does_not_match_every_phone_with_that_digit(h: Harness) -> None:
    t = await team(h)
    street = await create(t.admin, t.city.id, client_phone="+7 916 555-55-55", address="ул. Ленина, 5")
    await create(t.admin, t.city.id, client_phone="+7 916 555-00-55", address="пр. Мира, 12")
    found = (await t.admin.get(REQUESTS, params={"q": "Ленина, 5"})).json()
    assert [i["id"] for i in found["items"]] == [street["id"]]
    by_phone = (await t.admin.get(REQUESTS, params={"q": "555-00"})).json()
    assert by_phone["total"] == 1


async def test_history_timestamps_are_utc_whatever_offset_was_sent(h: Harness) -> None:
    t = await team(h)
    req = await create(t.admin, t.city.id)
    body = {"to": "callback", "version": 1, "callback_at": "2026-11-25T10:00:00+03:00"}
    assert (await t.admin.post(url(req["id"], "/transitions"), json=body)).status_code == 200
    [moved] = [e for e in await events(t.admin, req["id"]) if e["kind"] == "status_changed"]
    assert moved["data"]["callback_at"] == "2026-11-25T07:00:00Z"


async def test_a_transaction_stays_editable_after_its_campaign_is_deleted(h: Harness) -> None:
    t = await team(h)
    campaign = (
        await t.admin.post(f"{API}/campaigns", json={"city_id": t.city.id, "name": "Листовки", "phone": "+74950000001"})
    ).json()
    types = (await t.admin.get(f"{API}/transaction-types")).json()["items"]
    spend = next(x for x in types if x["kind"] == "expense")
    tx = (
        await t.director.post(
            f"{API}/transactions",
            json={
                "city_id": t.city.id,
                "type_id": spend["id"],
                "amount": "100",
                "occurred_on": "2026-11-20",
                "campaign_id": campaign["id"],
            },
        )
    ).json()
    assert (await t.admin.delete(f"{API}/campaigns/{campaign['id']}")).status_code == 204
    fixed = await t.director.patch(
        f"{API}/transactions/{tx['id']}", json={"notes": "счёт №5", "version": tx["version"]}
    )
    assert fixed.status_code == 200, fixed.text
    assert (fixed.json()["notes"], fixed.json()["campaign_id"]) == ("счёт №5", campaign["id"])
    moved = await t.director.patch(
        f"{API}/transactions/{tx['id']}", json={"campaign_id": campaign["id"], "version": fixed.json()["version"]}
    )
    assert error_fields(problem(moved, 422)) == ["campaign_id"]
