"""Reading accounts and master profiles, each list limited to the caller's scope (see :mod:`.scope`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from leadflow.accounts.models import MasterProfile, Role, User, UserCity, UserStatus
from leadflow.accounts.policies import Principal
from leadflow.accounts.scope import managed_users, masters_query
from leadflow.platform.db import paginate, stream
from leadflow.platform.problems import NotFound
from leadflow.platform.schemas import PageParams


def loaded() -> Any:
    """The loader options every account answer needs (its cities and master profile)."""
    return (selectinload(User.cities), selectinload(User.master))


USER_ORDER = (User.created_at.desc(), User.id.desc())


async def list_users(
    session: AsyncSession, principal: Principal, page: PageParams, **filters: Any
) -> tuple[Sequence[User], int]:
    """One page of the accounts the caller manages (filters: ``_users``), newest first, and their count."""
    return await paginate(session, _users(principal, **filters).options(*loaded()), page, *USER_ORDER)


def export_users(session: AsyncSession, principal: Principal, **filters: Any) -> AsyncIterator[Sequence[User]]:
    """Every account the list would show, in its order, in batches (the CSV export)."""
    return stream(session, _users(principal, **filters).options(*loaded()), *USER_ORDER)


def _users(
    principal: Principal,
    *,
    role: Role | None = None,
    status: UserStatus | None = None,
    city_id: int | None = None,
    q: str | None = None,
) -> Select[User]:
    query = managed_users(select(User), principal)
    if role is not None:
        query = query.where(User.role == role)
    if status is not None:
        query = query.where(User.status == status)
    if city_id is not None:
        query = query.where(
            or_(
                User.id.in_(select(UserCity.user_id).where(UserCity.city_id == city_id)),
                User.id.in_(select(MasterProfile.user_id).where(MasterProfile.city_id == city_id)),
            )
        )
    if q:
        needle = q.lower()
        query = query.where(
            or_(
                func.lower(User.login).contains(needle, autoescape=True),
                func.lower(User.full_name).contains(needle, autoescape=True),
            )
        )
    return query


async def get_user(session: AsyncSession, principal: Principal, user_id: int) -> User:
    if principal.id == user_id:
        return await get_self(session, user_id)
    user = await session.scalar(managed_users(select(User), principal).options(*loaded()).where(User.id == user_id))
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user


async def get_self(session: AsyncSession, user_id: int) -> User:
    user = await session.scalar(select(User).options(*loaded()).where(User.id == user_id))
    if user is None:
        raise NotFound("No such user.")
    return user


async def list_masters(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    city_id: int | None = None,
    status: UserStatus | None = None,
    q: str | None = None,
) -> tuple[Sequence[User], int]:
    query = masters_query(principal)
    if city_id is not None:
        query = query.where(MasterProfile.city_id == city_id)
    if status is not None:
        query = query.where(User.status == status)
    if q:
        needle = q.lower()
        digits = "".join(ch for ch in q if ch.isdigit())
        conditions = [
            func.lower(User.full_name).contains(needle, autoescape=True),
            func.lower(User.login).contains(needle, autoescape=True),
        ]
        if digits:
            conditions.append(MasterProfile.phone.contains(digits, autoescape=True))
        query = query.where(or_(*conditions))
    return await paginate(session, query.options(*loaded()), page, User.full_name, User.id)
