"""Login protection: the per-login lockout (423) and the per-address limit, with the audit trail."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, update

from leadflow.accounts.models import LoginThrottle, Role, User
from leadflow.audit.models import AuditLog
from leadflow.platform.security import PasswordHasher
from tests.conftest import PASSWORD, Harness, problem


async def attempt(h: Harness, login: str, password: str, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return await h.new_client(ip=ip).post("/api/v1/auth/login", json={"login": login, "password": password})


async def test_five_failures_lock_the_login_even_for_the_right_password(h: Harness) -> None:
    user = await h.user(Role.operator)
    for _ in range(5):
        problem(await attempt(h, user.login, "Wrong-password-1"), 401, "invalid-credentials")
    locked = await attempt(h, user.login, PASSWORD)
    body = problem(locked, 423, "login-locked")
    assert 1 <= int(locked.headers["Retry-After"]) <= 1800
    assert "minute" in body["detail"]
    # The token endpoint shares the lock.
    token = await h.client.post("/api/v1/auth/token", data={"username": user.login, "password": PASSWORD})
    problem(token, 423, "login-locked")
    # Other logins are unaffected.
    other = await h.user(Role.operator)
    assert (await attempt(h, other.login, PASSWORD)).status_code == 200
    async with h.database.session() as session:
        results = [r.result for r in await session.scalars(select(AuditLog).where(AuditLog.action == "login"))]
    assert results.count("failed") == 4 and results.count("locked") >= 3 and results.count("ok") == 1


async def test_lock_expires(h: Harness) -> None:
    user = await h.user(Role.operator)
    for _ in range(5):
        await attempt(h, user.login, "Wrong-password-1")
    problem(await attempt(h, user.login, PASSWORD), 423)
    if h.app.state.redis is not None:
        await h.app.state.redis.delete(f"{h.settings.redis_prefix}:login:lock:{user.login.lower()}")
    else:
        async with h.database.session() as session:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            await session.execute(update(LoginThrottle).values(locked_until=past))
            await session.commit()
    assert (await attempt(h, user.login, PASSWORD)).status_code == 200


async def test_success_resets_the_failure_count(h: Harness) -> None:
    user = await h.user(Role.operator)
    for _ in range(4):
        await attempt(h, user.login, "Wrong-password-1")
    assert (await attempt(h, user.login, PASSWORD)).status_code == 200
    for _ in range(4):
        await attempt(h, user.login, "Wrong-password-1")
    assert (await attempt(h, user.login, PASSWORD)).status_code == 200


async def test_unknown_logins_lock_too(h: Harness) -> None:
    for _ in range(5):
        problem(await attempt(h, "ghost", "Wrong-password-1"), 401)
    problem(await attempt(h, "ghost", "Wrong-password-1"), 423, "login-locked")


async def test_login_case_insensitive_and_lock_shared_across_case(h: Harness) -> None:
    await h.user(Role.operator, login="Mixed.Case")
    assert (await attempt(h, "mIXED.cASE", PASSWORD)).status_code == 200
    for variant in ("mixed.case", "MIXED.CASE", "Mixed.Case", "mIxed.case", "MIXED.case"):
        await attempt(h, variant, "Wrong-password-1")
    problem(await attempt(h, "mixed.case", PASSWORD), 423)


async def test_per_address_login_limit(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(login_rate_limit_per_minute=30)
    user = await h.user(Role.operator)
    statuses = [(await attempt(h, f"nobody{i}", "Wrong-password-1", ip="10.9.9.9")).status_code for i in range(31)]
    assert statuses[:30] == [401] * 30
    limited = await attempt(h, user.login, PASSWORD, ip="10.9.9.9")
    problem(limited, 429, "rate-limited")
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await attempt(h, user.login, PASSWORD, ip="10.9.9.10")).status_code == 200


async def test_bad_login_bodies(h: Harness) -> None:
    cases = [
        {},
        {"login": "a"},
        {"login": "a", "password": 5},
        {"login": "a", "password": "b", "role": "admin"},
        {"login": "a\u0000b", "password": "Wrong-password-1"},
        {"login": "x" * 100_000, "password": "Wrong-password-1"},
        {"login": "a", "password": "p" * 100_000},
    ]
    for body in cases:
        problem(await h.client.post("/api/v1/auth/login", json=body), 422)
    problem(
        await h.client.post("/api/v1/auth/login", content=b"{not json", headers={"content-type": "application/json"}),
        422,
    )
    problem(await h.client.post("/api/v1/auth/token", data={"username": "a\u0000", "password": "x"}), 422)
    problem(await h.client.post("/api/v1/auth/token", data={"username": "a"}), 422)


async def test_cyrillic_64_char_password(h: Harness) -> None:
    password = "Пароль-с-кириллицей-и-цифрами-1234-" + "ж" * 29
    assert len(password) == 64
    user = await h.user(Role.operator, password=password)
    response = await h.client.post("/api/v1/auth/login", json={"login": user.login, "password": password})
    assert response.status_code == 200


async def test_parallel_guesses_cannot_outrun_the_lock(h: Harness) -> None:
    """Attempts reserve one of the five allowed failures before the (slow) hash check: of twenty wrong guesses sent
    at once at most five are checked, the rest are turned away (429 login-busy), and the login ends up locked."""
    user = await h.user(Role.operator)
    # A hash with production parameters: each check takes tens of milliseconds whatever the test settings, so the
    # later guesses always arrive while the first five are still being checked.
    async with h.database.session() as session:
        await session.execute(
            update(User).where(User.id == user.id).values(password_hash=await PasswordHasher().hash(PASSWORD))
        )
        await session.commit()
    results = await asyncio.gather(*(attempt(h, user.login, f"Wrong-password-{i}") for i in range(20)))
    statuses = [r.status_code for r in results]
    assert statuses.count(401) <= 5
    assert statuses.count(429) + statuses.count(423) >= 15
    # Every turned-away guess is a proper problem; which of 429 and 423 they got depends on timing (on a loaded
    # machine the first checks may finish, and lock the login, before the last guesses arrive).
    for response in results:
        if response.status_code == 429:
            problem(response, 429, "login-busy")
            assert response.headers["Retry-After"] == "1"
        elif response.status_code == 423:
            problem(response, 423, "login-locked")
        else:
            problem(response, 401, "invalid-credentials")
    # The right password does not help now.
    problem(await attempt(h, user.login, PASSWORD), 423, "login-locked")


async def test_a_burst_of_right_passwords_never_locks(h: Harness) -> None:
    user = await h.user(Role.operator)
    results = await asyncio.gather(*(attempt(h, user.login, PASSWORD) for _ in range(12)))
    assert {r.status_code for r in results} <= {200, 429}
    assert (await attempt(h, user.login, PASSWORD)).status_code == 200


async def test_password_checks_of_signed_in_users_share_the_lockout(h: Harness) -> None:
    user = await h.user(Role.director)
    api = await h.as_user(user)
    for _ in range(5):
        body = {"current_password": "Wrong-password-1", "new_password": "Another-Strong-Pass-42"}
        problem(await api.post("/api/v1/auth/password", json=body), 422)
    body = {"current_password": PASSWORD, "new_password": "Another-Strong-Pass-42"}
    problem(await api.post("/api/v1/auth/password", json=body), 423, "login-locked")
    problem(await attempt(h, user.login, PASSWORD), 423, "login-locked")
    async with h.database.session() as session:
        rows = list(await session.scalars(select(AuditLog.result).where(AuditLog.action == "password_change")))
    assert rows.count("failed") == 4 and rows.count("locked") == 2
