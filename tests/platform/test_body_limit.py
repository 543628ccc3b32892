"""The request size limit counts while streaming, chunked bodies included (SPEC §11)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from leadflow.accounts.models import Role
from tests.conftest import Harness, problem

LIMIT = 2048


async def limited(harness_factory: Any) -> tuple[Harness, httpx.AsyncClient]:
    h: Harness = await harness_factory(max_request_bytes=LIMIT)
    admin = await h.as_user(await h.user(Role.admin))
    return h, admin


def city_body(size: int) -> bytes:
    """A JSON city body of exactly ``size`` bytes."""
    skeleton = json.dumps({"name": ""}).encode()
    return json.dumps({"name": "n" * (size - len(skeleton))}).encode()


async def chunks(body: bytes, size: int = 512) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def city_count(client: httpx.AsyncClient) -> int:
    response = await client.get("/api/v1/cities")
    assert response.status_code == 200
    return int(response.json()["total"])


async def test_declared_body_over_the_limit_is_413(harness_factory: Any) -> None:
    _, admin = await limited(harness_factory)
    body = city_body(LIMIT + 1)
    response = await admin.post(
        "/api/v1/cities", content=body, headers={"Content-Type": "application/json", "X-Request-ID": "big-1"}
    )
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    detail = problem(response, 413, "request-too-large")
    assert str(LIMIT) in detail["detail"]
    assert response.headers["x-request-id"] == "big-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert await city_count(admin) == 0


async def test_huge_declared_body_is_413(harness_factory: Any) -> None:
    _, admin = await limited(harness_factory)
    response = await admin.post("/api/v1/cities", json={"name": "x" * 1_000_000})
    problem(response, 413, "request-too-large")
    assert await city_count(admin) == 0


async def test_body_at_the_limit_is_accepted(harness_factory: Any) -> None:
    _, admin = await limited(harness_factory)
    # A name the schema accepts, padded with whitespace up to exactly the limit.
    body = json.dumps({"name": "Omsk"}).encode()
    body = body[:-1] + b" " * (LIMIT - len(body)) + b"}"
    assert len(body) == LIMIT
    response = await admin.post("/api/v1/cities", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    assert await city_count(admin) == 1


async def test_chunked_body_over_the_limit_is_413(harness_factory: Any) -> None:
    _, admin = await limited(harness_factory)
    body = city_body(LIMIT * 4)
    response = await admin.post(
        "/api/v1/cities",
        content=chunks(body),
        headers={"Content-Type": "application/json", "X-Request-ID": "chunked-1"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers.get("transfer-encoding") == "chunked"
    problem(response, 413, "request-too-large")
    assert response.headers["x-request-id"] == "chunked-1"
    assert await city_count(admin) == 0


async def test_chunked_body_just_over_the_limit_is_413(harness_factory: Any) -> None:
    _, admin = await limited(harness_factory)
    response = await admin.post(
        "/api/v1/cities",
        content=chunks(city_body(LIMIT + 1), size=100),
        headers={"Content-Type": "application/json"},
    )
    problem(response, 413, "request-too-large")
    assert await city_count(admin) == 0


async def test_chunked_body_under_the_limit_is_accepted(harness_factory: Any) -> None:
    _, admin = await limited(harness_factory)
    body = json.dumps({"name": "Tomsk"}).encode()
    response = await admin.post(
        "/api/v1/cities", content=chunks(body, size=3), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Tomsk"


async def test_understated_content_length_does_not_bypass_the_limit(harness_factory: Any) -> None:
    """A client that lies about the length is still counted byte by byte."""
    _, admin = await limited(harness_factory)
    body = city_body(LIMIT * 2)
    response = await admin.post(
        "/api/v1/cities",
        content=chunks(body),
        headers={"Content-Type": "application/json", "Content-Length": "10"},
    )
    problem(response, 413, "request-too-large")
    assert await city_count(admin) == 0


async def test_chunked_body_over_the_limit_with_idempotency_key_is_413(harness_factory: Any) -> None:
    _, admin = await limited(harness_factory)
    response = await admin.post(
        "/api/v1/cities",
        content=chunks(city_body(LIMIT * 4)),
        headers={"Content-Type": "application/json", "Idempotency-Key": "big-chunked"},
    )
    problem(response, 413, "request-too-large")
    assert await city_count(admin) == 0
    # The key was not spent on the refused request.
    again = await admin.post("/api/v1/cities", json={"name": "Omsk"}, headers={"Idempotency-Key": "big-chunked"})
    assert again.status_code == 201, again.text


async def test_declared_body_over_the_limit_with_idempotency_key_is_413(harness_factory: Any) -> None:
    _, admin = await limited(harness_factory)
    response = await admin.post(
        "/api/v1/cities", json={"name": "x" * 5000}, headers={"Idempotency-Key": "big-declared"}
    )
    problem(response, 413, "request-too-large")
    again = await admin.post("/api/v1/cities", json={"name": "Omsk"}, headers={"Idempotency-Key": "big-declared"})
    assert again.status_code == 201, again.text
    assert await city_count(admin) == 1


async def test_anonymous_oversized_body_is_413_before_authentication(harness_factory: Any) -> None:
    h, _ = await limited(harness_factory)
    response = await h.client.post("/api/v1/cities", json={"name": "x" * 5000})
    problem(response, 413, "request-too-large")
