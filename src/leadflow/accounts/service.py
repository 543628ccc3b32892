"""Users and master profiles: who may create, see and change whom (SPEC §1).

- An admin manages every account. A director manages masters and operators of their own cities only: a master
  whose city is one of the director's, an operator whose (non-empty) city list lies within the director's.
- Nobody raises an account above their own role or changes their own role.
- The last active admin cannot be blocked, demoted or deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from leadflow.accounts.auth import revoke_sessions
from leadflow.accounts.models import (
    ROLE_RANK,
    MasterProfile,
    Role,
    User,
    UserCity,
    UserStatus,
)
from leadflow.accounts.policies import Principal, visible_city_ids
from leadflow.accounts.schemas import (
    MasterProfileIn,
    MasterUpdate,
    UserCreate,
    UserUpdate,
)
from leadflow.audit import service as audit
from leadflow.catalog import service as catalog
from leadflow.platform.client import ClientInfo
from leadflow.platform.db import utcnow
from leadflow.platform.problems import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    ValidationProblem,
    validation_errors,
)
from leadflow.platform.schemas import PageParams
from leadflow.platform.security import PasswordHasher

MANAGED_BY_DIRECTOR = (Role.master, Role.operator)


class LastAdmin(Conflict):
    type = "last-admin"

    def __init__(self) -> None:
        super().__init__("This is the last active administrator; appoint another one first.")


def _loaded() -> Any:
    return (selectinload(User.cities), selectinload(User.master))


def _scoped(query: Select[User], principal: Principal) -> Select[User]:
    """Limit a user query to the accounts the principal may manage."""
    query = query.where(User.deleted_at.is_(None))
    if principal.is_admin:
        return query
    if principal.role is not Role.director or not principal.city_ids:
        return query.where(User.id == -1)
    cities = list(principal.city_ids)
    master_here = select(MasterProfile.user_id).where(MasterProfile.city_id.in_(cities))
    outside = select(UserCity.user_id).where(UserCity.city_id.not_in(cities))
    inside = select(UserCity.user_id)
    operator_here = (User.role == Role.operator) & User.id.in_(inside) & User.id.not_in(outside)
    return query.where(or_((User.role == Role.master) & User.id.in_(master_here), operator_here))


def may_manage(principal: Principal, user: User) -> bool:
    if principal.is_admin:
        return True
    if principal.role is not Role.director or not principal.city_ids:
        return False
    if user.role == Role.master:
        return user.master is not None and user.master.city_id in principal.city_ids
    if user.role == Role.operator:
        return bool(user.city_ids) and set(user.city_ids) <= principal.city_ids
    return False


def passport_visible(principal: Principal, user: User) -> bool:
    """Passport numbers: admins and the master's directors only (never the master, never list items)."""
    return user.role == Role.master and may_manage(principal, user)


def masters_query(principal: Principal) -> Select[User]:
    """The master accounts the principal may see: a master only themself, others the masters of their cities."""
    query = (
        select(User)
        .join(MasterProfile, MasterProfile.user_id == User.id)
        .where(User.role == Role.master, User.deleted_at.is_(None))
    )
    if principal.role is Role.master:
        return query.where(User.id == principal.id)
    cities = visible_city_ids(principal)
    if cities is not None:
        query = query.where(MasterProfile.city_id.in_(list(cities)))
    return query


async def master_in_scope(session: AsyncSession, principal: Principal, user_id: int) -> User:
    user = await session.scalar(masters_query(principal).options(*_loaded()).where(User.id == user_id))
    if user is None:
        raise NotFound(f"No master with id {user_id}.")
    return user


