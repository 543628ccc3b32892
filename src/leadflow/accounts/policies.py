"""Who is calling and what they may see: the signed-in principal, role checks, city scope.

Scope is computed here once and applied by every list and get: out of scope answers 404, a role that may never make a
call answers 403.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from leadflow.accounts.invalidation import principal_tags
from leadflow.accounts.models import (
    CITY_LIST_OPTIONAL,
    MANAGERS,
    ROLE_RANK,
    AuthSession,
    Role,
    User,
    UserStatus,
)
from leadflow.administration.service import SETTINGS_TAG, two_factor_required_for_admins
from leadflow.platform.api import API_PREFIX
from leadflow.platform.cache import Cache
from leadflow.platform.db import utcnow
from leadflow.platform.dependencies import AppSettings, CacheDep, Session, SignerDep
from leadflow.platform.middleware import bearer_or_cookie_token, is_bearer
from leadflow.platform.problems import Forbidden, Unauthenticated
from leadflow.platform.security import AccessClaims, Signer, TokenError

T = TypeVar("T")
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "X-CSRF-Token"
# What an admin without a second factor may still do when the setting requires one.
TWO_FACTOR_FREE = tuple(f"{API_PREFIX}/auth/{p}" for p in ("me", "2fa/", "logout", "password"))


@dataclass(frozen=True)
class Principal:
    id: int
    login: str
    role: Role
    city_ids: frozenset[int]
    master_city_id: int | None
    session_id: str
    two_factor_enabled: bool = False

    @property
    def rank(self) -> int:
        return ROLE_RANK[self.role]

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


def visible_city_ids(principal: Principal) -> frozenset[int] | None:
    """The cities whose data the principal may see; ``None`` means every city.

    Admins see everything. Directors see their cities (none when the list is empty). Operators and marketers see their
    cities, or every city when their list is empty. A master sees only their own city (and within it, only their own
    assignments, which each domain enforces)."""
    if principal.role is Role.admin:
        return None
    if principal.role is Role.director:
        return principal.city_ids
    if principal.role in CITY_LIST_OPTIONAL:
        return principal.city_ids or None
    return frozenset({principal.master_city_id}) if principal.master_city_id is not None else frozenset()


def may_see_city(principal: Principal, city_id: int) -> bool:
    cities = visible_city_ids(principal)
    return cities is None or city_id in cities


def scoped_to_cities(query: Select[T], city_column: Any, principal: Principal) -> Select[T]:
    """``query`` limited to the rows of the cities the principal may see (unchanged for every-city roles)."""
    cities = visible_city_ids(principal)
    return query if cities is None else query.where(city_column.in_(cities))


def scoped_to_known_cities(query: Select[T], city_column: Any, principal: Principal) -> Select[T]:
    """Like :func:`scoped_to_cities` for rows whose city may be unknown (a call to a line no campaign uses, a
    recording not linked yet): those are the admin's to sort out; everyone else sees rows of their cities only."""
    if principal.role is Role.admin:
        return query
    return scoped_to_cities(query.where(city_column.is_not(None)), city_column, principal)


async def load_principal(session: AsyncSession, claims: AccessClaims, cache: Cache | None = None) -> Principal | None:
    """The caller behind an access token, if the user is active and the session live.

    With ``cache``, the answer is kept in this process while no write touched the user, their cities, master profile
    or sessions (``accounts.invalidation``): one generation read instead of a database query, and a block, a password
    change or a sign-out still takes effect on the next request, in every process. The session's expiry is checked
    on every call."""
    if cache is None:
        found, expires_at = await _read_principal(session, claims)
    else:
        key = ("principal", claims.user_id, claims.session_id, claims.token_version)
        # The runtime settings' generation comes in the same round trip: nearly every route reads them next.
        found, expires_at = await cache.remember(
            key, principal_tags(claims.user_id), lambda: _read_principal(session, claims), ahead=[SETTINGS_TAG]
        )
    if found is None or expires_at is None or expires_at <= utcnow():
        return None
    return found


async def _read_principal(session: AsyncSession, claims: AccessClaims) -> tuple[Principal | None, dt.datetime | None]:
    row = (
        await session.execute(
            select(User, AuthSession.expires_at)
            .join(AuthSession, AuthSession.user_id == User.id)
            .options(selectinload(User.cities), selectinload(User.master))
            .where(
                User.id == claims.user_id,
                User.deleted_at.is_(None),
                User.status == UserStatus.active,
                User.token_version == claims.token_version,
                AuthSession.id == claims.session_id,
                AuthSession.revoked_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None, None
    user, expires_at = row
    principal = Principal(
        id=user.id,
        login=user.login,
        role=Role(user.role),
        city_ids=frozenset(user.city_ids),
        master_city_id=user.master.city_id if user.master else None,
        session_id=claims.session_id,
        two_factor_enabled=user.totp_secret is not None,
    )
    return principal, expires_at


async def principal_from_token(session: AsyncSession, signer: Signer, token: str) -> Principal | None:
    """The caller behind a raw access token, or None: for callers outside the dependency (health, idempotency)."""
    try:
        claims = signer.read_access_token(token)
    except TokenError:
        return None
    return await load_principal(session, claims)


def check_csrf(request: Request, signer: Signer, session_id: str) -> None:
    """The double-submit check: the header equals the cookie and carries this session's signature."""
    header = request.headers.get(CSRF_HEADER)
    if not header or header != request.cookies.get("csrf_token") or not signer.csrf_valid(header, session_id):
        raise Forbidden(
            f"Missing or wrong CSRF token: send the csrf_token cookie's value in the {CSRF_HEADER} header.",
            type="csrf-failed",
        )


async def current_principal(
    request: Request, session: Session, signer: SignerDep, settings: AppSettings, cache: CacheDep
) -> Principal:
    token = bearer_or_cookie_token(request.scope)
    from_cookie = token is not None and not is_bearer(request.headers.get("authorization", ""))
    if not token:
        raise Unauthenticated()
    try:
        claims = signer.read_access_token(token)
    except TokenError as exc:
        raise Unauthenticated("The access token is invalid or has expired.", type="invalid-token") from exc
    principal = await load_principal(session, claims, cache)
    if principal is None:
        raise Unauthenticated("The session has ended; sign in again.", type="invalid-token")
    if from_cookie and request.method not in SAFE_METHODS:
        check_csrf(request, signer, claims.session_id)
    request.state.user_id = principal.id
    if (
        principal.is_admin
        and not principal.two_factor_enabled
        and not request.url.path.startswith(TWO_FACTOR_FREE)
        and await two_factor_required_for_admins(session, settings, cache)
    ):
        raise Forbidden(
            "Administrators must turn on two-factor sign-in first: POST /api/v1/auth/2fa/setup, then /confirm.",
            type="two-factor-required",
        )
    return principal


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    allowed = frozenset(roles)

    async def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role not in allowed:
            raise Forbidden("Your role may not do this.")
        return principal

    return dependency


SignedIn = Annotated[Principal, Depends(current_principal)]
AdminOnly = Annotated[Principal, Depends(require_roles(Role.admin))]
UserManager = Annotated[Principal, Depends(require_roles(*MANAGERS))]
