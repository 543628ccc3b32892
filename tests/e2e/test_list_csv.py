"""CSV export of every list (SPEC §4, docs/api.md#csv-export): ``format=csv`` on requests, transactions, calls, call
recordings, users, campaigns, the audit log and the file access log answers every row the JSON list would page
through, with its filters and scope, as UTF-8 with a BOM, RFC 4180, headers in Russian by default or in English."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from leadflow.accounts.models import User
from leadflow.accounts.schemas import AUDIT_CSV_COLUMNS, USER_CSV_COLUMNS
from leadflow.audit.models import AuditLog
from leadflow.campaigns.models import Campaign
from leadflow.campaigns.schemas import CSV_COLUMNS as CAMPAIGN_COLUMNS
from leadflow.cash.models import Transaction
from leadflow.cash.schemas import CSV_COLUMNS as TRANSACTION_COLUMNS
from leadflow.catalog.models import RequestType, TransactionType
from leadflow.files.models import FileAccess
from leadflow.files.schemas import ACCESS_CSV_COLUMNS
from leadflow.platform.export import Column, cell, language
from leadflow.recordings.models import CallRecording
from leadflow.recordings.schemas import CSV_COLUMNS as RECORDING_COLUMNS
from leadflow.requests.models import Request
from leadflow.requests.schemas import CSV_COLUMNS as REQUEST_COLUMNS
from leadflow.telephony.models import Call
from leadflow.telephony.schemas import CSV_COLUMNS as CALL_COLUMNS
from tests.conftest import Harness, problem
from tests.files.helpers import png
from tests.requests.helpers import API, create, move

BOM = "\ufeff".encode()
TRICKY = 'Alpha, "Beta"\nGamma'  # a comma, double quotes and a newline: all three need RFC 4180 quoting
FORMULA = '=HYPERLINK("http://evil.example","x")'
CYRILLIC = re.compile("[А-Яа-яЁё]")
COLUMNS: dict[str, list[Column]] = {
    "requests": REQUEST_COLUMNS,
    "transactions": TRANSACTION_COLUMNS,
    "calls": CALL_COLUMNS,
    "call-recordings": RECORDING_COLUMNS,
    "users": USER_CSV_COLUMNS,
    "campaigns": CAMPAIGN_COLUMNS,
    "audit-log": AUDIT_CSV_COLUMNS,
    "file-access-log": ACCESS_CSV_COLUMNS,
}
LISTS = list(COLUMNS)
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)


@dataclass
class World:
    """Two cities (A with an awkward name) and, in each, a row of every list; the staff of A on their clients."""

    h: Harness
    a: int
    b: int
    admin: httpx.AsyncClient
    director: httpx.AsyncClient
    operator: httpx.AsyncClient
    marketer: httpx.AsyncClient
    ids_b: dict[str, set[int]]  # per list, the ids of city B's rows
    phone_a: str


def parse(response: httpx.Response) -> list[list[str]]:
    """Check the CSV envelope and parse the body with the csv module: the header row first."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="[a-z-]+-\d{8}T\d{6}Z\.csv"', disposition), disposition
    body = response.content
    assert body.startswith(BOM), body[:10]
    text = body[len(BOM) :].decode("utf-8")
    assert not text.startswith("\ufeff")  # one BOM, not two
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows and all(len(row) == len(rows[0]) for row in rows), rows
    return rows


async def csv_items(client: httpx.AsyncClient, name: str, **params: Any) -> list[dict[str, str]]:
    """The CSV rows of a list as {column key: cell}."""
    header, *rows = parse(await client.get(f"{API}/{name}", params={"format": "csv", **params}))
    keys = [key for key, _, _ in COLUMNS[name]]
    assert len(header) == len(keys)
    return [dict(zip(keys, row, strict=True)) for row in rows]


