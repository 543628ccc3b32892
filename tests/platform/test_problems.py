"""Every error is RFC 9457 problem+json with a stable type and nothing internal in it (SPEC §4)."""

from __future__ import annotations

from typing import Any

from leadflow.accounts.models import Role
from tests.conftest import Harness, error_fields, problem

SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "referrer-policy", "permissions-policy")


async def test_unknown_path_is_404_problem(h: Harness) -> None:
    response = await h.client.get("/api/v1/no-such-thing")
    body = problem(response, 404, "not-found")
    assert body["instance"] == "/api/v1/no-such-thing"


async def test_unknown_path_outside_the_api_is_404_problem(h: Harness) -> None:
    problem(await h.client.get("/wp-admin/setup.php"), 404, "not-found")


async def test_wrong_method_is_405_problem(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    response = await client.put("/api/v1/cities", json={"name": "X"})
    problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "GET, HEAD, POST"


def assert_field_errors(body: dict[str, Any]) -> None:
    """A non-empty ``errors`` list of ``{field, message}`` with a message in each."""
    assert isinstance(body["errors"], list)
    assert body["errors"]
    for error in body["errors"]:
        assert set(error) == {"field", "message"}
        assert isinstance(error["message"], str)
        assert error["message"]


async def test_wrong_type_is_422_with_field_errors(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    response = await client.post("/api/v1/cities", json={"name": 5})
    body = problem(response, 422, "validation-error")
    assert_field_errors(body)
    assert "name" in error_fields(body)
    assert (await client.get("/api/v1/cities")).json()["total"] == 0


async def test_unknown_field_is_rejected(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    response = await client.post("/api/v1/cities", json={"name": "Omsk", "id": 999, "created_at": "2020-01-01"})
    body = problem(response, 422, "validation-error")
    assert {"id", "created_at"} <= set(error_fields(body))
    assert (await client.get("/api/v1/cities")).json()["total"] == 0


async def test_missing_field_is_reported(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    body = problem(await client.post("/api/v1/cities", json={}), 422, "validation-error")
    assert body["errors"] == [{"field": "name", "message": "This field is required."}]


async def test_bad_query_parameter_is_422(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    body = problem(await client.get("/api/v1/cities", params={"per_page": 201}), 422, "validation-error")
    assert "per_page" in error_fields(body)
    body = problem(await client.get("/api/v1/cities/not-a-number"), 422, "validation-error")
    assert "row_id" in error_fields(body)


async def test_malformed_json_is_422(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    response = await client.post(
        "/api/v1/cities", content=b'{"name": "Omsk",', headers={"Content-Type": "application/json"}
    )
    body = problem(response, 422, "validation-error")
    assert_field_errors(body)
    assert "omsk" not in response.text.lower(), "the raw body must not be echoed"
    assert (await client.get("/api/v1/cities")).json()["total"] == 0


async def test_non_object_json_body_is_422(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    problem(await client.post("/api/v1/cities", json=["Omsk"]), 422, "validation-error")
    problem(await client.post("/api/v1/cities", json=None), 422, "validation-error")


async def test_errors_from_every_layer_share_the_shape(h: Harness) -> None:
    client = await h.signed_in(Role.admin)
    answers = [
        (await h.client.get("/api/v1/cities"), 401),
        (await h.client.get("/api/v1/nowhere"), 404),
        (await client.delete("/api/v1/cities"), 405),
        (await client.post("/api/v1/cities", json={"name": ""}), 422),
        (await client.get("/api/v1/cities/424242"), 404),
    ]
    for response, status in answers:
        problem(response, status)
        assert response.headers["x-request-id"]
        for header in SECURITY_HEADERS:
            assert header in response.headers, (status, header)


async def test_unhandled_exception_is_a_generic_500(harness_factory: Any) -> None:
    h: Harness = await harness_factory()

    async def explode() -> None:
        raise RuntimeError("boom: SELECT secret FROM /work/main/src/leadflow/x.py password_hash")

    h.app.add_api_route("/api/v1/test-explode", explode, methods=["GET"])
    response = await h.client.get("/api/v1/test-explode", headers={"X-Request-ID": "trace-500"})
    problem(response, 500, "internal-error")
    assert "boom" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-request-id"] == "trace-500"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    for header in SECURITY_HEADERS:
        assert header in response.headers

    # The service keeps answering after the failure.
    assert (await h.client.get("/health/live")).status_code == 200


async def test_unhandled_exception_in_a_post_is_a_generic_500(harness_factory: Any) -> None:
    h: Harness = await harness_factory()

    async def explode(payload: dict[str, Any]) -> None:
        raise ValueError(f"cannot handle {payload}")

    h.app.add_api_route("/api/v1/test-explode", explode, methods=["POST"])
    client = await h.signed_in(Role.admin)
    response = await client.post("/api/v1/test-explode", json={"secret": "s3cr3t-value"})
    body = problem(response, 500, "internal-error")
    assert "s3cr3t-value" not in response.text
    assert "cannot handle" not in body["detail"]
    assert response.headers["x-request-id"]
