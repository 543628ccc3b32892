"""Account writes, and the master lookups other domains book work and money against (SPEC §1).

Who may see and manage whom: :mod:`.scope`; reading accounts: :mod:`.reads`; the checks every write passes:
:mod:`.rules`.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from leadflow.accounts import rules
from leadflow.accounts.auth import revoke_sessions
from leadflow.accounts.models import CITYLESS, MasterProfile, Role, User, UserCity, UserStatus
from leadflow.accounts.policies import Principal
from leadflow.accounts.reads import get_self, get_user, loaded
from leadflow.accounts.schemas import MasterProfileIn, MasterUpdate, UserCreate, UserUpdate
from leadflow.accounts.scope import masters_query, may_manage
from leadflow.audit import service as audit
from leadflow.platform.client import ClientInfo
from leadflow.platform.db import unit_of_work, utcnow
from leadflow.platform.problems import FieldError, Forbidden, NotFound, ValidationProblem, validation_errors
from leadflow.platform.security import PasswordHasher


class UserService:
    """The account writes that hash a password; the hasher is built once at start-up."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher

    async def create_user(
        self, session: AsyncSession, principal: Principal, data: UserCreate, client: ClientInfo
    ) -> User:
        role = Role(data.role)
        rules.check_role_grant(principal, role)
        await rules.check_login_free(session, data.login, None)
        city_ids = await rules.valid_cities(session, role, data.city_ids, principal)
        if role is Role.master:
            if data.master is None:
                raise ValidationProblem.field("master", "A master needs a profile with city_id and phone.")
            await rules.check_master_city(session, principal, data.master.city_id)
        elif data.master is not None:
            raise ValidationProblem.field("master", "Only accounts with role master have a master profile.")
        user = User(
            login=data.login,
            password_hash=await self.hasher.hash(data.password),
            full_name=data.full_name,
            role=role,
            status=UserStatus.active,
            token_version=0,
        )
        user.cities = [UserCity(city_id=c) for c in city_ids]
        user.master = MasterProfile(**data.master.model_dump()) if data.master else None
        async with unit_of_work(session, rules.data_conflict):
            session.add(user)
            await session.flush()  # the audit entry names the new id
            audit.record(
                session,
                "user_created",
                actor_id=principal.id,
                client=client,
                target_type="user",
                target_id=user.id,
                data={"role": role.value},
            )
        return await get_self(session, user.id)

    async def reset_password(
        self, session: AsyncSession, principal: Principal, user_id: int, password: str, client: ClientInfo
    ) -> None:
        user = await get_user(session, principal, user_id)
        if user.id == principal.id:
            raise Forbidden("Change your own password with POST /auth/password.")
        if not may_manage(principal, user):
            raise Forbidden("You may not reset this account's password.")
        async with unit_of_work(session, rules.data_conflict):
            user.password_hash = await self.hasher.hash(password)
            await revoke_sessions(session, user.id, "password_reset")
            audit.record(
                session, "password_reset", actor_id=principal.id, client=client, target_type="user", target_id=user.id
            )

    async def create_admin(self, session: AsyncSession, login: str, password: str, full_name: str) -> User:
        """For the CLI: the first (or another) administrator, audited as done by the system."""
        await rules.check_login_free(session, login, None)
        user = User(
            login=login,
            password_hash=await self.hasher.hash(password),
            full_name=full_name,
            role=Role.admin,
            status=UserStatus.active,
            token_version=0,
        )
        async with unit_of_work(session, rules.data_conflict):
            session.add(user)
            await session.flush()
            audit.record(
                session,
                "user_created",
                actor_id=None,
                target_type="user",
                target_id=user.id,
                data={"role": "admin", "via": "cli"},
            )
        return user


async def update_user(
    session: AsyncSession, principal: Principal, user_id: int, data: UserUpdate, client: ClientInfo
) -> User:
    user = await get_user(session, principal, user_id)
    if user.id == principal.id and not principal.is_admin:
        raise Forbidden("Only an administrator changes your account; your password: POST /auth/password.")
    if not may_manage(principal, user) and user.id != principal.id:
        raise Forbidden("You may not change this account.")
    values = data.changes()
    changes: dict[str, Any] = {}
    new_role = Role(values.get("role", user.role))
    async with unit_of_work(session, rules.data_conflict):
        if new_role != user.role:
            if user.id == principal.id:
                raise Forbidden("Nobody changes their own role.")
            rules.check_role_grant(principal, new_role)
            await rules.keep_an_admin(session, user)
            if new_role is not Role.master and user.master is not None:
                user.master = None
            changes["role"] = [user.role, new_role.value]
            user.role = new_role
            user.token_version += 1
        if "login" in values and values["login"] != user.login:
            await rules.check_login_free(session, values["login"], user.id)
            changes["login"] = [user.login, values["login"]]
            user.login = values["login"]
        if "full_name" in values:
            user.full_name = values["full_name"]
        if "city_ids" in values or "role" in changes:
            # Admins and masters have no city list: a role change to either clears it unless one is given.
            default = [] if new_role in CITYLESS else user.city_ids
            wanted = values.get("city_ids", default)
            city_ids = await rules.valid_cities(session, new_role, wanted, principal)
            if sorted(city_ids) != sorted(user.city_ids):
                changes["city_ids"] = [user.city_ids, city_ids]
            user.cities = [UserCity(city_id=c) for c in city_ids]
        if new_role is Role.master:
            master_values = values.get("master") or {}
            if user.master is None:
                if data.master is None:
                    raise ValidationProblem.field("master", "A master needs a profile with city_id and phone.")
                try:
                    profile_in = MasterProfileIn.model_validate(data.master.changes())
                except PydanticValidationError as exc:
                    errors = [FieldError(f"master.{e['field']}", e["message"]) for e in validation_errors(exc.errors())]
                    raise ValidationProblem("The master profile is incomplete.", errors) from exc
                await rules.check_master_city(session, principal, profile_in.city_id)
                user.master = MasterProfile(**profile_in.model_dump())
            elif master_values:
                await _apply_master(session, principal, user, master_values)
        elif values.get("master"):
            raise ValidationProblem.field("master", "Only accounts with role master have a master profile.")
        await session.flush()  # a refused change answers before it is audited
        if changes:
            audit.record(
                session,
                "user_changed",
                actor_id=principal.id,
                client=client,
                target_type="user",
                target_id=user.id,
                data=changes,
            )
    return await get_self(session, user.id)


