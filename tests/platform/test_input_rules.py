"""Input rules applied in one place each, checked against every route of the OpenAPI document or the route table:
NUL characters anywhere in the URL or the headers, HEAD on GET routes, strict integers, decimal ids."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.dependencies.utils import _get_flat_body_params
from fastapi.routing import APIRoute

from leadflow.accounts.models import Role
from tests.conftest import Harness, error_fields, problem

PARAM = re.compile(r"\{([^}]+)\}")


def operations(h: Harness) -> list[tuple[str, str, dict[str, Any]]]:
    document = h.app.openapi()
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def fill(path: str, nul_in: str | None = None) -> str:
    return PARAM.sub(lambda m: "%00" if m.group(1) == nul_in else "1", path)


# --- 1. NUL characters -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/files/%00"),
        ("DELETE", "/api/v1/files/%00"),
        ("GET", "/api/v1/campaigns?channel=%00"),
        ("GET", "/api/v1/audit-log?login=%00"),
        ("GET", "/api/v1/audit-log?action=%00"),
        ("GET", "/api/v1/audit-log?result=%00"),
        ("GET", "/api/v1/file-access-log?file_id=%00"),
        ("GET", "/api/v1/cities?x=a%00b"),
    ],
)
async def test_nul_in_the_url_is_refused_before_routing(h: Harness, method: str, url: str) -> None:
    admin = await h.as_user(await h.user(Role.admin))
    for client in (h.client, admin):
        body = problem(await client.request(method, url), 422, "validation-error")
        assert "instance" not in body  # the refused path is neither echoed nor logged
    # Refused before the route: no file-access-log line was written with it.
    log = await admin.get("/api/v1/file-access-log")
    assert log.json()["total"] == 0


async def test_nul_in_a_header_is_refused(h: Harness) -> None:
    problem(await h.client.get("/health/live", headers={"X-Anything": "a\x00b"}), 422, "validation-error")
    problem(await h.client.get("/api/v1/cities", headers={"If-Match": '"1\x00"'}), 422, "validation-error")


async def test_nul_in_every_path_query_and_header_parameter(h: Harness) -> None:
    """Every parameter of every operation in the OpenAPI document, anonymous and signed in: 422, never 5xx."""
    admin = await h.as_user(await h.user(Role.admin))
    checked = 0
    for method, path, operation in operations(h):
        for param in operation.get("parameters", []):
            name, where = param["name"], param["in"]
            if where == "path":
                url, params, headers = fill(path, name), {}, {}
            elif where == "query":
                url, params, headers = fill(path), {name: "a\x00"}, {}
            elif where == "header":
                url, params, headers = fill(path), {}, {name: "a\x00"}
            else:
                continue
            for client in (h.client, admin):
                response = await client.request(method, url, params=params, headers=headers)
                assert response.status_code < 500, (method, path, name, response.text)
                problem(response, 422, "validation-error")
                checked += 1
    assert checked > 50


# --- 2. HEAD -----------------------------------------------------------------------------------------------------


ENDLESS = {"/api/v1/stream"}  # an event stream's GET never ends; its HEAD is checked on its own below


def parameterless_get_routes(h: Harness) -> list[str]:
    return sorted(
        route.path
        for route in h.app.routes
        if "GET" in (getattr(route, "methods", None) or ()) and "{" not in route.path and route.path not in ENDLESS
    )


async def test_head_answers_every_parameterless_get_route(h: Harness) -> None:
    admin = await h.as_user(await h.user(Role.admin))
    paths = parameterless_get_routes(h)
    assert len(paths) > 20
    for path in paths:
        for client in (h.client, admin):
            get = await client.get(path)
            head = await client.head(path)
            assert head.status_code == get.status_code, (path, head.status_code, get.status_code)
            assert head.content == b"", path
            assert head.headers.get("content-type") == get.headers.get("content-type"), path


async def test_head_of_the_event_stream_answers_at_once(h: Harness) -> None:
    admin = await h.as_user(await h.user(Role.admin))
    head = await admin.head("/api/v1/stream")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"].startswith("text/event-stream")
    assert (await h.client.head("/api/v1/stream")).status_code == 401


async def test_head_has_the_get_headers(h: Harness) -> None:
    head = await h.client.head("/health/live")
    get = await h.client.get("/health/live")
    assert head.status_code == 200
    assert head.headers["content-length"] == get.headers["content-length"]
    assert head.content == b""


async def test_head_where_no_get_is_still_405(h: Harness) -> None:
    response = await h.client.head("/api/v1/auth/token")
    assert response.status_code == 405
    assert "HEAD" not in response.headers["allow"]
    assert response.content == b""


# --- 3. strict integers, decimal ids -----------------------------------------------------------------------------


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def integer_fields(
    document: dict[str, Any], schema: dict[str, Any], prefix: tuple[str, ...] = ()
) -> list[tuple[str, ...]]:
    """The location of every integer in a body schema, nested objects and arrays (item "0") included."""
    schema = _resolve(document, schema)
    found: list[tuple[str, ...]] = []
    for name, prop in schema.get("properties", {}).items():
        for option in [_resolve(document, o) for o in prop.get("anyOf", [prop])]:
            if option.get("type") == "integer":
                found.append((*prefix, name))
            elif option.get("type") == "array" and _resolve(document, option.get("items", {})).get("type") == "integer":
                found.append((*prefix, name, "0"))
            elif "properties" in option:
                found += integer_fields(document, option, (*prefix, name))
    return found


def _nest(loc: tuple[str, ...], value: Any) -> dict[str, Any]:
    body: Any = value
    for key in reversed(loc):
        body = {key: body}
    return body  # type: ignore[no-any-return]


async def _body_errors(route: APIRoute, body: dict[str, Any]) -> list[str]:
    from fastapi.dependencies.utils import request_body_to_args

    _, errors = await request_body_to_args(
        body_fields=_get_flat_body_params(route.dependant),
        received_body=body,
        embed_body_fields=route._embed_body_fields,
    )
    return [".".join(str(p) for p in e["loc"][1:]) for e in errors]


async def test_every_body_integer_refuses_booleans_and_fractions(h: Harness) -> None:
    """Each integer field of each JSON body in the OpenAPI document, validated exactly as a request body is."""
    document = h.app.openapi()
    routes = {(m, r.path): r for r in h.app.routes if isinstance(r, APIRoute) for m in r.methods}
    checked = 0
    for method, path, operation in operations(h):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        route = routes[(method, path)]
        for loc in integer_fields(document, content["application/json"]["schema"]):
            field = ".".join(loc)
            leaf = loc[-2] if loc[-1] == "0" else loc[-1]
            samples = [True, False]
            if leaf == "version" or leaf == "id" or leaf.endswith(("_id", "_ids")):
                samples += [1.5, "1"]
            for sample in samples:
                body = _nest(loc[:-1], [sample]) if loc[-1] == "0" else _nest(loc, sample)
                errors = await _body_errors(route, body)
                assert field in errors, (method, path, field, sample, errors)
                checked += 1
    assert checked > 40


def integer_parameters(h: Harness) -> list[tuple[str, str, str, str]]:
    document = h.app.openapi()
    found = []
    for method, path, operation in operations(h):
        for param in operation.get("parameters", []):
            schema = param.get("schema", {})
            options = schema.get("anyOf", [schema])
            if any(o.get("type") == "integer" for o in options) and param["in"] in {"path", "query"}:
                found.append((method, path, param["name"], param["in"]))
    assert document and found
    return found


@pytest.mark.parametrize("text", ["1.0", "+1", " 1", "1 ", "1_0", "01", "true", "١", "0x1", "1e0"])
async def test_integer_path_and_query_parameters_are_decimal_text(h: Harness, text: str) -> None:
    admin = await h.as_user(await h.user(Role.admin))
    for method, path, name, where in integer_parameters(h):
        if where == "path":
            url = PARAM.sub(lambda m, n=name: text.replace(" ", "%20") if m.group(1) == n else "1", path)
            response = await admin.request(method, url)
        else:
            response = await admin.request(method, fill(path), params={name: text})
        assert response.status_code == 422, (method, path, name, text, response.status_code, response.text)
        assert name in error_fields(response), (method, path, name, response.text)


async def test_plain_decimal_ids_still_parse(h: Harness) -> None:
    admin = await h.as_user(await h.user(Role.admin))
    city = await h.city()
    assert (await admin.get(f"/api/v1/cities/{city.id}")).status_code == 200
    assert (await admin.get("/api/v1/users", params={"city_id": str(city.id), "page": "1"})).status_code == 200
    problem(await admin.get("/api/v1/cities/0"), 404)
    problem(await admin.get("/api/v1/cities/-1"), 404)


async def _request_setup(h: Harness) -> tuple[Any, Any]:
    admin = await h.as_user(await h.user(Role.admin))
    city = await h.city()
    return admin, city


async def test_boolean_city_id_and_version(h: Harness) -> None:
    admin, city = await _request_setup(h)
    response = await admin.post("/api/v1/requests", json={"city_id": True, "client_phone": "79161234567"})
    assert "city_id" in error_fields(problem(response, 422))
    created = await admin.post("/api/v1/requests", json={"city_id": city.id, "client_phone": "79161234567"})
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    stale = await admin.patch(f"/api/v1/requests/{rid}", json={"problem": "x", "version": True})
    assert "version" in error_fields(problem(stale, 422))


def money_fields(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Top-level fields documented as a number or a string: the money amounts."""
    schema = _resolve(document, schema)
    found = []
    for name, prop in schema.get("properties", {}).items():
        kinds = {_resolve(document, o).get("type") for o in prop.get("anyOf", [prop])}
        if {"number", "string"} <= kinds:
            found.append(name)
    return found


