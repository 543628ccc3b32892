"""Ids outside the database's integer range never reach a driver (no 500): in a path they are unknown objects (404),
in a filter or a body invalid input (422)."""

from __future__ import annotations

import pytest

from leadflow.accounts.models import Role
from tests.conftest import Harness, error_fields, problem

HUGE = [2**31, 2**63, 10**20, -1, 0]


@pytest.mark.parametrize("value", HUGE)
async def test_path_and_query_ids(h: Harness, value: int) -> None:
    api = await h.as_user(await h.user(Role.admin))
    for path in (
        f"/api/v1/users/{value}",
        f"/api/v1/masters/{value}",
        f"/api/v1/cities/{value}",
        f"/api/v1/directions/{value}",
    ):
        problem(await api.get(path), 404)
    problem(await api.patch(f"/api/v1/request-types/{value}", json={"name": "x"}), 404)
    problem(await api.delete(f"/api/v1/transaction-types/{value}"), 404)
    problem(await api.get("/api/v1/cities/not-a-number"), 422)
    problem(await api.get("/api/v1/users", params={"city_id": value}), 422)
    problem(await api.get("/api/v1/masters", params={"city_id": value}), 422)


@pytest.mark.parametrize("value", HUGE)
async def test_body_ids(h: Harness, value: int) -> None:
    api = await h.as_user(await h.user(Role.admin))
    body = {
        "login": "new.op",
        "password": "Brand-New-Pass-2026",
        "full_name": "Op",
        "role": "operator",
        "city_ids": [value],
    }
    problem(await api.post("/api/v1/users", json=body), 422)
    master = {**body, "role": "master", "city_ids": [], "master": {"city_id": value, "phone": "79161234567"}}
    problem(await api.post("/api/v1/users", json=master), 422)
    assert (await api.get("/api/v1/users")).json()["total"] == 1


async def test_method_not_allowed_lists_every_method(h: Harness) -> None:
    response = await h.client.put("/api/v1/cities")
    problem(response, 405)
    assert response.headers["allow"] == "GET, HEAD, POST"
    item = await h.client.put("/api/v1/users/1")
    assert item.headers["allow"] == "DELETE, GET, HEAD, PATCH"


async def test_refused_preflight_is_problem_json(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(cors_origins="https://app.example.com")
    refused = await h.client.options(
        "/api/v1/cities", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
    )
    body = problem(refused, 400, "cors-refused")
    assert "origin" in body["detail"]
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.parametrize("origins", ["*", "https://ok.example,*", "evil.example", "https://x.example/path"])
def test_cors_origins_must_be_explicit(origins: str) -> None:
    from pydantic import ValidationError

    from leadflow.platform.settings import Settings

    with pytest.raises(ValidationError, match="CORS origin"):
        Settings(_env_file=None, cors_origins=origins)  # type: ignore[call-arg]


def test_generated_secret_key_is_private_and_shared(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    from leadflow.platform.settings import Settings

    settings = Settings(_env_file=None, data_dir=tmp_path)  # type: ignore[call-arg]
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: settings.effective_secret_key(), range(16)))
    assert len(keys) == 1 and len(keys.pop()) >= 48
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_company_share_setting_takes_two_decimals() -> None:
    from pydantic import ValidationError

    from leadflow.platform.settings import Settings

    assert str(Settings(_env_file=None, company_share="0.45").company_share) == "0.45"  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, company_share="0.555")  # type: ignore[call-arg]


async def test_blocked_users_token_cannot_replay_idempotent_answers(h: Harness) -> None:
    admin, other = await h.user(Role.admin), await h.user(Role.admin)
    api, other_api = await h.as_user(admin), await h.as_user(other)
    key = {"Idempotency-Key": "create-kazan"}
    assert (await api.post("/api/v1/cities", json={"name": "Казань"}, headers=key)).status_code == 201
    assert (await other_api.post(f"/api/v1/users/{admin.id}/block")).status_code == 200
    problem(await api.post("/api/v1/cities", json={"name": "Казань"}, headers=key), 401)


async def test_odd_paths_with_idempotency_keys_are_not_server_errors(h: Harness) -> None:
    api = await h.as_user(await h.user(Role.admin))
    key = {"Idempotency-Key": "k1"}
    problem(await api.post("/api/v1/" + "a" * 400, json={}, headers=key), 404)
    # A NUL anywhere in the URL is refused at the edge, before routing (#12): 422, no longer the router's 404.
    problem(await api.post("/api/v1/x%00y", json={}, headers=key), 422, "validation-error")


async def test_patch_bodies_say_what_may_be_null(h: Harness) -> None:
    schemas = (await h.client.get("/api/v1/openapi.json")).json()["components"]["schemas"]
    assert schemas["CityUpdate"]["properties"]["name"]["type"] == "string"  # may be left out, never null
    assert {"type": "null"} in schemas["MasterUpdate"]["properties"]["passport"]["anyOf"]  # null clears it
    api = await h.as_user(await h.user(Role.admin))
    city = await h.city("Тула")
    nulls = await api.patch(f"/api/v1/cities/{city.id}", json={"name": None, "active": None})
    assert error_fields(problem(nulls, 422)) == ["active", "name"]
    master = await h.user(Role.master, master_city=city.id)
    cleared = await api.patch(f"/api/v1/masters/{master.id}", json={"passport": None, "notes": "ok"})
    assert cleared.status_code == 200 and cleared.json()["passport"] is None
    problem(await api.patch(f"/api/v1/masters/{master.id}", json={"phone": None}), 422)
