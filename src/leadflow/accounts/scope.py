"""Which accounts a principal may manage and which masters they may see (SPEC §1).

An admin manages every account. A director manages masters and operators of their own cities only: a master whose
city is one of the director's, an operator whose (non-empty) city list lies within the director's.
"""

from __future__ import annotations

from sqlalchemy import Select, or_, select

from leadflow.accounts.models import MasterProfile, Role, User, UserCity
from leadflow.accounts.policies import Principal, visible_city_ids


def managed_users(query: Select[User], principal: Principal) -> Select[User]:
    """Limit a user query to the accounts the principal may manage (the SQL twin of :func:`may_manage`)."""
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