@pytest.mark.parametrize("amount", ["١٠", "１０", "1٠.00"])
async def test_every_body_amount_is_ascii_digits(h: Harness, amount: str) -> None:
    document = h.app.openapi()
    routes = {(m, r.path): r for r in h.app.routes if isinstance(r, APIRoute) for m in r.methods}
    checked = 0
    for method, path, operation in operations(h):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" not in content:
            continue
        for name in money_fields(document, content["application/json"]["schema"]):
            errors = await _body_errors(routes[(method, path)], {name: amount})
            assert name in errors, (method, path, name, errors)
            assert name not in await _body_errors(routes[(method, path)], {name: "0.50"})
            checked += 1
    assert checked >= 4


@pytest.mark.parametrize("phone", ["0000000000", "00000000000", "+000 000 000 000", "000000000000000"])
async def test_phone_of_zeros_is_refused(h: Harness, phone: str) -> None:
    admin, city = await _request_setup(h)
    response = await admin.post("/api/v1/requests", json={"city_id": city.id, "client_phone": phone})
    assert "client_phone" in error_fields(problem(response, 422))


@pytest.mark.parametrize(
    "visit_at", [1767225600, 1767225600.5, "1767225600", "2100-12-31T23:59:59-23:59", "2000-01-01T00:00:00+01:00"]
)
async def test_visit_at_needs_an_offset_text_in_range_in_utc(h: Harness, visit_at: Any) -> None:
    admin, city = await _request_setup(h)
    body = {"city_id": city.id, "client_phone": "79161234567", "visit_at": visit_at}
    assert "visit_at" in error_fields(problem(await admin.post("/api/v1/requests", json=body), 422))


async def test_visit_at_at_the_bounds(h: Harness) -> None:
    admin, city = await _request_setup(h)
    for n, visit_at in enumerate(("2100-12-31T23:59:59Z", "2000-01-01T00:00:00Z", "2100-12-31T23:59:59+05:00")):
        body = {"city_id": city.id, "client_phone": f"7916123456{n}", "visit_at": visit_at}
        response = await admin.post("/api/v1/requests", json=body)
        assert response.status_code == 201, response.text