async def update_master(
    session: AsyncSession, principal: Principal, user_id: int, data: MasterUpdate, client: ClientInfo
) -> User:
    user = await master_in_scope(session, principal, user_id)
    if not may_manage(principal, user):
        raise Forbidden("Only an administrator or the master's director changes a master profile.")
    values = data.changes()
    async with unit_of_work(session, rules.data_conflict):
        if "full_name" in values:
            user.full_name = values.pop("full_name")
        await _apply_master(session, principal, user, values)
        await session.flush()
        # Which fields changed, never their values (passports, phones).
        audit.record(
            session,
            "master_changed",
            actor_id=principal.id,
            client=client,
            target_type="user",
            target_id=user.id,
            data={"fields": sorted(data.model_fields_set)},
        )
    return await get_self(session, user.id)


async def _apply_master(session: AsyncSession, principal: Principal, user: User, values: dict[str, Any]) -> None:
    assert user.master is not None
    if "city_id" in values and values["city_id"] != user.master.city_id:
        await rules.check_master_city(session, principal, values["city_id"])
    for field, value in values.items():
        setattr(user.master, field, value)


async def set_status(
    session: AsyncSession, principal: Principal, user_id: int, status: UserStatus, client: ClientInfo
) -> User:
    user = await get_user(session, principal, user_id)
    if user.id == principal.id and status is UserStatus.active:
        raise Forbidden("You cannot unblock yourself.")
    if not may_manage(principal, user):
        raise Forbidden("You may not change this account.")
    if user.status != status:
        async with unit_of_work(session, rules.data_conflict):
            if status is UserStatus.blocked:
                await rules.keep_an_admin(session, user)
                user.token_version += 1
                await revoke_sessions(session, user.id, "blocked")
            user.status = status
            action = "user_blocked" if status is UserStatus.blocked else "user_unblocked"
            audit.record(session, action, actor_id=principal.id, client=client, target_type="user", target_id=user.id)
    return await get_self(session, user.id)


async def delete_user(session: AsyncSession, principal: Principal, user_id: int, client: ClientInfo) -> None:
    user = await get_user(session, principal, user_id)
    if not may_manage(principal, user):
        raise Forbidden("You may not delete this account.")
    async with unit_of_work(session, rules.data_conflict):
        await rules.keep_an_admin(session, user)
        user.deleted_at = utcnow()
        user.token_version += 1
        await revoke_sessions(session, user.id, "deleted")
        audit.record(
            session, "user_deleted", actor_id=principal.id, client=client, target_type="user", target_id=user.id
        )


# What other domains ask about masters ------------------------------------------------------------------------------
async def master_in_scope(session: AsyncSession, principal: Principal, user_id: int) -> User:
    user = await session.scalar(masters_query(principal).options(*loaded()).where(User.id == user_id))
    if user is None:
        raise NotFound(f"No master with id {user_id}.")
    return user


async def active_master(session: AsyncSession, user_id: int) -> User | None:
    """An active (not blocked, not deleted) master with their profile, for dispatch and cash bookings."""
    return await session.scalar(
        select(User)
        .options(selectinload(User.master))
        .where(
            User.id == user_id,
            User.role == Role.master,
            User.status == UserStatus.active,
            User.deleted_at.is_(None),
        )
    )


async def master_city_id(session: AsyncSession, user_id: int) -> int | None:
    """The city of a master account (any status), or None when the id is not a master."""
    found = await session.scalar(
        select(MasterProfile.city_id).join(User, User.id == MasterProfile.user_id).where(User.id == user_id)
    )
    return int(found) if found is not None else None


async def master_share(session: AsyncSession, user_id: int) -> Decimal | None:
    """A master's own company share (None: the default applies), whatever the account's status now."""
    return await session.scalar(select(MasterProfile.company_share).where(MasterProfile.user_id == user_id))


async def full_names(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, str]:
    """The display names of these accounts (any status, deleted ones too: a history names who acted then)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.full_name).where(User.id.in_(ids)))
    return {int(user_id): str(name) for user_id, name in rows.all()}
