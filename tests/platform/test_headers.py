"""Request ids, security headers, no-store and CORS on every response (SPEC §4, §11)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from leadflow.accounts.models import Role
from tests.conftest import Harness

API_CSP = "default-src 'none'; frame-ancestors 'none'"
ORIGIN = "https://app.example.com"


def assert_security_headers(response: httpx.Response, *, csp: str | None = API_CSP) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"]
    assert headers["permissions-policy"]
    assert headers["cache-control"] == "no-store"
    if csp is not None:
        assert headers["content-security-policy"] == csp
    assert "strict-transport-security" not in headers  # plain HTTP here


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def sample_responses(h: Harness) -> list[tuple[int, httpx.Response]]:
    client = await h.as_user(await h.user(Role.admin))
    return [
        (200, await client.get("/api/v1/auth/me")),
        (200, await h.client.get("/health/live")),
        (401, await h.client.get("/api/v1/auth/me")),
        (404, await h.client.get("/api/v1/missing")),
        (422, await client.post("/api/v1/cities", json={"name": 5})),
        (201, await client.post("/api/v1/cities", json={"name": "Omsk"})),
    ]


async def test_every_response_carries_request_id_and_security_headers(h: Harness) -> None:
    for status, response in await sample_responses(h):
        assert response.status_code == status, response.text
        assert is_uuid(response.headers["x-request-id"]), response.headers
        assert_security_headers(response)


async def test_request_ids_differ_between_requests(h: Harness) -> None:
    ids = {(await h.client.get("/health/live")).headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("value", ["abc", "A-b_c.9", "x" * 128, "0", "6f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f"])
async def test_valid_client_request_id_is_echoed(h: Harness, value: str) -> None:
    client = await h.as_user(await h.user(Role.admin))
    for response in (
        await client.get("/api/v1/auth/me", headers={"X-Request-ID": value}),
        await h.client.get("/api/v1/auth/me", headers={"X-Request-ID": value}),
        await h.client.get("/api/v1/missing", headers={"X-Request-ID": value}),
        await client.post("/api/v1/cities", json={"name": 5}, headers={"X-Request-ID": value}),
    ):
        assert response.headers["x-request-id"] == value


@pytest.mark.parametrize(
    "value",
    [
        "x" * 129,
        "has space",
        "semi;colon",
        "slash/here",
        "ключ",
        "",
    ],
    ids=["too-long", "space", "semicolon", "slash", "non-ascii", "empty"],
)
async def test_invalid_client_request_id_is_replaced(h: Harness, value: str) -> None:
    response = await h.client.get("/api/v1/missing", headers={"X-Request-ID": value.encode()})
    assert response.status_code == 404
    echoed = response.headers["x-request-id"]
    assert echoed != value
    assert is_uuid(echoed)


@pytest.mark.parametrize("value", ["abc\n", "abc\r\nSet-Cookie: x=1", "\nabc", "a\tb"])
async def test_request_id_with_control_characters_is_replaced(h: Harness, value: str) -> None:
    """Sent straight through ASGI (no HTTP parser in between), so the middleware alone must refuse them."""
    scope_headers = [(b"x-request-id", value.encode())]
    messages: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/health/live",
        "raw_path": b"/health/live",
        "root_path": "",
        "query_string": b"",
        "headers": scope_headers,
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }
    await h.app(scope, receive, send)
    start = next(m for m in messages if m["type"] == "http.response.start")
    headers = dict(start["headers"])
    echoed = headers[b"x-request-id"].decode()
    assert echoed != value
    assert is_uuid(echoed)


async def test_docs_page_works_with_its_own_csp(h: Harness) -> None:
    response = await h.client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "/api/v1/openapi.json" in response.text
    csp = response.headers["content-security-policy"]
    assert csp != API_CSP
    assert "frame-ancestors 'none'" in csp
    # Swagger UI loads its script and stylesheet from the CDN named in the page.
    assert "script-src" in csp
    assert "style-src" in csp
    assert "https://cdn.jsdelivr.net" in csp
    assert "https://cdn.jsdelivr.net" in response.text
    assert_security_headers(response, csp=None)
    assert is_uuid(response.headers["x-request-id"])


async def test_openapi_schema_is_served_under_the_api_with_api_csp(h: Harness) -> None:
    response = await h.client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/cities" in response.json()["paths"]
    assert_security_headers(response)


async def test_docs_can_be_turned_off(harness_factory: Any) -> None:
    h: Harness = await harness_factory(docs_enabled=False)
    response = await h.client.get("/docs")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_hsts_only_over_https(h: Harness) -> None:
    transport = httpx.ASGITransport(app=h.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as secure:
        response = await secure.get("/health/live")
    assert response.status_code == 200
    assert "max-age=" in response.headers["strict-transport-security"]
    assert "strict-transport-security" not in (await h.client.get("/health/live")).headers


# CORS --------------------------------------------------------------------------------------------------------------


def preflight_headers(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }


async def test_cors_preflight_from_configured_origin_is_allowed_with_credentials(harness_factory: Any) -> None:
    h: Harness = await harness_factory(cors_origins=ORIGIN)
    response = await h.client.options("/api/v1/cities", headers=preflight_headers(ORIGIN))
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed
    assert "idempotency-key" in allowed
    assert "origin" in response.headers.get("vary", "").lower()
    assert response.headers["x-request-id"]


async def test_cors_actual_request_from_configured_origin(harness_factory: Any) -> None:
    h: Harness = await harness_factory(cors_origins=ORIGIN)
    client = await h.as_user(await h.user(Role.admin))
    response = await client.get("/api/v1/auth/me", headers={"Origin": ORIGIN, "X-Request-ID": "cors-1"})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    exposed = response.headers["access-control-expose-headers"].lower()
    assert "x-request-id" in exposed
    assert "retry-after" in exposed
    assert response.headers["x-request-id"] == "cors-1"
    assert_security_headers(response)


async def test_cors_other_origin_gets_no_allow_origin(harness_factory: Any) -> None:
    h: Harness = await harness_factory(cors_origins=ORIGIN)
    evil = "https://evil.example.com"
    preflight = await h.client.options("/api/v1/cities", headers=preflight_headers(evil))
    assert preflight.status_code >= 400
    assert "access-control-allow-origin" not in preflight.headers
    # (Starlette still sends Access-Control-Allow-Credentials on a refused preflight; without an allowed origin
    # a browser ignores it.)

    client = await h.as_user(await h.user(Role.admin))
    response = await client.get("/api/v1/auth/me", headers={"Origin": evil})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers

    # A look-alike of the configured origin is not it.
    for lookalike in ("https://app.example.com.evil.com", "http://app.example.com", "null"):
        response = await h.client.get("/health/live", headers={"Origin": lookalike})
        assert "access-control-allow-origin" not in response.headers, lookalike


async def test_no_cors_without_configured_origins(h: Harness) -> None:
    preflight = await h.client.options("/api/v1/cities", headers=preflight_headers(ORIGIN))
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-credentials" not in preflight.headers
    response = await h.client.get("/health/live", headers={"Origin": ORIGIN})
    assert "access-control-allow-origin" not in response.headers
