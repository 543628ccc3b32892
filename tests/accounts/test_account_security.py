"""Blocked accounts, password changes and resets, bcrypt upgrade, TOTP."""

from __future__ import annotations

import datetime as dt

import bcrypt
import pyotp
from sqlalchemy import select

from leadflow.accounts.models import AuthSession, Role, User
from leadflow.audit.models import AuditLog
from tests.conftest import PASSWORD, Harness, problem

NEW_PASSWORD = "Another-Strong-Pass-42"


async def test_blocked_user_is_cut_off_on_the_next_request(h: Harness) -> None:
    admin, operator = await h.user(Role.admin), await h.user(Role.operator)
    admin_api, operator_api = await h.as_user(admin), await h.as_user(operator)
    assert (await operator_api.get("/api/v1/auth/me")).status_code == 200
    blocked = await admin_api.post(f"/api/v1/users/{operator.id}/block")
    assert blocked.status_code == 200 and blocked.json()["status"] == "blocked"
    problem(await operator_api.get("/api/v1/auth/me"), 401)
    login = await h.client.post("/api/v1/auth/login", json={"login": operator.login, "password": PASSWORD})
    problem(login, 403, "account-blocked")
    # A wrong password for a blocked account looks like any wrong password.
    wrong = await h.client.post("/api/v1/auth/login", json={"login": operator.login, "password": "Wrong-password-1"})
    problem(wrong, 401, "invalid-credentials")
    assert (await admin_api.post(f"/api/v1/users/{operator.id}/unblock")).json()["status"] == "active"
    await h.token(operator)


async def test_password_change_revokes_other_sessions(h: Harness) -> None:
    user = await h.user(Role.director)
    first, second = await h.as_user(user), await h.as_user(user)
    problem(
        await first.post(
            "/api/v1/auth/password", json={"current_password": "Wrong-pass-123", "new_password": NEW_PASSWORD}
        ),
        422,
    )
    problem(
        await first.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "1234567890"}),
        422,
    )
    problem(
        await first.post("/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": "short"}), 422
    )
    changed = await first.post(
        "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 204
    assert (await first.get("/api/v1/auth/me")).status_code == 200
    problem(await second.get("/api/v1/auth/me"), 401)
    problem(await h.client.post("/api/v1/auth/token", data={"username": user.login, "password": PASSWORD}), 401)
    await h.token(user, NEW_PASSWORD)
    async with h.database.session() as session:
        actions = list(await session.scalars(select(AuditLog.action).where(AuditLog.actor_id == user.id)))
    assert "password_change" in actions


async def test_admin_resets_password_and_ends_sessions(h: Harness) -> None:
    admin, master_city = await h.user(Role.admin), await h.city()
    master = await h.user(Role.master, master_city=master_city.id)
    master_api = await h.as_user(master)
    admin_api = await h.as_user(admin)
    problem(await admin_api.post(f"/api/v1/users/{master.id}/password", json={"password": "qwertyuiop"}), 422)
    assert (
        await admin_api.post(f"/api/v1/users/{master.id}/password", json={"password": NEW_PASSWORD})
    ).status_code == 204
    problem(await master_api.get("/api/v1/auth/me"), 401)
    await h.token(master, NEW_PASSWORD)
    problem(await admin_api.post(f"/api/v1/users/{admin.id}/password", json={"password": NEW_PASSWORD}), 403)


async def store_legacy_hash(h: Harness, user: User, secret: bytes) -> None:
    """Give the account a bcrypt hash, as the old LeadSchem database had."""
    async with h.database.session() as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.password_hash = bcrypt.hashpw(secret, bcrypt.gensalt(rounds=4)).decode()
        await session.commit()


async def test_bcrypt_hash_verifies_and_is_upgraded(h: Harness) -> None:
    user = await h.user(Role.operator)
    await store_legacy_hash(h, user, PASSWORD.encode())
    await h.token(user)
    async with h.database.session() as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored is not None and stored.startswith("$argon2id$")


async def test_totp_setup_login_and_recovery(h: Harness) -> None:
    user = await h.user(Role.admin)
    api = await h.as_user(user)
    setup = await api.post("/api/v1/auth/2fa/setup")
    assert setup.status_code == 200
    secret = setup.json()["secret"]
    assert setup.json()["otpauth_uri"].startswith("otpauth://totp/")
    problem(await api.post("/api/v1/auth/2fa/confirm", json={"code": "000000", "password": PASSWORD}), 422)
    # Codes are derived from one instant so that a time-step boundary during the test cannot change them.
    instant = dt.datetime.now(dt.UTC)
    confirm_code = pyotp.TOTP(secret).at(instant)
    confirmed = await api.post("/api/v1/auth/2fa/confirm", json={"code": confirm_code, "password": PASSWORD})
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    me = await api.get("/api/v1/auth/me")
    assert me.json()["two_factor_enabled"] is True
    assert secret not in me.text
    problem(
        await h.client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD}), 401, "otp-required"
    )
    problem(
        await h.client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD, "otp": "123456"}),
        401,
        "invalid-credentials",
    )
    # The code used to confirm cannot sign in again (no replay); the next time step's code can (clock drift).
    replayed = await h.client.post(
        "/api/v1/auth/login", json={"login": user.login, "password": PASSWORD, "otp": confirm_code}
    )
    problem(replayed, 401, "invalid-credentials")
    next_code = pyotp.TOTP(secret).at(instant, counter_offset=1)
    ok = await h.client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD, "otp": next_code})
    assert ok.status_code == 200
    problem(
        await h.client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD, "otp": next_code}),
        401,
    )
    problem(await api.post("/api/v1/auth/2fa/setup"), 409)
    recovery = await h.client.post(
        "/api/v1/auth/token", data={"username": user.login, "password": PASSWORD, "otp": codes[0]}
    )
    assert recovery.status_code == 200
    again = await h.client.post(
        "/api/v1/auth/token", data={"username": user.login, "password": PASSWORD, "otp": codes[0]}
    )
    problem(again, 401)
    problem(await api.post("/api/v1/auth/2fa/disable", json={"password": "Wrong-password-1", "otp": codes[1]}), 422)
    problem(await api.post("/api/v1/auth/2fa/disable", json={"password": PASSWORD}), 422)
    problem(await api.post("/api/v1/auth/2fa/disable", json={"password": PASSWORD, "otp": "999999"}), 422)
    assert (await api.post("/api/v1/auth/2fa/disable", json={"password": PASSWORD, "otp": codes[1]})).status_code == 204
    problem(await api.post("/api/v1/auth/2fa/disable", json={"password": PASSWORD, "otp": codes[2]}), 409)
    await h.token(user)


