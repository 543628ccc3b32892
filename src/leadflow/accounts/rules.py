"""The checks every account write passes: role grants, free logins, valid cities, the last admin (SPEC §1).

- Nobody raises an account above their own role or changes their own role.
- The last active admin cannot be blocked, demoted or deleted.
"""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import CITYLESS, MANAGED_BY_DIRECTOR, ROLE_RANK, Role, User, UserStatus
from leadflow.accounts.policies import Principal
from leadflow.catalog import service as catalog
from leadflow.platform.problems import Conflict, FieldError, Forbidden, ValidationProblem


class LastAdmin(Conflict):
    type = "last-admin"

    def __init__(self) -> None:
        super().__init__("This is the last active administrator; appoint another one first.")


def data_conflict() -> Conflict:
    """What a write refused by a unique index or a vanished reference answers (the checks below ran before it)."""
    return Conflict("The change conflicts with existing data (for example a login taken just now).")


def check_role_grant(principal: Principal, role: Role) -> None:
    if principal.is_admin:
        return
    if principal.role is Role.director and role in MANAGED_BY_DIRECTOR:
        return
    if ROLE_RANK[role] >= principal.rank:
        raise Forbidden("Nobody can give an account a role above or equal to their own.")
    raise Forbidden("Your role may not give this role.")


async def check_login_free(session: AsyncSession, login: str, own_id: int | None) -> None:
    query = select(User.id).where(func.lower(User.login) == login.lower(), User.deleted_at.is_(None))
    if own_id is not None:
        query = query.where(User.id != own_id)
    if await session.scalar(query) is not None:
        raise Conflict("This login is taken.", errors=[FieldError("login", "This login is taken.")])


async def valid_cities(session: AsyncSession, role: Role, city_ids: list[int], principal: Principal) -> list[int]:
    wanted = sorted(set(city_ids))
    if role in CITYLESS:
        if wanted:
            raise ValidationProblem.field(
                "city_ids", "Admins are never city-limited and a master's city is in the master profile."
            )
        return []
    known = await catalog.city_ids_exist(session, set(wanted))
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise ValidationProblem.field("city_ids", f"Unknown city ids: {unknown}.")
    if not principal.is_admin:
        if not wanted:
            raise ValidationProblem.field("city_ids", "Name at least one of your cities.")
        if not set(wanted) <= principal.city_ids:
            raise ValidationProblem.field("city_ids", "You can only assign your own cities.")
    return wanted


async def check_master_city(session: AsyncSession, principal: Principal, city_id: int) -> None:
    if not await catalog.city_ids_exist(session, {city_id}):
        raise ValidationProblem.field("master.city_id", f"Unknown city id {city_id}.")
    if not principal.is_admin and city_id not in principal.city_ids:
        raise ValidationProblem.field("master.city_id", "You can only assign your own cities.")


ACTIVE_ADMIN = (User.role == Role.admin, User.status == UserStatus.active, User.deleted_at.is_(None))


async def keep_an_admin(session: AsyncSession, user: User) -> None:
    """Call first in the unit of work of a block, a role change or a delete of ``user``: 409 ``last-admin`` when
    ``user`` is the only active admin.

    Such writes take turns until this one commits: a no-op UPDATE of the active admins' rows locks them on PostgreSQL
    (a concurrent remover waits, then re-reads them) and, on SQLite, which has no row locks (``FOR UPDATE`` is
    ignored), takes the database's one write lock. Only then is ``user`` re-read and the admins counted, so two
    admins removing each other at once cannot both pass on either database."""
    await session.execute(update(User).where(*ACTIVE_ADMIN).values(updated_at=User.updated_at))
    await session.refresh(user, ["role", "status", "deleted_at"])  # as it is now, not as read before the turn
    if user.role != Role.admin or user.status != UserStatus.active or user.deleted_at is not None:
        return
    others = await session.scalar(select(func.count()).where(*ACTIVE_ADMIN, User.id != user.id))
    if not others:
        raise LastAdmin()