class UserService:
    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher = hasher

    # Reading ----------------------------------------------------------------------------------------------------
    async def list_users(
        self,
        session: AsyncSession,
        principal: Principal,
        page: PageParams,
        *,
        role: Role | None = None,
        status: UserStatus | None = None,
        city_id: int | None = None,
        q: str | None = None,
    ) -> tuple[Sequence[User], int]:
        query = _scoped(select(User), principal)
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
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(
            query.options(*_loaded())
            .order_by(User.created_at.desc(), User.id.desc())
            .offset(page.offset)
            .limit(page.per_page)
        )
        return rows.all(), int(total or 0)

    async def get_user(self, session: AsyncSession, principal: Principal, user_id: int) -> User:
        if principal.id == user_id:
            return await self.get_self(session, user_id)
        user = await session.scalar(_scoped(select(User), principal).options(*_loaded()).where(User.id == user_id))
        if user is None:
            raise NotFound(f"No user with id {user_id}.")
        return user

    async def get_self(self, session: AsyncSession, user_id: int) -> User:
        user = await session.scalar(select(User).options(*_loaded()).where(User.id == user_id))
        if user is None:
            raise NotFound("No such user.")
        return user

    async def list_masters(
        self,
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
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        rows = await session.scalars(
            query.options(*_loaded()).order_by(User.full_name, User.id).offset(page.offset).limit(page.per_page)
        )
        return rows.all(), int(total or 0)

    async def get_master(self, session: AsyncSession, principal: Principal, user_id: int) -> User:
        return await master_in_scope(session, principal, user_id)

    # Writing ----------------------------------------------------------------------------------------------------
    async def create_user(
        self, session: AsyncSession, principal: Principal, data: UserCreate, client: ClientInfo
    ) -> User:
        role = Role(data.role)
        self._check_role_grant(principal, role)
        await self._check_login_free(session, data.login, None)
        city_ids = await self._valid_cities(session, role, data.city_ids, principal)
        if role is Role.master:
            if data.master is None:
                raise ValidationProblem.field("master", "A master needs a profile with city_id and phone.")
            await self._check_master_city(session, principal, data.master.city_id)
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
        session.add(user)
        await self._flush(session)
        audit.record(
            session,
            "user_created",
            actor_id=principal.id,
            client=client,
            target_type="user",
            target_id=user.id,
            data={"role": role.value},
        )
        await session.commit()
        return await self.get_self(session, user.id)

    async def update_user(
        self, session: AsyncSession, principal: Principal, user_id: int, data: UserUpdate, client: ClientInfo
    ) -> User:
        user = await self.get_user(session, principal, user_id)
        if user.id == principal.id and not principal.is_admin:
            raise Forbidden("Only an administrator changes your account; your password: POST /auth/password.")
        if not may_manage(principal, user) and user.id != principal.id:
            raise Forbidden("You may not change this account.")
        values = data.changes()
        changes: dict[str, Any] = {}
        new_role = Role(values.get("role", user.role))
        if new_role != user.role:
            if user.id == principal.id:
                raise Forbidden("Nobody changes their own role.")
            self._check_role_grant(principal, new_role)
            if user.role == Role.admin:
                await self._ensure_other_admin(session, user.id)
            if new_role is not Role.master and user.master is not None:
                user.master = None
            changes["role"] = [user.role, new_role.value]
            user.role = new_role
            user.token_version += 1
        if "login" in values and values["login"] != user.login:
            await self._check_login_free(session, values["login"], user.id)
            changes["login"] = [user.login, values["login"]]
            user.login = values["login"]
        if "full_name" in values:
            user.full_name = values["full_name"]
        if "city_ids" in values or "role" in changes:
            # Admins and masters have no city list: a role change to either clears it unless one is given.
            default = [] if new_role in (Role.admin, Role.master) else user.city_ids
            wanted = values.get("city_ids", default)
            city_ids = await self._valid_cities(session, new_role, wanted, principal)
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
                await self._check_master_city(session, principal, profile_in.city_id)
                user.master = MasterProfile(**profile_in.model_dump())
            elif master_values:
                await self._apply_master(session, principal, user, master_values)
        elif values.get("master"):
            raise ValidationProblem.field("master", "Only accounts with role master have a master profile.")
        await self._flush(session)
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
        await session.commit()
        return await self.get_self(session, user.id)

    async def update_master(
        self, session: AsyncSession, principal: Principal, user_id: int, data: MasterUpdate, client: ClientInfo
    ) -> User:
        user = await self.get_master(session, principal, user_id)
        if not may_manage(principal, user):
            raise Forbidden("Only an administrator or the master's director changes a master profile.")
        values = data.changes()
        if "full_name" in values:
            user.full_name = values.pop("full_name")
        await self._apply_master(session, principal, user, values)
        await self._flush(session)
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
        await session.commit()
        return await self.get_self(session, user.id)

    async def _apply_master(
        self, session: AsyncSession, principal: Principal, user: User, values: dict[str, Any]
    ) -> None:
        assert user.master is not None
        if "city_id" in values and values["city_id"] != user.master.city_id:
            await self._check_master_city(session, principal, values["city_id"])
        for field, value in values.items():
            setattr(user.master, field, value)

    async def set_status(
        self, session: AsyncSession, principal: Principal, user_id: int, status: UserStatus, client: ClientInfo
    ) -> User:
        user = await self.get_user(session, principal, user_id)
        if user.id == principal.id and status is UserStatus.active:
            raise Forbidden("You cannot unblock yourself.")
        if not may_manage(principal, user):
            raise Forbidden("You may not change this account.")
        if user.status != status:
            if status is UserStatus.blocked:
                if user.role == Role.admin:
                    await self._ensure_other_admin(session, user.id)
                user.token_version += 1
                await revoke_sessions(session, user.id, "blocked")
            user.status = status
            action = "user_blocked" if status is UserStatus.blocked else "user_unblocked"
            audit.record(session, action, actor_id=principal.id, client=client, target_type="user", target_id=user.id)
            await session.commit()
        return await self.get_self(session, user.id)

    async def reset_password(
        self, session: AsyncSession, principal: Principal, user_id: int, password: str, client: ClientInfo
    ) -> None:
        user = await self.get_user(session, principal, user_id)
        if user.id == principal.id:
            raise Forbidden("Change your own password with POST /auth/password.")
        if not may_manage(principal, user):
            raise Forbidden("You may not reset this account's password.")
        user.password_hash = await self.hasher.hash(password)
        await revoke_sessions(session, user.id, "password_reset")
        audit.record(
            session, "password_reset", actor_id=principal.id, client=client, target_type="user", target_id=user.id
        )
        await session.commit()

    async def delete_user(self, session: AsyncSession, principal: Principal, user_id: int, client: ClientInfo) -> None:
        user = await self.get_user(session, principal, user_id)
        if not may_manage(principal, user):
            raise Forbidden("You may not delete this account.")
        if user.role == Role.admin and user.status == UserStatus.active:
            await self._ensure_other_admin(session, user.id)
        user.deleted_at = utcnow()
        user.token_version += 1
        await revoke_sessions(session, user.id, "deleted")
        audit.record(
            session, "user_deleted", actor_id=principal.id, client=client, target_type="user", target_id=user.id
        )
        await session.commit()

    async def create_admin(self, session: AsyncSession, login: str, password: str, full_name: str) -> User:
        """For the CLI: the first (or another) administrator, audited as done by the system."""
        await self._check_login_free(session, login, None)
        user = User(
            login=login,
            password_hash=await self.hasher.hash(password),
            full_name=full_name,
            role=Role.admin,
            status=UserStatus.active,
            token_version=0,
        )
        session.add(user)
        await self._flush(session)
        audit.record(
            session,
            "user_created",
            actor_id=None,
            target_type="user",
            target_id=user.id,
            data={"role": "admin", "via": "cli"},
        )
        await session.commit()
        return user

    # Rules ------------------------------------------------------------------------------------------------------
    @staticmethod
    def _check_role_grant(principal: Principal, role: Role) -> None:
        if principal.is_admin:
            return
        if principal.role is Role.director and role in MANAGED_BY_DIRECTOR:
            return
        if ROLE_RANK[role] >= principal.rank:
            raise Forbidden("Nobody can give an account a role above or equal to their own.")
        raise Forbidden("Your role may not give this role.")

    async def _check_login_free(self, session: AsyncSession, login: str, own_id: int | None) -> None:
        query = select(User.id).where(func.lower(User.login) == login.lower(), User.deleted_at.is_(None))
        if own_id is not None:
            query = query.where(User.id != own_id)
        if await session.scalar(query) is not None:
            raise Conflict("This login is taken.", errors=[FieldError("login", "This login is taken.")])

    async def _valid_cities(
        self, session: AsyncSession, role: Role, city_ids: list[int], principal: Principal
    ) -> list[int]:
        wanted = sorted(set(city_ids))
        if role in (Role.admin, Role.master):
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

    async def _check_master_city(self, session: AsyncSession, principal: Principal, city_id: int) -> None:
        if not await catalog.city_ids_exist(session, {city_id}):
            raise ValidationProblem.field("master.city_id", f"Unknown city id {city_id}.")
        if not principal.is_admin and city_id not in principal.city_ids:
            raise ValidationProblem.field("master.city_id", "You can only assign your own cities.")

    async def _ensure_other_admin(self, session: AsyncSession, user_id: int) -> None:
        # Locks the active admins' rows (PostgreSQL) so that two admins cannot remove each other at the same time.
        admins = await session.scalars(
            select(User.id)
            .where(User.role == Role.admin, User.status == UserStatus.active, User.deleted_at.is_(None))
            .with_for_update()
        )
        if not [a for a in admins if a != user_id]:
            raise LastAdmin()

    @staticmethod
    async def _flush(session: AsyncSession) -> None:
        try:
            await session.flush()
        except IntegrityError as exc:
            await session.rollback()
            raise Conflict("The change conflicts with existing data (for example a login taken just now).") from exc


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
