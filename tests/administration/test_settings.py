"""Runtime settings (§5 "Administration", §12): admin only, defaults from the environment, saved values win, audited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from leadflow.accounts.models import Role
from leadflow.administration.models import AppSetting
from leadflow.audit.models import AuditLog
from tests.conftest import Harness, problem

URL = "/api/v1/settings"
DEFAULTS = {
    "company_share": "0.50",
    "dedupe_window_minutes": 30,
    "link_window_minutes": 30,
    "recordings_retry_days": 7,
    "require_2fa_for_admins": False,
    "business_timezone": "Europe/Moscow",
}


async def audit_rows(h: Harness, action: str = "settings_changed") -> list[AuditLog]:
    async with h.database.session() as session:
        return list(await session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)))


@pytest.fixture
async def admin(h: Harness) -> httpx.AsyncClient:
    return await h.signed_in(Role.admin)


async def test_defaults(h: Harness, admin: httpx.AsyncClient) -> None:
    response = await admin.get(URL)
    assert response.status_code == 200, response.text
    assert response.json() == DEFAULTS
    assert "no-store" in response.headers.get("cache-control", "")


async def test_anonymous_is_401(h: Harness) -> None:
    problem(await h.client.get(URL), 401)
    problem(await h.client.patch(URL, json={"dedupe_window_minutes": 5}), 401)


@pytest.mark.parametrize("role", ["director", "operator", "marketer", "master"])
async def test_other_roles_are_403(h: Harness, admin: httpx.AsyncClient, role: str) -> None:
    client = await h.signed_in(role)
    problem(await client.get(URL), 403, "forbidden")
    problem(await client.patch(URL, json={"company_share": "0.10"}), 403, "forbidden")
    assert (await admin.get(URL)).json() == DEFAULTS
    assert await audit_rows(h) == []


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("company_share", "0.45", "0.45"),
        ("company_share", 0.3, "0.30"),
        ("company_share", "0", "0.00"),
        ("company_share", "1", "1.00"),
        ("company_share", "0.7", "0.70"),
        ("dedupe_window_minutes", 5, 5),
        ("link_window_minutes", 120, 120),
        ("recordings_retry_days", 14, 14),
        ("business_timezone", "Asia/Yekaterinburg", "Asia/Yekaterinburg"),
    ],
)
async def test_patch_persists(h: Harness, admin: httpx.AsyncClient, field: str, value: Any, shown: Any) -> None:
    response = await admin.patch(URL, json={field: value})
    assert response.status_code == 200, response.text
    expected = {**DEFAULTS, field: shown}
    assert response.json() == expected
    assert (await admin.get(URL)).json() == expected


async def test_require_2fa_for_admins_is_saved(h: Harness, admin: httpx.AsyncClient) -> None:
    # Once it is on, an admin without 2FA is stopped by §11, so the saved value is read from the database.
    response = await admin.patch(URL, json={"require_2fa_for_admins": True})
    assert response.status_code == 200, response.text
    assert response.json() == {**DEFAULTS, "require_2fa_for_admins": True}
    async with h.database.session() as session:
        row = await session.get(AppSetting, "require_2fa_for_admins")
    assert row is not None
    assert row.value is True
    assert len(await audit_rows(h)) == 1


async def test_patch_survives_a_new_app_instance(h: Harness, harness_factory: Any) -> None:
    admin_user = await h.user(Role.admin)
    client = await h.as_user(admin_user)
    assert (await client.patch(URL, json={"company_share": "0.35", "link_window_minutes": 45})).status_code == 200
    again = await harness_factory()
    fresh = await again.as_user(admin_user)
    body = (await fresh.get(URL)).json()
    assert body == {**DEFAULTS, "company_share": "0.35", "link_window_minutes": 45}


async def test_partial_patch_keeps_other_values(h: Harness, admin: httpx.AsyncClient) -> None:
    first = {"company_share": "0.40", "dedupe_window_minutes": 10, "business_timezone": "Asia/Omsk"}
    assert (await admin.patch(URL, json=first)).status_code == 200
    second = await admin.patch(URL, json={"recordings_retry_days": 3})
    assert second.status_code == 200
    assert second.json() == {**DEFAULTS, **first, "recordings_retry_days": 3}
    empty = await admin.patch(URL, json={})
    assert empty.status_code == 200
    assert empty.json() == second.json()


async def test_patch_writes_audit_row(h: Harness) -> None:
    admin_user = await h.user(Role.admin)
    admin = await h.as_user(admin_user)
    response = await admin.patch(URL, json={"company_share": "0.45", "link_window_minutes": 60})
    assert response.status_code == 200, response.text
    rows = await audit_rows(h)
    assert len(rows) == 1
    row = rows[0]
    assert row.action == "settings_changed"
    assert row.actor_id == admin_user.id
    assert row.result == "ok"
    assert row.data is not None
    assert {"company_share", "link_window_minutes"} <= set(row.data)
    assert "0.45" in str(row.data["company_share"])
    assert "0.50" in str(row.data["company_share"])
    # A second change is a second row.
    assert (await admin.patch(URL, json={"dedupe_window_minutes": 15})).status_code == 200
    rows = await audit_rows(h)
    assert len(rows) == 2
    assert rows[1].data is not None
    assert "dedupe_window_minutes" in rows[1].data
    assert "company_share" not in rows[1].data


BAD_VALUES = [
    ("company_share", "1.5"),
    ("company_share", "0.333"),
    ("company_share", -1),
    ("company_share", "-0.01"),
    ("company_share", 1.01),
    ("company_share", "abc"),
    ("company_share", "NaN"),
    ("company_share", "Infinity"),
    ("company_share", ""),
    ("company_share", "a\u0000b"),
    ("company_share", "1" * 100_000),
    ("company_share", None),
    ("company_share", [0.5]),
    ("dedupe_window_minutes", 0),
    ("dedupe_window_minutes", -5),
    ("dedupe_window_minutes", "soon"),
    ("dedupe_window_minutes", 1.5),
    ("dedupe_window_minutes", 10**12),
    ("dedupe_window_minutes", None),
    ("link_window_minutes", 0),
    ("link_window_minutes", None),
    ("recordings_retry_days", 0),
    ("recordings_retry_days", 100_000),
    ("recordings_retry_days", None),
    ("require_2fa_for_admins", "maybe"),
    ("require_2fa_for_admins", None),
    ("business_timezone", "Mars/Olympus_Mons"),
    ("business_timezone", "europe/moscow"),
    ("business_timezone", "Europe"),
    ("business_timezone", "/etc/passwd"),
    ("business_timezone", ""),
    ("business_timezone", "a\u0000b"),
    ("business_timezone", "x" * 100_000),
    ("business_timezone", 3),
    ("business_timezone", None),
    ("unknown_setting", 1),
    ("secret_key", "x"),
]


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD_VALUES)])
async def test_invalid_values_are_422(h: Harness, admin: httpx.AsyncClient, field: str, value: Any) -> None:
    body = problem(await admin.patch(URL, json={field: value}), 422, "validation-error")
    assert body["errors"], body
    assert "1" * 1000 not in str(body)
    assert "x" * 1000 not in str(body)
    assert (await admin.get(URL)).json() == DEFAULTS
    assert await audit_rows(h) == []


async def test_one_bad_field_rejects_the_whole_patch(h: Harness, admin: httpx.AsyncClient) -> None:
    problem(await admin.patch(URL, json={"company_share": "0.40", "dedupe_window_minutes": 0}), 422)
    problem(await admin.patch(URL, json={"company_share": "0.40", "link_window_minutes": None}), 422)
    problem(await admin.patch(URL, json={"company_share": "0.40", "bogus": True}), 422)
    assert (await admin.get(URL)).json() == DEFAULTS
    assert await audit_rows(h) == []


async def test_non_object_body_is_422(h: Harness, admin: httpx.AsyncClient) -> None:
    problem(await admin.patch(URL, json=["company_share"]), 422)
    problem(await admin.patch(URL, content=b"{oops", headers={"content-type": "application/json"}), 422)


async def test_environment_gives_the_initial_value(harness_factory: Any) -> None:
    h = await harness_factory(company_share="0.40", timezone="Asia/Novosibirsk")
    admin_user = await h.user(Role.admin)
    admin = await h.as_user(admin_user)
    body = (await admin.get(URL)).json()
    assert body["company_share"] == "0.40"
    assert body["business_timezone"] == "Asia/Novosibirsk"
    assert body == {**DEFAULTS, "company_share": "0.40", "business_timezone": "Asia/Novosibirsk"}


async def test_saved_value_wins_over_environment(harness_factory: Any) -> None:
    h = await harness_factory(company_share="0.40", timezone="Asia/Novosibirsk")
    admin_user = await h.user(Role.admin)
    admin = await h.as_user(admin_user)
    saved = await admin.patch(URL, json={"company_share": "0.55", "business_timezone": "Europe/Samara"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["company_share"] == "0.55"
    # A new process with yet another environment value still reads the saved one.
    other = await harness_factory(company_share="0.20", timezone="Asia/Vladivostok")
    client = await other.as_user(admin_user)
    body = (await client.get(URL)).json()
    assert body["company_share"] == "0.55"
    assert body["business_timezone"] == "Europe/Samara"
    # Keys never saved still follow the environment.
    assert body["dedupe_window_minutes"] == 30


async def test_saving_the_environment_value_pins_it(harness_factory: Any) -> None:
    """Saving a value equal to the current default stores it: a later environment change no longer moves it."""
    h = await harness_factory(company_share="0.40")
    admin_user = await h.user(Role.admin)
    admin = await h.as_user(admin_user)
    assert (await admin.patch(URL, json={"company_share": "0.40"})).status_code == 200
    other = await harness_factory(company_share="0.60")
    client = await other.as_user(admin_user)
    assert (await client.get(URL)).json()["company_share"] == "0.40"