async def test_sessions_store_only_hashes(h: Harness) -> None:
    user = await h.user(Role.operator)
    pair = (await h.client.post("/api/v1/auth/token", data={"username": user.login, "password": PASSWORD})).json()
    async with h.database.session() as session:
        row = await session.scalar(select(AuthSession).where(AuthSession.user_id == user.id))
    assert row is not None
    assert pair["refresh_token"] not in (row.refresh_hash, row.nonce)
    assert len(row.refresh_hash) == 64


async def test_admins_must_enable_totp_when_required(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(require_2fa_for_admins=True)
    admin, director = await h.user(Role.admin), await h.user(Role.director)
    api = await h.as_user(admin)
    problem(await api.get("/api/v1/users"), 403, "two-factor-required")
    assert (await api.get("/api/v1/auth/me")).status_code == 200
    assert (await (await h.as_user(director)).get("/api/v1/auth/me")).status_code == 200
    secret = (await api.post("/api/v1/auth/2fa/setup")).json()["secret"]
    assert (
        await api.post("/api/v1/auth/2fa/confirm", json={"code": pyotp.TOTP(secret).now(), "password": PASSWORD})
    ).status_code == 200
    assert (await api.get("/api/v1/users")).status_code == 200


async def test_long_legacy_bcrypt_password_signs_in(h: Harness) -> None:
    """The old system hashed only the first 72 bytes; a 40-character Cyrillic password (80 bytes) still works."""
    password = "Очень-длинный-пароль-мастера-из-старой-бд"
    user = await h.user(Role.master, master_city=(await h.city()).id)
    await store_legacy_hash(h, user, password.encode()[:72])
    await h.token(user, password)
    problem(await h.client.post("/api/v1/auth/token", data={"username": user.login, "password": password[:-1]}), 401)


async def test_spaces_in_passwords_are_kept_everywhere(h: Harness) -> None:
    admin = await h.user(Role.admin)
    api = await h.as_user(admin)
    spaced = "  Spaced-Pass-456  "
    body = {"login": "spaced.op", "password": spaced, "full_name": "Op", "role": "operator"}
    assert (await api.post("/api/v1/users", json=body)).status_code == 201
    await h.token("spaced.op", spaced)
    assert (
        await h.client.post("/api/v1/auth/login", json={"login": "spaced.op", "password": spaced})
    ).status_code == 200
    problem(await h.client.post("/api/v1/auth/login", json={"login": "spaced.op", "password": spaced.strip()}), 401)
