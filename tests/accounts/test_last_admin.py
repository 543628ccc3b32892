"""Issue #12: the last active admin survives two admins removing each other at the same moment, on every database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import func, select, update

from leadflow.accounts.models import Role, User, UserStatus
from tests.conftest import Harness, problem

ROUNDS = 5
Removal = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def block(api: httpx.AsyncClient, user_id: int) -> Awaitable[httpx.Response]:
    return api.post(f"/api/v1/users/{user_id}/block")


def demote(api: httpx.AsyncClient, user_id: int) -> Awaitable[httpx.Response]:
    return api.patch(f"/api/v1/users/{user_id}", json={"role": "director"})


def delete(api: httpx.AsyncClient, user_id: int) -> Awaitable[httpx.Response]:
    return api.delete(f"/api/v1/users/{user_id}")


async def active_admins(h: Harness) -> int:
    async with h.database.session() as session:
        query = select(func.count()).where(
            User.role == Role.admin, User.status == UserStatus.active, User.deleted_at.is_(None)
        )
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize(
    ("first", "second"),
    [(block, block), (demote, demote), (delete, delete), (block, demote), (demote, delete)],
    ids=["block-block", "demote-demote", "delete-delete", "block-demote", "demote-delete"],
)
async def test_two_admins_removing_each_other_at_once_leave_one(h: Harness, first: Removal, second: Removal) -> None:
    """Exactly one removal wins, the other is 409 last-admin, and an active admin always remains. A round where the
    loser was turned away before reaching the rule (401: the winner had already ended its session) proves nothing
    about the rule, so it is run again; every round must still leave exactly one admin."""
    a, b = await h.user(Role.admin), await h.user(Role.admin)
    raced = 0
    for _ in range(4 * ROUNDS):
        api_a, api_b = await h.as_user(a), await h.as_user(b)
        results = await asyncio.gather(first(api_a, b.id), second(api_b, a.id))
        statuses = sorted(r.status_code for r in results)
        assert await active_admins(h) == 1, statuses
        assert statuses in ([200, 409], [204, 409], [200, 401], [204, 401]), [r.text for r in results]
        if statuses[1] == 409:
            problem(results[[r.status_code for r in results].index(409)], 409, "last-admin")
            raced += 1
        async with h.database.session() as session:  # both admins again for the next round
            await session.execute(
                update(User)
                .where(User.id.in_([a.id, b.id]))
                .values(role=Role.admin, status=UserStatus.active, deleted_at=None)
            )
            await session.commit()
        if raced == ROUNDS:
            break
    assert raced == ROUNDS
