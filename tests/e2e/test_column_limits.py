"""Every string and number a write body (or the Mango webhook) accepts fits the column it is stored in: the limits
are read from the SQLAlchemy models and the schemas, and values at the limit and one past it are sent. At the
limit is a 2xx, one past is a 422, never a 500 (PostgreSQL enforces VARCHAR(n) and INTEGER; CI runs this there)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import annotated_types
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Integer, Numeric, String, Table

from leadflow.app import create_app
from leadflow.models import metadata
from leadflow.platform.schemas import MAX_ID
from tests.conftest import Harness, problem
from tests.telephony.mango import API_KEY, KNOWN_LINE, post_payload

INT_MAX = 2**31 - 1
# Which table each write route stores its body in (a nested model names its own table).
ROUTE_TABLES: dict[str, str] = {
    "/api/v1/users": "users",
    "/api/v1/users/{user_id}": "users",
    "/api/v1/masters/{master_id}": "masters",
    "/api/v1/cities": "cities",
    "/api/v1/cities/{row_id}": "cities",
    "/api/v1/request-types": "request_types",
    "/api/v1/request-types/{row_id}": "request_types",
    "/api/v1/directions": "directions",
    "/api/v1/directions/{row_id}": "directions",
    "/api/v1/transaction-types": "transaction_types",
    "/api/v1/transaction-types/{row_id}": "transaction_types",
    "/api/v1/campaigns": "advertising_campaigns",
    "/api/v1/campaigns/{campaign_id}": "advertising_campaigns",
    "/api/v1/requests": "requests",
    "/api/v1/requests/{request_id}": "requests",
    "/api/v1/requests/{request_id}/transitions": "requests",
    "/api/v1/transactions": "transactions",
    "/api/v1/transactions/{transaction_id}": "transactions",
    "/api/v1/call-recordings/{recording_id}/link": "call_recordings",
}
NESTED_TABLES = {"master": "masters"}
# Bodies that are not stored in a table's columns (credentials, codes, the JSON settings document).
NOT_STORED = {
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/password",
    "/api/v1/auth/2fa/confirm",
    "/api/v1/auth/2fa/disable",
    "/api/v1/users/{user_id}/password",
    "/api/v1/settings",
}
# Typed as people type them and stored normalized (E.164 digits, at most 15): the typed length is not the stored one.
NORMALIZED = {"phone", "client_phone"}


def _routes() -> list[tuple[str, type[BaseModel]]]:
    app = create_app_for_schema()
    found = []
    for route in app.routes:
        # The API's write bodies (the console's forms parse the same input models: console.forms.parse).
        if isinstance(route, APIRoute) and route.include_in_schema and route.body_field is not None:
            model = route.body_field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel) and route.path not in NOT_STORED:
                found.append((route.path, model))
    return found


def create_app_for_schema() -> Any:
    from leadflow.platform.settings import Settings

    settings = Settings(_env_file=None, database_url="sqlite+aiosqlite:///:memory:", secret_key="k" * 48)  # type: ignore[call-arg]
    return create_app(settings)


def _all_meta(field: Any) -> list[Any]:
    """The constraints of a field, also when it is ``X | None`` of an annotated ``X``."""
    found = list(field.metadata)
    for arg in getattr(field.annotation, "__args__", ()):
        found += list(getattr(arg, "__metadata__", ()))
        found += [m for f in getattr(arg, "__metadata__", ()) for m in getattr(f, "metadata", ())]
    return found


def _meta(field: Any, kind: type) -> Any:
    return next((m for m in _all_meta(field) if isinstance(m, kind)), None)


def _closed(field: Any) -> bool:
    """A Literal or an enum: only the listed values, all short."""
    import enum
    import typing

    args = (field.annotation, *getattr(field.annotation, "__args__", ()))
    return any(
        typing.get_origin(a) is typing.Literal or (isinstance(a, type) and issubclass(a, enum.Enum)) for a in args
    )


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _violations(model: type[BaseModel], table: Table, where: str) -> list[str]:
    out = []
    for name, field in model.model_fields.items():
        nested = _inner_model(field.annotation)
        if nested is not None and name in NESTED_TABLES:
            out += _violations(nested, metadata.tables[NESTED_TABLES[name]], f"{where}.{name}")
            continue
        if name not in table.c or _closed(field):
            continue
        column_type = table.c[name].type
        column_type = getattr(column_type, "impl", column_type)
        max_len = _meta(field, annotated_types.MaxLen)
        bounded = isinstance(column_type, String) and column_type.length and name not in NORMALIZED
        if bounded and (max_len is None or max_len.max_length > column_type.length):
            out.append(f"{where}.{name}: max_length {max_len and max_len.max_length} > {column_type.length}")
        if isinstance(column_type, Integer) and field.annotation is not bool:
            le = _meta(field, annotated_types.Le) or _meta(field, annotated_types.Lt)
            bound = getattr(le, "le", None) or getattr(le, "lt", None)
            if name != "version" and (bound is None or bound > INT_MAX):
                out.append(f"{where}.{name}: integer without a bound within INTEGER")
        if isinstance(column_type, Numeric) and column_type.precision:
            digits = _all_meta(field)
            max_digits = next((getattr(m, "max_digits", None) for m in digits if getattr(m, "max_digits", None)), None)
            places = next(
                (getattr(m, "decimal_places", None) for m in digits if getattr(m, "decimal_places", None)), None
            )
            if name == "company_share":
                continue  # check_share keeps it within 0..1 with four places
            if max_digits is None or max_digits > column_type.precision or (places or 99) > (column_type.scale or 0):
                out.append(f"{where}.{name}: decimal wider than NUMERIC({column_type.precision},{column_type.scale})")
    return out


def test_every_write_body_is_mapped_to_its_table() -> None:
    assert {path for path, _ in _routes()} <= set(ROUTE_TABLES), "map the new write route to its table or NOT_STORED"


def test_no_schema_allows_more_than_its_column() -> None:
    problems = []
    for path, model in _routes():
        problems += _violations(model, metadata.tables[ROUTE_TABLES[path]], f"{path} {model.__name__}")
    assert problems == []


# The values themselves, sent -----------------------------------------------------------------------------------
def _text(length: int) -> str:
    return (uuid.uuid4().hex * (length // 32 + 1))[:length]


async def _send(client: Any, method: str, url: str, body: dict[str, Any]) -> Any:
    answer = await client.request(method, url, json=body)
    assert answer.status_code < 500, f"{method} {url} {answer.status_code} {answer.text}"
    return answer


CATALOG = [
    ("/api/v1/cities", "cities", {}),
    ("/api/v1/directions", "directions", {}),
    ("/api/v1/transaction-types", "transaction_types", {"kind": "income"}),
    ("/api/v1/request-types", "request_types", {"code": "x"}),
]


@pytest.mark.parametrize(("url", "table", "extra"), CATALOG)
async def test_catalog_names_at_and_past_the_column(h: Harness, url: str, table: str, extra: dict[str, Any]) -> None:
    admin = await h.as_user(await h.user("admin"))
    limit = metadata.tables[table].c.name.type.length
    for code, method, target in (("a", "POST", url), ("b", "PATCH", None)):
        body = {**extra, "code": f"c{code}{uuid.uuid4().hex[:8]}"} if "code" in extra else dict(extra)
        if target is None:
            made = await _send(admin, "POST", url, {**body, "name": _text(10)})
            target, body = f"{url}/{made.json()['id']}", {}
        assert (await _send(admin, method, target, {**body, "name": _text(limit)})).status_code in (200, 201)
        problem(await _send(admin, method, target, {**body, "name": _text(limit + 1)}), 422)


async def test_request_fields_at_and_past_their_columns(h: Harness) -> None:
    admin = await h.as_user(await h.user("admin"))
    city = await h.city()
    columns = metadata.tables["requests"].c
    for name in ("client_name", "address"):
        limit = columns[name].type.length
        body = {"city_id": city.id, "client_phone": "79035550101"}
        made = await _send(admin, "POST", "/api/v1/requests", {**body, name: _text(limit)})
        assert made.status_code == 201, made.text
        problem(await _send(admin, "POST", "/api/v1/requests", {**body, name: _text(limit + 1)}), 422)
        row = made.json()
        url = f"/api/v1/requests/{row['id']}"
        changed = await _send(admin, "PATCH", url, {name: _text(limit), "version": row["version"]})
        assert changed.status_code == 200, changed.text
        problem(await _send(admin, "PATCH", url, {name: _text(limit + 1), "version": changed.json()["version"]}), 422)
    for name in ("city_id", "campaign_id", "direction_id", "request_type_id"):
        at = {"city_id": city.id, "client_phone": "79035550101", name: MAX_ID}
        refused = problem(await _send(admin, "POST", "/api/v1/requests", at), 422)  # no such row: the reference
        assert [e["field"] for e in refused["errors"]] == [name]
        past = {"city_id": city.id, "client_phone": "79035550101", name: MAX_ID + 1}
        assert name in [
            e["field"] for e in problem(await _send(admin, "POST", "/api/v1/requests", past), 422)["errors"]
        ]


async def test_money_and_texts_of_a_transaction_at_and_past_their_columns(h: Harness) -> None:
    admin = await h.as_user(await h.user("admin"))
    city = await h.city()
    kind = await _send(admin, "POST", "/api/v1/transaction-types", {"name": "Limits", "kind": "income"})
    base = {"city_id": city.id, "type_id": kind.json()["id"], "occurred_on": "2024-03-10", "amount": "1.00"}
    amount = metadata.tables["transactions"].c.amount.type.impl
    largest = Decimal(10) ** (amount.precision - amount.scale) - Decimal(1).scaleb(-amount.scale)
    ok = await _send(admin, "POST", "/api/v1/transactions", {**base, "amount": str(largest)})
    assert ok.status_code == 201, ok.text
    problem(await _send(admin, "POST", "/api/v1/transactions", {**base, "amount": str(largest + Decimal("0.01"))}), 422)
    limit = metadata.tables["transactions"].c.payment_reason.type.length
    assert (
        await _send(admin, "POST", "/api/v1/transactions", {**base, "payment_reason": _text(limit)})
    ).status_code == 201
    problem(await _send(admin, "POST", "/api/v1/transactions", {**base, "payment_reason": _text(limit + 1)}), 422)


async def test_campaign_fields_at_and_past_their_columns(h: Harness) -> None:
    admin = await h.as_user(await h.user("admin"))
    city = await h.city()
    columns = metadata.tables["advertising_campaigns"].c
    limit = columns["name"].type.length
    made = await _send(
        admin, "POST", "/api/v1/campaigns", {"city_id": city.id, "name": _text(limit), "phone": "79580000001"}
    )
    assert made.status_code == 201, made.text
    problem(
        await _send(
            admin, "POST", "/api/v1/campaigns", {"city_id": city.id, "name": _text(limit + 1), "phone": "79580000002"}
        ),
        422,
    )
    limit = columns["channel"].type.length
    url = f"/api/v1/campaigns/{made.json()['id']}"
    assert (await _send(admin, "PATCH", url, {"channel": _text(limit)})).status_code == 200
    problem(await _send(admin, "PATCH", url, {"channel": _text(limit + 1)}), 422)


# The Mango webhook ---------------------------------------------------------------------------------------------
def _narrowest(column: str, tables: tuple[str, ...]) -> int:
    return min(metadata.tables[t].c[column].type.length for t in tables)


async def test_mango_fields_at_and_past_their_columns(harness_factory: Any) -> None:
    tel = await harness_factory(mango_api_key=API_KEY, mango_api_salt="testsalt0mango0fixture0000000001")
    admin = await tel.as_user(await tel.user("admin"))
    city = await tel.city()
    assert (
        await admin.post("/api/v1/campaigns", json={"city_id": city.id, "name": "A", "phone": KNOWN_LINE})
    ).status_code == 201

    def call(entry: str, line: str = KNOWN_LINE, caller: str = "79035550202") -> dict[str, Any]:
        return {"entry_id": entry, "timestamp": 1752566571, "from": {"number": caller}, "to": {"line_number": line}}

    # entry_id is stored in calls and, when the call makes a lead, in requests: the narrower column rules.
    entry_limit = _narrowest("entry_id", ("calls", "requests"))
    assert (await post_payload(tel.client, "call", call("e" * entry_limit))).json()["outcome"] == "created_request"
    problem(await post_payload(tel.client, "call", call("f" * (entry_limit + 1))), 422)
    line_limit = _narrowest("line", ("calls",))
    line = "sip:" + "l" * (line_limit - 4)
    assert (await post_payload(tel.client, "call", call("line-a", line=line))).status_code == 200
    problem(await post_payload(tel.client, "call", call("line-b", line=line + "l")), 422)
    talk = 946684800

    def summary(entry: str, seconds: int) -> dict[str, Any]:
        return {
            "entry_id": entry,
            "line_number": KNOWN_LINE,
            "from": {"number": "79035550202"},
            "create_time": talk,
            "talk_time": talk,
            "end_time": talk + seconds,
            "entry_result": 1,
        }

    assert (await post_payload(tel.client, "summary", summary("dur-a", INT_MAX))).status_code == 200
    problem(await post_payload(tel.client, "summary", summary("dur-b", INT_MAX + 1)), 422)
    for payload in (call("nul\x00"), call("nul-line", line="sip:\x00")):
        problem(await post_payload(tel.client, "call", payload), 422)
