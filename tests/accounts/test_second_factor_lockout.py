"""Issue #12: wrong second factors count toward the lockout whatever comes between them; 2FA needs the password."""

from __future__ import annotations

import datetime as dt

import pyotp
from sqlalchemy import select, update

from leadflow.accounts.models import Role, User
from leadflow.audit.models import AuditLog
from tests.conftest import PASSWORD, Harness, error_fields, problem


async def with_totp(h: Harness, user: User) -> str:
    secret = pyotp.random_base32()
    async with h.database.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(totp_secret=secret))
        await session.commit()
    return secret


async def sign_in(h: Harness, login: str, otp: str | None = None):  # type: ignore[no-untyped-def]
    body = {"login": login, "password": PASSWORD} | ({"otp": otp} if otp is not None else {})
    return await h.new_client().post("/api/v1/auth/login", json=body)


def wrong_code(secret: str) -> str:
    """A six-digit code that matches none of the accepted steps."""
    totp, now = pyotp.TOTP(secret), dt.datetime.now(dt.UTC)
    accepted = {totp.at(now, counter_offset=o) for o in (-2, -1, 0, 1, 2)}
    return next(c for c in (f"{n:06d}" for n in range(100000, 999999, 7919)) if c not in accepted)


async def test_wrong_codes_count_even_with_code_less_attempts_between(h: Harness) -> None:
    """The right password without a code says otp-required but clears nothing: the fifth wrong code locks."""
    user = await h.user(Role.admin)
    secret = await with_totp(h, user)
    for _ in range(4):
        problem(await sign_in(h, user.login, wrong_code(secret)), 401, "invalid-credentials")
    problem(await sign_in(h, user.login), 401, "otp-required")
    problem(await sign_in(h, user.login, wrong_code(secret)), 401, "invalid-credentials")
    problem(await sign_in(h, user.login, pyotp.TOTP(secret).now()), 423, "login-locked")
    problem(await sign_in(h, user.login), 423, "login-locked")


async def test_a_full_sign_in_with_the_code_clears_the_count(h: Harness) -> None:
    user = await h.user(Role.admin)
    secret = await with_totp(h, user)
    for _ in range(4):
        problem(await sign_in(h, user.login, wrong_code(secret)), 401, "invalid-credentials")
    assert (await sign_in(h, user.login, pyotp.TOTP(secret).now())).status_code == 200
    for _ in range(4):
        problem(await sign_in(h, user.login, wrong_code(secret)), 401, "invalid-credentials")
    problem(await sign_in(h, user.login), 401, "otp-required")


async def test_wrong_codes_to_turn_2fa_off_count_too(h: Harness) -> None:
    """The right password does not clear the count when the code that must come with it is wrong."""
    user = await h.user(Role.director)
    api = await h.as_user(user)
    secret = await with_totp(h, user)
    for _ in range(5):
        body = {"password": PASSWORD, "otp": wrong_code(secret)}
        problem(await api.post("/api/v1/auth/2fa/disable", json=body), 422)
    body = {"password": PASSWORD, "otp": pyotp.TOTP(secret).now()}
    problem(await api.post("/api/v1/auth/2fa/disable", json=body), 423, "login-locked")
    problem(await sign_in(h, user.login, pyotp.TOTP(secret).now()), 423, "login-locked")
    async with h.database.session() as session:
        assert await session.scalar(select(User.totp_secret).where(User.id == user.id)) == secret
        results = list(await session.scalars(select(AuditLog.result).where(AuditLog.action == "2fa_disable")))
    assert results.count("failed") == 4 and results.count("locked") == 2


async def test_right_passwords_for_a_blocked_account_leave_no_reservation(h: Harness) -> None:
    admin, operator = await h.user(Role.admin), await h.user(Role.operator)
    admin_api = await h.as_user(admin)
    assert (await admin_api.post(f"/api/v1/users/{operator.id}/block")).status_code == 200
    for _ in range(5):
        problem(await sign_in(h, operator.login), 403, "account-blocked")
    assert (await admin_api.post(f"/api/v1/users/{operator.id}/unblock")).status_code == 200
    assert (await sign_in(h, operator.login)).status_code == 200


async def test_confirming_2fa_needs_the_password(h: Harness) -> None:
    user = await h.user(Role.director)
    api = await h.as_user(user)
    secret = (await api.post("/api/v1/auth/2fa/setup")).json()["secret"]
    code = pyotp.TOTP(secret).now()
    assert error_fields(problem(await api.post("/api/v1/auth/2fa/confirm", json={"code": code}), 422)) == ["password"]
    wrong = await api.post("/api/v1/auth/2fa/confirm", json={"code": code, "password": "Wrong-password-1"})
    assert error_fields(problem(wrong, 422)) == ["password"]
    assert (await api.get("/api/v1/auth/me")).json()["two_factor_enabled"] is False
    confirmed = await api.post("/api/v1/auth/2fa/confirm", json={"code": code, "password": PASSWORD})
    assert confirmed.status_code == 200 and len(confirmed.json()["recovery_codes"]) == 10
    assert (await api.get("/api/v1/auth/me")).json()["two_factor_enabled"] is True
    async with h.database.session() as session:
        results = list(await session.scalars(select(AuditLog.result).where(AuditLog.action == "2fa_enable")))
    assert results == ["failed"]


async def test_wrong_passwords_to_turn_2fa_on_share_the_lockout(h: Harness) -> None:
    user = await h.user(Role.director)
    api = await h.as_user(user)
    secret = (await api.post("/api/v1/auth/2fa/setup")).json()["secret"]
    for _ in range(5):
        body = {"code": pyotp.TOTP(secret).now(), "password": "Wrong-password-1"}
        problem(await api.post("/api/v1/auth/2fa/confirm", json=body), 422)
    body = {"code": pyotp.TOTP(secret).now(), "password": PASSWORD}
    problem(await api.post("/api/v1/auth/2fa/confirm", json=body), 423, "login-locked")
    problem(await sign_in(h, user.login), 423, "login-locked")
    assert (await api.get("/api/v1/auth/me")).json()["two_factor_enabled"] is False


async def test_the_openapi_schema_asks_for_the_password_to_confirm_2fa(h: Harness) -> None:
    spec = (await h.client.get("/api/v1/openapi.json")).json()
    operation = spec["paths"]["/api/v1/auth/2fa/confirm"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(body["required"]) == {"code", "password"}
    assert "password" in operation["description"].lower()
