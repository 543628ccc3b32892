"""The requests API (SPEC §3, §4, §5): manual intake, the list with every filter and sort, reading with ETag, PATCH
with versions and field rights, money corrections and the linked handover income, soft delete, the history and a
master's earnings.

The helpers (``Team``, ``create``, ``move``, ``reach`` ...) live in ``tests/requests/helpers.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from leadflow.catalog.models import City
from leadflow.requests.models import Request
from tests.conftest import Harness, error_fields, problem
from tests.requests.helpers import (
    API,
    PATH,
    REQUESTS,
    VISIT,
    Json,
    around_today,
    create,
    events,
    handovers,
    local_today,
    make_campaign,
    make_direction,
    move,
    reach,
    team,
    type_ids,
    url,
)


# Intake -----------------------------------------------------------------------------------------------------------
async def test_create_answers_the_stored_request(h: Harness) -> None:
    t = await team(h)
    direction = await make_direction(t.admin, "Стиральные машины")
    campaign = await make_campaign(t.admin, t.city.id)
    response = await t.operator.post(
        REQUESTS,
        json={
            "city_id": t.city.id,
            "client_phone": "8 (916) 123-45-67",
            "client_name": "Анна",
            "address": "ул. Ленина, 1",
            "visit_at": VISIT,
            "problem": "Не сливает воду",
            "campaign_id": campaign["id"],
            "direction_id": direction,
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["city"] == {"id": t.city.id, "name": t.city.name, "timezone": "Europe/Moscow"}
    assert body["campaign"] == {
        "id": campaign["id"],
        "name": campaign["name"],
        "channel": "avito",
        "phone": "78005553535",
    }
    assert body["direction"] == {"id": direction, "name": "Стиральные машины"}
    assert body["request_type"]["code"] == "first_time" and body["request_type_id"] == body["request_type"]["id"]
    assert (body["master"], body["master_id"], body["result"], body["net_amount"]) == (None, None, None, None)
    assert (body["status"], body["status_label"], body["queue"], body["source"]) == ("new", "Новая", "intake", "manual")
    assert (body["version"], body["files"], body["recordings"]) == (1, [], [])
    assert body["client_phone"] == "79161234567" and body["operator_id"] == t.operator_id
    assert body["visit_at"] == "2026-11-25T07:00:00Z" and body["created_at"].endswith("Z")
    assert (await t.director.get(url(body["id"]))).json() == body


async def test_request_type_follows_the_phone_history_in_any_city(h: Harness) -> None:
    t = await team(h)
    other = await h.city()
    admin = t.admin
    types = await type_ids(admin)
    assert (await create(admin, t.city.id, client_phone="79161234567"))["request_type"]["code"] == "first_time"
    again = await create(admin, other.id, client_phone="8 916 123 45 67")
    assert again["request_type"]["code"] == "repeat"
    explicit = await create(admin, other.id, client_phone="79161234567", request_type_id=types["first_time"])
    assert explicit["request_type_id"] == types["first_time"]
    assert (await create(admin, other.id, client_phone="79160000001"))["request_type"]["code"] == "first_time"


@pytest.mark.parametrize("typed", ["8 (916) 123-45-67", "+7 916 123 45 67", "9161234567", "7.916.123.45.67"])
async def test_phones_are_normalized(h: Harness, typed: str) -> None:
    t = await team(h)
    assert (await create(t.operator, t.city.id, client_phone=typed))["client_phone"] == "79161234567"


@pytest.mark.parametrize("typed", ["8 916 ABC 45 67", "8916123456a", "12345", "7916123456789012", "+7 (916) 123#4567"])
async def test_bad_phones_are_422(h: Harness, typed: str) -> None:
    t = await team(h)
    response = await t.operator.post(REQUESTS, json={"city_id": t.city.id, "client_phone": typed})
    assert error_fields(problem(response, 422, "validation-error")) == ["client_phone"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"visit_at": "2026-11-25T10:00:00"}, "visit_at"),
        ({"city_id": 999_999}, "city_id"),
        ({"request_type_id": 999_999}, "request_type_id"),
        ({"direction_id": 999_999}, "direction_id"),
        ({"campaign_id": 999_999}, "campaign_id"),
    ],
)
async def test_invalid_intake_fields_are_422(h: Harness, extra: Json, field: str) -> None:
    t = await team(h)
    response = await t.admin.post(REQUESTS, json={"city_id": t.city.id, "client_phone": "79161234567", **extra})
    assert error_fields(problem(response, 422, "validation-error")) == [field]


async def test_campaign_of_another_city_is_422(h: Harness) -> None:
    t = await team(h)
    elsewhere = await make_campaign(t.admin, (await h.city()).id)
    body = {"city_id": t.city.id, "client_phone": "79161234567", "campaign_id": elsewhere["id"]}
    assert error_fields(problem(await t.admin.post(REQUESTS, json=body), 422)) == ["campaign_id"]


SERVER_FIELDS = [
    ("status", "done"),
    ("net_amount", "10.00"),
    ("master_handover", "5.00"),
    ("version", 1),
    ("source", "api"),
    ("master_id", 1),
    ("company_share", "0.10"),
    ("completed_at", "2026-01-01T00:00:00Z"),
]


@pytest.mark.parametrize(
    ("method", "field", "value"),
    [("post", f, v) for f, v in SERVER_FIELDS] + [("patch", f, v) for f, v in SERVER_FIELDS if f != "version"],
)
async def test_server_owned_fields_are_unknown(h: Harness, method: str, field: str, value: Any) -> None:
    t = await team(h)
    if method == "post":
        response = await t.director.post(
            REQUESTS, json={"city_id": t.city.id, "client_phone": "79161234567", field: value}
        )
        assert (await t.director.get(REQUESTS)).json()["total"] == 0
    else:
        rid = (await create(t.director, t.city.id))["id"]
        response = await t.director.patch(url(rid), json={field: value, "version": 1})
        assert (await t.director.get(url(rid))).json()["version"] == 1
    errors = problem(response, 422, "validation-error")["errors"]
    assert errors == [{"field": field, "message": "Unknown field."}]


@pytest.mark.parametrize("role", ["master", "marketer"])
async def test_master_and_marketer_cannot_create(h: Harness, role: str) -> None:
    t = await team(h)
    response = await t.client(role).post(REQUESTS, json={"city_id": t.city.id, "client_phone": "79161234567"})
    problem(response, 403, "forbidden")
    assert (await t.admin.get(REQUESTS)).json()["total"] == 0


async def test_idempotency_key_replays_the_created_request(h: Harness) -> None:
    t = await team(h)
    body = {"city_id": t.city.id, "client_phone": "79161234567", "client_name": "Анна"}
    first = await t.operator.post(REQUESTS, json=body, headers={"Idempotency-Key": "intake-1"})
    again = await t.operator.post(REQUESTS, json=body, headers={"Idempotency-Key": "intake-1"})
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    other = await t.operator.post(
        REQUESTS, json={**body, "client_name": "Борис"}, headers={"Idempotency-Key": "intake-1"}
    )
    assert error_fields(problem(other, 422)) == ["Idempotency-Key"]
    assert [r["id"] for r in (await t.admin.get(REQUESTS)).json()["items"]] == [first.json()["id"]]


# The list ---------------------------------------------------------------------------------------------------------
@dataclass
class Listing:
    a: City
    b: City
    admin: httpx.AsyncClient
    refs: dict[str, int]  # master, campaign, direction, repeat
    names: dict[int, str]  # request id -> short name (r1..r4)


async def listing(h: Harness) -> Listing:
    """r1 new (A, campaign, direction, visit 22:30Z = the 25th in Moscow), r2 callback (A, repeat, visit the 24th),
    r3 refused (B, no visit), r4 awaiting_acceptance (A, the master, visit the 26th), created in this order."""
    a, b = await h.city(), await h.city()
    admin = await h.as_user(await h.user("admin"))
    master = await h.user("master", master_city=a.id)
    refs = {
        "master": master.id,
        "campaign": (await make_campaign(admin, a.id))["id"],
        "direction": await make_direction(admin, "Холодильники"),
        "repeat": (await type_ids(admin))["repeat"],
    }
    specs = (
        ("r1", a, "8 916 123-45-67", "Анна Иванова", "ул. Ленина, 1", "2026-11-24T22:30:00Z"),
        ("r2", a, "79031112233", "Борис", "пр. Мира, 5", "2026-11-24T12:00:00Z"),
        ("r3", b, "79269998877", "Вера", None, None),
        ("r4", a, "79851234567", "Глеб", "ул. Садовая, 3", "2026-11-26T09:00:00Z"),
    )
    extra = {
        "r1": {"campaign_id": refs["campaign"], "direction_id": refs["direction"]},
        "r2": {"request_type_id": refs["repeat"]},
    }
    ids: dict[str, int] = {}
    for name, city, phone, client, address, visit in specs:
        fields = {k: v for k, v in (("address", address), ("visit_at", visit)) if v} | extra.get(name, {})
        ids[name] = (await create(admin, city.id, client_phone=phone, client_name=client, **fields))["id"]
    await move(admin, ids["r2"], "callback", callback_at="2026-11-20T09:00:00Z")
    await move(admin, ids["r3"], "refused", reason="Дорого")
    await move(admin, ids["r4"], "awaiting_dispatch")
    await move(admin, ids["r4"], "awaiting_acceptance", master_id=master.id)
    names = {rid: name for name, rid in ids.items()}
    return Listing(a, b, admin, refs, names)


async def names_for(data: Listing, params: Any) -> list[str]:
    response = await data.admin.get(REQUESTS, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return [data.names[item["id"]] for item in body["items"]]


FILTERS: list[tuple[str, Any, set[str]]] = [
    ("queue-intake", lambda d: {"queue": "intake"}, {"r1", "r2", "r3"}),
    ("queue-work", lambda d: {"queue": "work"}, {"r3", "r4"}),
    ("status-repeatable", lambda d: [("status", "new"), ("status", "callback")], {"r1", "r2"}),
    ("queue-and-status", lambda d: {"queue": "work", "status": "new"}, set()),
    ("city", lambda d: {"city_id": d.b.id}, {"r3"}),
    ("master", lambda d: {"master_id": d.refs["master"]}, {"r4"}),
    ("campaign", lambda d: {"campaign_id": d.refs["campaign"]}, {"r1"}),
    ("request-type", lambda d: {"request_type_id": d.refs["repeat"]}, {"r2"}),
    ("direction", lambda d: {"direction_id": d.refs["direction"]}, {"r1"}),
    ("q-phone-as-typed", lambda d: {"q": "916 12"}, {"r1"}),
    ("q-phone-with-plus", lambda d: {"q": "+7 903 111"}, {"r2"}),
    ("q-name-cyrillic-any-case", lambda d: {"q": "аННА"}, {"r1"}),
    ("q-address", lambda d: {"q": "МИРА"}, {"r2"}),
    ("combined", lambda d: {"city_id": d.a.id, "queue": "intake"}, {"r1", "r2"}),
    ("visit-cross-midnight", lambda d: _visit(d, "2026-11-25", "2026-11-25", d.a.id), {"r1"}),
    ("visit-day-before", lambda d: _visit(d, "2026-11-24", "2026-11-24", d.a.id), {"r2"}),
    ("visit-business-zone", lambda d: _visit(d, "2026-11-25", "2026-11-26", None), {"r1", "r4"}),
    ("visit-open-start", lambda d: _visit(d, None, "2026-11-24", None), {"r2"}),
    ("created-around-today", lambda d: _created(-1, 1), {"r1", "r2", "r3", "r4"}),
    ("created-before", lambda d: _created(None, -2), set()),
    ("created-after", lambda d: _created(2, None), set()),
]


def _visit(d: Listing, start: str | None, end: str | None, city_id: int | None) -> Json:
    params: Json = {"date_field": "visit_at"}
    params.update({k: v for k, v in (("date_from", start), ("date_to", end), ("city_id", city_id)) if v})
    return params


def _created(start: int | None, end: int | None) -> Json:
    today = local_today()
    params: Json = {"date_field": "created_at"}
    if start is not None:
        params["date_from"] = (today + dt.timedelta(days=start)).isoformat()
    if end is not None:
        params["date_to"] = (today + dt.timedelta(days=end)).isoformat()
    return params


@pytest.mark.parametrize(("params", "expected"), [f[1:] for f in FILTERS], ids=[f[0] for f in FILTERS])
async def test_list_filters(h: Harness, params: Any, expected: set[str]) -> None:
    data = await listing(h)
    assert set(await names_for(data, params(data))) == expected


async def test_q_finds_a_phone_typed_with_a_leading_8(h: Harness) -> None:
    data = await listing(h)
    assert set(await names_for(data, {"q": "8 903 111"})) == {"r2"}


async def test_q_finds_a_request_by_id(h: Harness) -> None:
    data = await listing(h)
    rid = next(i for i, n in data.names.items() if n == "r3")
    found = (await data.admin.get(REQUESTS, params={"q": str(rid)})).json()["items"]
    assert rid in [item["id"] for item in found]
    assert all(item["id"] == rid or str(rid) in item["client_phone"] for item in found)


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, ["r4", "r3", "r2", "r1"]),
        ("-created_at", ["r4", "r3", "r2", "r1"]),
        ("created_at", ["r1", "r2", "r3", "r4"]),
        ("visit_at", ["r2", "r1", "r4", "r3"]),
        ("-visit_at", ["r4", "r1", "r2", "r3"]),
        ("callback_at", ["r2", "r1", "r3", "r4"]),
        ("status", ["r4", "r2", "r1", "r3"]),
        ("-status", ["r3", "r1", "r2", "r4"]),
    ],
)
async def test_list_sorts(h: Harness, sort: str | None, expected: list[str]) -> None:
    data = await listing(h)
    assert await names_for(data, {"sort": sort} if sort else {}) == expected


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"per_page": 201}, "per_page"),
        ({"page": 0}, "page"),
        ({"date_from": "2026-11-25", "date_to": "2026-11-24"}, "date_from"),
        ({"date_field": "completed_at"}, "date_field"),
        ({"sort": "client_phone"}, "sort"),
        ({"queue": "both"}, "queue"),
    ],
)
async def test_list_refuses_bad_parameters(h: Harness, params: Json, field: str) -> None:
    client = await h.signed_in("admin")
    assert error_fields(problem(await client.get(REQUESTS, params=params), 422)) == [field]


async def test_list_pages_cover_every_matching_row_once(h: Harness) -> None:
    t = await team(h)
    made = [(await reach(t, status))["id"] for status in ("done", "new", "in_progress", "new", "awaiting_dispatch")]
    first = (await t.director.get(REQUESTS, params={"per_page": 2})).json()
    assert (first["total"], len(first["items"]), first["page"], first["per_page"]) == (5, 2, 1, 2)
    assert set(first) == {"items", "total", "page", "per_page"}
    pages = [(await t.director.get(REQUESTS, params={"per_page": 2, "page": p})).json() for p in (1, 2, 3, 4)]
    ids = [item["id"] for page in pages for item in page["items"]]
    assert ids == sorted(made, reverse=True) and pages[3]["items"] == []
    assert all(page["total"] == 5 for page in pages)
    assert "files" not in first["items"][0] and "recordings" not in first["items"][0]
    filtered = (await t.director.get(REQUESTS, params={"status": "new", "per_page": 1})).json()
    assert (filtered["total"], len(filtered["items"])) == (2, 1)


# Reading and PATCH ------------------------------------------------------------------------------------------------
async def test_versions_etag_and_if_match(h: Harness) -> None:
    t = await team(h)
    rid = (await create(t.operator, t.city.id, client_name="Анна"))["id"]
    got = await t.operator.get(url(rid))
    assert got.headers["ETag"] == '"1"'
    no_version = await t.operator.patch(url(rid), json={"client_name": "Аня"})
    assert error_fields(problem(no_version, 422, "validation-error")) == ["version"]

    changed = await t.operator.patch(url(rid), json={"client_name": "Аня", "version": 1})
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.headers["ETag"] == '"2"'
    assert changed.json()["client_name"] == "Аня" and changed.json()["files"] == []
    problem(await t.operator.patch(url(rid), json={"client_name": "Анна", "version": 1}), 409, "stale-version")
    stale_header = await t.operator.patch(url(rid), json={"client_name": "Анна"}, headers={"If-Match": '"1"'})
    problem(stale_header, 412, "precondition-failed")
    by_header = await t.operator.patch(url(rid), json={"address": "ул. Мира, 2"}, headers={"If-Match": '"2"'})
    assert by_header.status_code == 200, by_header.text
    assert (by_header.json()["version"], by_header.json()["client_name"]) == (3, "Аня")

    for same in ({"client_name": "Аня", "version": 3}, {"version": 3}):
        unchanged = await t.operator.patch(url(rid), json=same)
        assert unchanged.status_code == 200 and unchanged.json()["version"] == 3, unchanged.text
    history = await events(t.director, rid)
    assert [e["kind"] for e in history] == ["created", "updated", "updated"]
    assert history[1]["data"]["changes"] == {"client_name": {"from": "Анна", "to": "Аня"}}
    assert history[1]["actor_id"] == t.operator_id


@pytest.mark.parametrize(
    ("role", "status", "body", "code", "type_", "fields"),
    [
        ("operator", "new", {"client_name": "Пётр"}, 200, None, None),
        ("operator", "awaiting_acceptance", {"address": "ул. Мира, 2"}, 200, None, None),
        ("operator", "accepted", {"client_name": "Пётр"}, 409, "field-locked", ["client_name"]),
        ("operator", "done", {"problem": "Другая"}, 409, "field-locked", ["problem"]),
        ("operator", "new", {"master_notes": "Деталь"}, 403, "forbidden", ["master_notes"]),
        ("master", "accepted", {"master_notes": "Нужна деталь"}, 200, None, None),
        ("master", "accepted", {"master_notes": "x", "client_name": "Пётр", "address": "y"}, 403, "forbidden", None),
        ("director", "in_progress", {"master_notes": "Заметка", "problem": "Гудит"}, 200, None, None),
        ("director", "in_progress", {"result": "100"}, 409, "field-locked", ["result"]),
        ("admin", "accepted", {"expenses": "1"}, 409, "field-locked", ["expenses"]),
        ("operator", "done", {"result": "100"}, 403, "forbidden", ["result"]),
        ("master", "done", {"expenses": "1"}, 403, "forbidden", ["expenses"]),
        ("director", "done", {"result": "6000"}, 200, None, None),
    ],
)
async def test_field_rights_by_role_and_status(
    h: Harness, role: str, status: str, body: Json, code: int, type_: str | None, fields: list[str] | None
) -> None:
    t = await team(h)
    req = await reach(t, status)
    response = await t.client(role).patch(url(req["id"]), json={**body, "version": req["version"]})
    after = (await t.admin.get(url(req["id"]))).json()
    if code == 200:
        assert response.status_code == 200, response.text
        assert response.json()["version"] == req["version"] + 1 == after["version"]
        assert all(str(after[k]) in (v, f"{v}.00") for k, v in body.items())
        return
    problem_body = problem(response, code, type_)
    assert error_fields(problem_body) == (fields or ["address", "client_name"])
    assert after["version"] == req["version"]


async def test_city_cannot_change_while_a_master_is_assigned(h: Harness) -> None:
    t = await team(h)
    other = await h.city()
    req = await reach(t, "awaiting_acceptance")
    response = await t.admin.patch(url(req["id"]), json={"city_id": other.id, "version": req["version"]})
    assert error_fields(problem(response, 409, "field-locked")) == ["city_id"]
    free = await create(t.admin, t.city.id)
    moved = await t.admin.patch(url(free["id"]), json={"city_id": other.id, "version": 1})
    assert moved.status_code == 200 and moved.json()["city"]["id"] == other.id, moved.text


async def test_money_correction_follows_the_snapshotted_share_and_the_handover(h: Harness) -> None:
    t = await team(h)
    share = await t.admin.patch(f"{API}/masters/{t.master_id}", json={"company_share": "0.30"})
    assert share.status_code == 200, share.text
    req = await reach(t, "done", result="1000", expenses="100")
    assert (req["net_amount"], req["master_handover"], req["company_share"]) == ("900.00", "270.00", "0.30")
    [tx] = await handovers(t.director, req["id"])
    assert tx["amount"] == "270.00"
    # The master's share changes afterwards: the request keeps the share it was done with.
    assert (await t.admin.patch(f"{API}/masters/{t.master_id}", json={"company_share": "0.60"})).status_code == 200

    async def correct(expect: int, **money: str) -> Json:
        version = (await t.director.get(url(req["id"]))).json()["version"]
        response = await t.director.patch(url(req["id"]), json={**money, "version": version})
        assert response.status_code == expect, response.text
        return response.json()  # type: ignore[no-any-return]

    fixed = await correct(200, result="2000.01")
    assert (fixed["net_amount"], fixed["master_handover"], fixed["company_share"]) == ("1900.01", "570.00", "0.30")
    [again] = await handovers(t.director, req["id"])
    assert (again["id"], again["amount"]) == (tx["id"], "570.00")
    last = (await events(t.director, req["id"]))[-1]
    assert last["kind"] == "money_corrected"
    assert last["data"]["changes"]["result"] == {"from": "1000.00", "to": "2000.01"}
    assert last["data"]["changes"]["master_handover"] == {"from": "270.00", "to": "570.00"}

    zero = await correct(200, expenses="2000.01")
    assert (zero["net_amount"], zero["master_handover"]) == ("0.00", "0.00")
    assert await handovers(t.director, req["id"]) == []
    back = await correct(200, expenses="1000")
    assert back["master_handover"] == "300.00"  # 1000.01 × 0.30 = 300.003
    [renewed] = await handovers(t.director, req["id"])
    assert renewed["amount"] == "300.00" and renewed["id"] != tx["id"]

    too_much = await t.director.patch(url(req["id"]), json={"expenses": "2000.02", "version": back["version"]})
    assert error_fields(problem(too_much, 422, "validation-error")) == ["expenses"]
    assert (await t.director.get(url(req["id"]))).json()["version"] == back["version"]
    async with h.database.session() as session:
        assert await session.scalar(select(func.count()).select_from(Request)) == 1


# Deleting, history, earnings --------------------------------------------------------------------------------------
async def test_delete_is_admin_only_soft_and_withdraws_the_handover(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "done")
    kept = await create(t.admin, t.city.id)
    problem(await t.director.delete(url(req["id"])), 403, "forbidden")
    problem(await t.admin.delete(url(req["id"])), 422, "validation-error")  # no version read: refused
    stale_tag = {"If-Match": f'"{req["version"] - 1}"'}
    problem(await t.admin.delete(url(req["id"]), headers=stale_tag), 412, "precondition-failed")
    deleted = await t.admin.delete(url(req["id"]), headers={"If-Match": f'"{req["version"]}"'})
    assert deleted.status_code == 204 and deleted.content == b""
    for client in (t.admin, t.director, t.master):
        problem(await client.get(url(req["id"])), 404, "not-found")
    assert [r["id"] for r in (await t.admin.get(REQUESTS)).json()["items"]] == [kept["id"]]
    assert await handovers(t.director, req["id"]) == []
    problem(await t.admin.delete(url(req["id"])), 404, "not-found")
    problem(await t.admin.delete(url(999_999)), 404, "not-found")
    async with h.database.session() as session:  # soft: the row is still there
        assert await session.scalar(select(func.count()).select_from(Request)) == 2


async def test_events_are_chronological_paginated_and_scoped(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "done")
    history = await events(t.director, req["id"])
    assert [(e["kind"], e["to_status"]) for e in history] == [("created", "new")] + [
        ("status_changed", s) for s in PATH
    ]
    assert [e["id"] for e in history] == sorted(e["id"] for e in history)
    assert [e["at"] for e in history] == sorted(e["at"] for e in history)
    assert history[-1]["from_status"] == "in_progress" and history[-1]["data"]["result"] == "5000.00"
    page = (await t.director.get(url(req["id"], "/events"), params={"per_page": 2, "page": 2})).json()
    assert (page["total"], [e["id"] for e in page["items"]]) == (6, [history[2]["id"], history[3]["id"]])
    stranger = await h.signed_in("director")
    problem(await stranger.get(url(req["id"], "/events")), 404, "not-found")


async def test_earnings_sum_net_minus_handover_of_done_requests(h: Harness) -> None:
    before = local_today()
    t = await team(h)
    await reach(t, "done", result="5000", expenses="1000")  # net 4000, handover 2000
    await reach(t, "done", result="3000.01", expenses="0")  # net 3000.01, handover 1500.01 (1500.005 half up)
    await reach(t, "in_progress")
    rival = await h.user("master", master_city=t.city.id)
    other = await reach(t, "awaiting_dispatch")
    await move(t.director, other["id"], "awaiting_acceptance", master_id=rival.id)
    for step in ("accepted", "in_progress"):
        await move(t.director, other["id"], step)
    await move(t.director, other["id"], "done", result="999", expenses="0")  # the rival's, not counted
    expected = {
        "master_id": t.master_id,
        "done": 2,
        "revenue": "8000.01",
        "net": "7000.01",
        "handover": "3500.01",
        "earnings": "3500.00",
    }
    path = f"{API}/masters/{t.master_id}/earnings"
    period = around_today()  # explicit: the default period ends at a month end that the run may cross
    for client in (t.master, t.director, t.admin):
        response = await client.get(path, params=period)
        assert response.status_code == 200, response.text
        assert {k: response.json()[k] for k in (*expected, "date_from", "date_to")} == expected | period
    # Left out, the period is this month up to today (the master's city's), which holds all of the above unless the
    # day changed during the test.
    default = await t.master.get(path)
    after = local_today()
    assert default.status_code == 200, default.text
    if before == after:
        period = {"date_from": before.replace(day=1).isoformat(), "date_to": before.isoformat()}
        assert {k: default.json()[k] for k in (*expected, "date_from", "date_to")} == expected | period
    past = (await t.master.get(path, params={"date_from": "2020-01-01", "date_to": "2020-01-31"})).json()
    assert (past["done"], past["earnings"], past["date_from"], past["date_to"]) == (
        0,
        "0.00",
        "2020-01-01",
        "2020-01-31",
    )
    problem(await (await h.as_user(rival)).get(path), 404, "not-found")
    problem(await (await h.signed_in("director")).get(path), 404, "not-found")
    for role in ("operator", "marketer"):
        problem(await t.client(role).get(path), 403, "forbidden")
    reversed_range = await t.master.get(path, params={"date_from": "2026-02-01", "date_to": "2026-01-01"})
    assert error_fields(problem(reversed_range, 422)) == ["date_from"]
