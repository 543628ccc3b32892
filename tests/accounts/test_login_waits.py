"""Sign-ins of one login beyond the attempts left before the lock wait for a free one (issue #17): right passwords
all get in, guesses still cannot outrun the lock, and only an attempt that waited its whole bound gets 429."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update

from leadflow.accounts.lockout import LoginBusy, LoginGuard, login_key
from leadflow.accounts.models import Role, User
from leadflow.platform.security import PasswordHasher
from tests.conftest import PASSWORD, REDIS_URL, Harness, problem


def counter(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def attempt(h: Harness, login: str, password: str, ip: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return await h.new_client(ip=ip).post("/api/v1/auth/login", json={"login": login, "password": password})


async def production_hash(h: Harness, user: User) -> None:
    """Checks that take tens of milliseconds whatever the test settings, so that the attempts really overlap."""
    async with h.database.session() as session:
        await session.execute(
            update(User).where(User.id == user.id).values(password_hash=await PasswordHasher().hash(PASSWORD))
        )
        await session.commit()


@pytest.fixture(params=["configured", "database"])
async def backend(request: pytest.FixtureRequest, harness_factory) -> Harness:  # type: ignore[no-untyped-def]
    """The configured lockout store (Redis on the services run), and the ``login_throttle`` table on its own."""
    if request.param == "database":
        if not REDIS_URL:
            pytest.skip("without Redis the configured store is the table already")
        return await harness_factory(redis_url=None)  # type: ignore[no-any-return]
    return await harness_factory()  # type: ignore[no-any-return]


def guard_of(h: Harness, busy_wait_s: float | None = None) -> LoginGuard:
    if busy_wait_s is None:
        return h.app.state.auth.guard  # type: ignore[no-any-return]
    return LoginGuard(h.settings, h.database, h.app.state.redis, busy_wait_s=busy_wait_s)


async def test_sixteen_right_passwords_eight_at_a_time_from_eight_addresses_all_sign_in(backend: Harness) -> None:
    h = backend
    user = await h.user(Role.operator)
    await production_hash(h, user)
    waits = counter("leadflow_login_waits_total")
    gate = asyncio.Semaphore(8)

    async def one(i: int):  # type: ignore[no-untyped-def]
        async with gate:
            return await attempt(h, user.login, PASSWORD, ip=f"10.17.0.{i % 8 + 1}")

    results = await asyncio.gather(*(one(i) for i in range(16)))
    assert [r.status_code for r in results] == [200] * 16, [r.text for r in results if r.status_code != 200]
    # Eight at a time are more than the five attempts left: some of them did wait for a free one.
    assert counter("leadflow_login_waits_total") > waits
    # Nothing was counted against the login.
    for _ in range(4):
        problem(await attempt(h, user.login, "Wrong-password-1"), 401, "invalid-credentials")
    assert (await attempt(h, user.login, PASSWORD)).status_code == 200


async def test_an_attempt_that_waited_its_whole_bound_gets_login_busy(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(login_busy_wait_s=0.3)
    user = await h.user(Role.operator)
    key = login_key(user.login)
    guard = guard_of(h)
    for _ in range(5):  # every attempt left is in flight (and stays so)
        assert await guard.begin(key) == 0
    busy = counter("leadflow_login_busy_total")
    started = time.monotonic()
    response = await attempt(h, user.login, PASSWORD)
    assert time.monotonic() - started >= 0.3
    problem(response, 429, "login-busy")
    assert response.headers["Retry-After"] == "1"
    assert counter("leadflow_login_busy_total") == busy + 1
    # The attempts in flight succeed: the login is free again, and the turned-away attempt did not count.
    await guard.success(key)
    assert (await attempt(h, user.login, PASSWORD)).status_code == 200


async def test_a_waiting_attempt_gets_in_when_one_succeeds_and_sees_the_lock_when_one_fails(backend: Harness) -> None:
    h = backend
    user = await h.user(Role.operator)
    key = login_key(user.login)
    guard = guard_of(h)
    for _ in range(5):
        assert await guard.begin(key) == 0
    waiting = asyncio.ensure_future(attempt(h, user.login, PASSWORD))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    await guard.success(key)
    assert (await waiting).status_code == 200

    for _ in range(5):
        assert await guard.begin(key) == 0
    waiting = asyncio.ensure_future(attempt(h, user.login, PASSWORD))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    assert await guard.failed(key) == h.settings.login_lockout_s  # the last attempt left failed: locked
    problem(await waiting, 423, "login-locked")


async def test_reservations_are_given_back_on_errors_and_cancellation(backend: Harness) -> None:
    h = backend
    key = "someone"
    guard = guard_of(h, busy_wait_s=0)

    async def all_five_free_then_busy() -> None:
        for _ in range(5):
            assert await guard.begin(key) == 0
        with pytest.raises(LoginBusy):
            await guard.begin(key)
        await guard.success(key)

    for _ in range(5):  # an error inside the attempt
        with pytest.raises(RuntimeError):
            async with guard.attempt(key):
                raise RuntimeError("boom")
    await all_five_free_then_busy()

    entered = asyncio.Semaphore(0)

    async def hang() -> None:
        async with guard.attempt(key):
            entered.release()
            await asyncio.sleep(30)

    tasks = [asyncio.ensure_future(hang()) for _ in range(5)]  # cancelled while checking (a client gone)
    for _ in range(5):
        await entered.acquire()
    with pytest.raises(LoginBusy):
        await guard.begin(key)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await all_five_free_then_busy()

    for _ in range(5):
        assert await guard.begin(key) == 0
    waiter = asyncio.ensure_future(guard_of(h, busy_wait_s=10).begin(key))  # cancelled while waiting
    await asyncio.sleep(0.2)
    waiter.cancel()
    await asyncio.gather(waiter, return_exceptions=True)
    for _ in range(5):  # give back the five held: a reservation the waiter kept would leave only four free
        await guard.release(key)
    await all_five_free_then_busy()

    # Settled attempts keep their outcome: a failure stays counted, a success clears the count.
    async with guard.attempt(key) as first:
        await first.failed()
    for _ in range(4):
        assert await guard.begin(key) == 0
    with pytest.raises(LoginBusy):
        await guard.begin(key)