async def json_items(client: httpx.AsyncClient, name: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of the JSON list, page after page."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await client.get(f"{API}/{name}", params={"per_page": 200, "page": page, **params})
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        if len(items) >= body["total"]:
            return items
        page += 1


async def ids(client: httpx.AsyncClient, name: str, **params: Any) -> list[str]:
    return [row["id"] for row in await csv_items(client, name, **params)]


async def json_ids(client: httpx.AsyncClient, name: str, **params: Any) -> list[str]:
    return [str(item["id"]) for item in await json_items(client, name, **params)]


async def _types(admin: httpx.AsyncClient) -> tuple[int, int]:
    sale = await admin.post(f"{API}/transaction-types", json={"name": "Продажа", "kind": "income"})
    rent = await admin.post(f"{API}/transaction-types", json={"name": "Аренда", "kind": "expense"})
    assert sale.status_code == rent.status_code == 201, (sale.text, rent.text)
    return sale.json()["id"], rent.json()["id"]


async def _book(client: httpx.AsyncClient, city: int, type_id: int, amount: str, **extra: Any) -> int:
    body = {"city_id": city, "type_id": type_id, "amount": amount, "occurred_on": "2026-11-20", **extra}
    response = await client.post(f"{API}/transactions", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _campaign(client: httpx.AsyncClient, city: int, name: str, phone: str, **extra: Any) -> int:
    response = await client.post(f"{API}/campaigns", json={"city_id": city, "name": name, "phone": phone, **extra})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
async def world(h: Harness) -> World:
    a, b = (await h.city(TRICKY)).id, (await h.city("Город Б")).id
    admin = await h.as_user(await h.user("admin"))
    director = await h.as_user(await h.user("director", cities=[a]))
    operator = await h.as_user(await h.user("operator", cities=[a]))
    marketer = await h.as_user(await h.user("marketer", cities=[a]))
    ids_b: dict[str, set[int]] = {}

    # Campaigns: an awkward name and a formula in A, one in B, one inactive in A.
    campaign_a = await _campaign(admin, a, TRICKY, "74950000001", channel="avito")
    await _campaign(admin, a, FORMULA, "74950000002", active=False)
    ids_b["campaigns"] = {await _campaign(admin, b, "B", "74950000003")}

    # Requests: two in A (one still new, one not reached), one in B.
    phone_a = "79161112233"
    first = await create(operator, a, client_phone=phone_a, client_name=TRICKY, problem=FORMULA, campaign_id=campaign_a)
    second = await create(operator, a, client_name="-1+2", address="@SUM(A1)")
    await move(operator, second["id"], "not_reached")
    ids_b["requests"] = {(await create(admin, b))["id"]}

    # Transactions: income with awkward texts and an expense in A, income in B.
    sale, rent = await _types(admin)
    await _book(director, a, sale, "1234.5", payment_reason=TRICKY, notes=FORMULA)
    await _book(director, a, rent, "10")
    ids_b["transactions"] = {await _book(admin, b, sale, "7")}

    # Calls and recordings arrive from the provider (webhook, mailbox): written here as the services store them.
    async with h.database.session() as session:
        calls = [
            Call(provider="mango", entry_id="e-a1", caller=phone_a, line="+74950000001", direction="inbound",
                 city_id=a, campaign_id=campaign_a, request_id=first["id"], outcome="attached", started_at=T0),
            Call(provider="mango", entry_id="e-a2", caller=None, line=FORMULA[:100], direction="outbound",
                 city_id=a, outcome="ignored", started_at=T0 + dt.timedelta(minutes=1)),
            Call(provider="mango", entry_id="e-b1", caller="79990000000", line="74950000003", direction="inbound",
                 city_id=b, outcome="created_request", started_at=T0 + dt.timedelta(minutes=2)),
        ]  # fmt: skip
        recordings = [
            CallRecording(caller=phone_a, line="74950000001", started_at=T0, source="mailbox", city_id=a,
                          original_name=TRICKY, content_sha256="a" * 64, link_state="linked",
                          request_id=first["id"]),
            CallRecording(caller="79990000001", line="74950000001", started_at=T0, source="mailbox", city_id=a,
                          original_name=FORMULA, content_sha256="b" * 64, link_state="pending"),
            CallRecording(caller="79990000002", line="74950000003", started_at=T0, source="mailbox", city_id=b,
                          original_name="b.mp3", content_sha256="c" * 64, link_state="pending"),
        ]  # fmt: skip
        session.add_all([*calls, *recordings])
        await session.commit()
        ids_b["calls"] = {calls[2].id}
        ids_b["call-recordings"] = {recordings[2].id}

    # Users: an operator of A with an awkward name; a master of B.
    created = await admin.post(
        f"{API}/users",
        json={"login": "tricky.op", "password": "Unusual-Pass-4821", "full_name": TRICKY, "role": "operator",
              "city_ids": [a]},
    )  # fmt: skip
    assert created.status_code == 201, created.text
    ids_b["users"] = {(await h.user("master", master_city=b)).id}

    # The audit log: a failed sign-in under a formula-like login. The file access log: a denied download whose
    # user agent is a formula.
    refused = await h.client.post(f"{API}/auth/token", data={"username": "=cmd|' /C calc'!A0", "password": "x"})
    assert refused.status_code == 401, refused.text
    denied = await admin.get(f"{API}/files/{uuid.uuid4()}", headers={"User-Agent": '=cmd, "ua"'})
    assert denied.status_code == 404, denied.text
    uploaded = await admin.post(
        f"{API}/requests/{first['id']}/files", files={"file": ("bso.png", png(), "image/png")}, data={"kind": "bso"}
    )
    assert uploaded.status_code == 201, uploaded.text
    return World(h, a, b, admin, director, operator, marketer, ids_b, phone_a)


# Every list, as an admin ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", LISTS)
async def test_csv_holds_every_row_of_the_json_list_in_its_order(world: World, name: str) -> None:
    listed = await json_items(world.admin, name)
    rows = await csv_items(world.admin, name, page=2, per_page=1)  # paging is ignored for CSV
    assert len(listed) >= 2
    assert [row["id"] for row in rows] == [str(item["id"]) for item in listed]
    for item, row in zip(listed, rows, strict=True):  # the timestamps as in the JSON: ISO 8601 UTC with Z
        for key in ("created_at", "at", "started_at"):
            if key in item and key in row:
                assert row[key] == item[key] and row[key].endswith("Z"), (key, row[key], item[key])


@pytest.mark.parametrize("name", LISTS)
async def test_headers_in_russian_by_default_and_english_on_request(world: World, name: str) -> None:
    ru = [ru for _, ru, _ in COLUMNS[name]]
    en = [en for _, _, en in COLUMNS[name]]
    assert any(CYRILLIC.search(h) for h in ru) and not any(CYRILLIC.search(h) for h in en)
    url = f"{API}/{name}"
    default = parse(await world.admin.get(url, params={"format": "csv"}))
    assert default[0] == ru
    assert parse(await world.admin.get(url, params={"format": "csv", "lang": "en"}))[0] == en
    assert parse(await world.admin.get(url, params={"format": "csv"}, headers={"Accept-Language": "en"}))[0] == en
    assert parse(await world.admin.get(url, params={"format": "csv"}, headers={"Accept-Language": "ru"}))[0] == ru
    english = parse(await world.admin.get(url, params={"format": "csv", "lang": "en"}))
    # Only the header changes, and for requests the status label column (the table's label in that language).
    keys = [key for key, _, _ in COLUMNS[name]]
    labelled = keys.index("status_label") if name == "requests" else None
    assert len(english) == len(default)
    for en_row, ru_row in zip(english[1:], default[1:], strict=True):
        if labelled is None:
            assert en_row == ru_row
        else:
            assert en_row[:labelled] + en_row[labelled + 1 :] == ru_row[:labelled] + ru_row[labelled + 1 :]
            assert en_row[labelled] != ru_row[labelled] and not CYRILLIC.search(en_row[labelled])


@pytest.mark.parametrize("name", LISTS)
async def test_an_unknown_format_is_422(h: Harness, name: str) -> None:
    admin = await h.as_user(await h.user("admin"))
    problem(await admin.get(f"{API}/{name}", params={"format": "xlsx"}), 422)
    problem(await admin.get(f"{API}/{name}", params={"format": "csv", "lang": "de"}), 422)


# Values ---------------------------------------------------------------------------------------------------------
AWKWARD = [
    # (list, column key, the cell expected: the stored text round-tripped, or a formula neutralized with ')
    ("requests", "client_name", TRICKY),
    ("requests", "problem", "'" + FORMULA),
    ("requests", "client_name", "'-1+2"),
    ("requests", "address", "'@SUM(A1)"),
    ("requests", "city.name", TRICKY),
    ("transactions", "payment_reason", TRICKY),
    ("transactions", "notes", "'" + FORMULA),
    ("transactions", "amount", "1234.50"),
    ("calls", "line", "'+74950000001"),
    ("calls", "line", "'" + FORMULA[:100]),
    ("calls", "caller", "79161112233"),
    ("call-recordings", "original_name", TRICKY),
    ("call-recordings", "original_name", "'" + FORMULA),
    ("users", "full_name", TRICKY),
    ("campaigns", "name", TRICKY),
    ("campaigns", "name", "'" + FORMULA),
    ("campaigns", "active", "false"),
    ("audit-log", "login", "'=cmd|' /c calc'!a0"),
    ("file-access-log", "user_agent", '\'=cmd, "ua"'),
]


@pytest.mark.parametrize(
    ("name", "key", "expected"), AWKWARD, ids=[f"{n}-{k}-{i}" for i, (n, k, _) in enumerate(AWKWARD)]
)
async def test_awkward_values_round_trip_and_formulas_are_neutralized(
    world: World, name: str, key: str, expected: str
) -> None:
    cells = [row[key] for row in await csv_items(world.admin, name)]
    assert expected in cells, cells


async def test_raw_bytes_are_rfc4180_with_crlf(world: World) -> None:
    response = await world.admin.get(f"{API}/requests", params={"format": "csv"})
    text = response.content[len(BOM) :].decode("utf-8")
    assert '"Alpha, ""Beta""\nGamma"' in text  # quoted, inner quotes doubled, the newline kept inside the quotes
    assert text.endswith("\r\n") and text.count("\r\n") == 1 + 3  # the header and three requests end with CRLF


async def test_status_is_the_code_and_the_label_in_the_header_language(world: World) -> None:
    ru = {row["status"]: row["status_label"] for row in await csv_items(world.admin, "requests")}
    en = {row["status"]: row["status_label"] for row in await csv_items(world.admin, "requests", lang="en")}
    assert ru == {"new": "Новая", "not_reached": "ТНО"}
    assert en["new"] != "Новая" and not CYRILLIC.search(en["new"] + en["not_reached"]), en


# Filters and scope ----------------------------------------------------------------------------------------------
FILTERS = [
    ("requests", {"status": "not_reached"}),
    ("requests", {"queue": "intake", "q": "Alpha"}),
    ("transactions", {"kind": "expense"}),
    ("calls", {"outcome": "ignored"}),
    ("call-recordings", {"link_state": "pending"}),
    ("users", {"role": "operator"}),
    ("campaigns", {"active": "false"}),
    ("audit-log", {"result": "failed"}),
    ("file-access-log", {"action": "denied"}),
]


@pytest.mark.parametrize(("name", "params"), FILTERS, ids=[f"{n}-{'-'.join(p)}" for n, p in FILTERS])
async def test_the_filters_of_the_list_apply(world: World, name: str, params: dict[str, str]) -> None:
    everything = await ids(world.admin, name)
    chosen = await ids(world.admin, name, **params)
    assert chosen == await json_ids(world.admin, name, **params)
    assert chosen and len(chosen) < len(everything), (chosen, everything)


async def test_a_city_filter_keeps_only_that_city(world: World) -> None:
    for name in ("requests", "transactions", "calls", "call-recordings", "campaigns"):
        rows = await csv_items(world.admin, name, city_id=world.b)
        assert {int(r["id"]) for r in rows} == world.ids_b[name], name


@pytest.mark.parametrize("name", ["requests", "transactions", "calls", "call-recordings", "users", "campaigns"])
async def test_a_director_exports_only_their_cities(world: World, name: str) -> None:
    exported = await ids(world.director, name)
    assert exported == await json_ids(world.director, name)
    assert exported and not {int(i) for i in exported} & world.ids_b[name]
    assert len(exported) < len(await ids(world.admin, name))


async def test_a_marketer_gets_no_client_data(world: World) -> None:
    rows = await csv_items(world.marketer, "requests")
    assert len(rows) == 2  # the requests of their city
    for row in rows:
        for hidden in ("client_phone", "client_name", "address", "problem", "master_notes", "call_center_notes"):
            assert row[hidden] == "", (hidden, row)
    body = (await world.marketer.get(f"{API}/requests", params={"format": "csv"})).content.decode("utf-8")
    assert world.phone_a not in body and "Новая" in body
    # The list's own refusals come before any byte of CSV: a marketer's search by phone is a 403.
    problem(await world.marketer.get(f"{API}/requests", params={"format": "csv", "q": world.phone_a}), 403)


@pytest.mark.parametrize(
    ("role", "name", "status"),
    [
        ("operator", "transactions", 403),
        ("marketer", "calls", 403),
        ("marketer", "call-recordings", 403),
        ("director", "audit-log", 403),
        ("director", "file-access-log", 403),
        ("operator", "users", 403),
    ],
)
async def test_roles_that_may_not_read_the_list_may_not_export_it(
    world: World, role: str, name: str, status: int
) -> None:
    client: httpx.AsyncClient = getattr(world, role)
    problem(await client.get(f"{API}/{name}", params={"format": "csv"}), status)
    problem(await world.h.client.get(f"{API}/{name}", params={"format": "csv"}), 401)


# Size -----------------------------------------------------------------------------------------------------------
MANY = 250  # more than the largest page (200)


def _many(name: str, city: int, request_type: int, transaction_type: int) -> tuple[Any, list[dict[str, Any]]]:
    """``MANY`` rows of a list's table, as its services would have stored them, for one bulk insert."""
    stamps = {"created_at": T0, "updated_at": T0}
    rows: dict[str, tuple[Any, list[dict[str, Any]]]] = {
        "requests": (Request, [
            {"status": "new", "source": "api", "city_id": city, "request_type_id": request_type, "version": 1,
             "client_phone": f"7900{i:07d}", "status_changed_at": T0, **stamps} for i in range(MANY)]),
        "transactions": (Transaction, [
            {"city_id": city, "type_id": transaction_type, "amount": Decimal("1.50"), "occurred_on": T0.date(),
             "version": 1, **stamps} for _ in range(MANY)]),
        "calls": (Call, [
            {"provider": "mango", "entry_id": f"bulk-{i}", "direction": "inbound", "city_id": city,
             "outcome": "unmatched_line", "started_at": T0} for i in range(MANY)]),
        "call-recordings": (CallRecording, [
            {"started_at": T0, "source": "mailbox", "city_id": city, "original_name": f"r{i}.mp3",
             "content_sha256": f"{i:064d}", "link_state": "pending", **stamps} for i in range(MANY)]),
        "users": (User, [
            {"login": f"bulk.{i}", "password_hash": "-", "full_name": f"Bulk {i}", "role": "operator", **stamps}
            for i in range(MANY)]),
        "campaigns": (Campaign, [
            {"city_id": city, "name": f"c{i}", "phone": f"7800{i:07d}", **stamps} for i in range(MANY)]),
        "audit-log": (AuditLog, [{"action": "login", "at": T0} for _ in range(MANY)]),
        "file-access-log": (FileAccess, [{"action": "denied", "result": "404", "at": T0} for _ in range(MANY)]),
    }  # fmt: skip
    return rows[name]


@pytest.mark.parametrize("name", LISTS)
async def test_more_rows_than_the_largest_page_are_all_exported(h: Harness, name: str) -> None:
    city = (await h.city()).id
    admin = await h.as_user(await h.user("admin"))
    async with h.database.session() as session:
        request_type = await session.scalar(select(RequestType.id).where(RequestType.code == "first_time"))
        transaction_type = await session.scalar(select(TransactionType.id).where(TransactionType.kind == "income"))
        model, rows = _many(name, city, request_type or 0, transaction_type or 0)
        await session.execute(insert(model), rows)
        await session.commit()
    exported = await ids(admin, name, per_page=200)
    assert exported == await json_ids(admin, name)
    assert len(exported) >= MANY and len(set(exported)) == len(exported)


# The rules themselves -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+79161234567", "'+79161234567"),  # a phone typed with + is text, not a number
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5.00", "-5.00"),  # money is plainly a number
        ("-5", "-5"),
        ("-", "'-"),
        ("-inf", "'-inf"),
        ("79161234567", "79161234567"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (-3, "-3"),
        ([1, 2], "1, 2"),
        ({"b": 1, "a": "=x"}, '{"a": "=x", "b": 1}'),
        (dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=3))), "2026-05-01T09:00:00Z"),
    ],
)
def test_cell(value: Any, expected: str) -> None:
    assert cell(value) == expected


@pytest.mark.parametrize(
    ("lang", "header", "expected"),
    [
        (None, None, "ru"),
        (None, "de-DE,de;q=0.9", "ru"),
        (None, "en", "en"),
        (None, "en-US,en;q=0.9,ru;q=0.8", "en"),
        (None, "ru-RU,ru;q=0.9,en;q=0.8", "ru"),
        (None, "ru;q=0.5,en;q=0.6", "en"),
        (None, "en;q=bad,ru", "ru"),
        (None, "en;q=0", "ru"),
        ("en", "ru", "en"),
        ("ru", "en", "ru"),
    ],
)
def test_language(lang: str | None, header: str | None, expected: str) -> None:
    assert language(lang, header) == expected
