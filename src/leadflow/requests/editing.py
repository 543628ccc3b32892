"""Changing a request outside the state machine: which role may change which field in which status, the edit
itself (a money correction rebooks the handover income) and the admin's soft delete.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal
from leadflow.platform.concurrency import check_version, stale
from leadflow.platform.db import unit_of_work, utcnow
from leadflow.platform.problems import FieldError, Forbidden, ValidationProblem
from leadflow.requests.events import jsonable, new_event
from leadflow.requests.exceptions import FieldLocked
from leadflow.requests.handover import apply_money, book_handover
from leadflow.requests.intake import check_refs
from leadflow.requests.models import Request
from leadflow.requests.queries import get_request, reload_request
from leadflow.requests.schemas import RequestCreate, RequestUpdate
from leadflow.requests.workflow import AWAITING, INTAKE, Status

INTAKE_FIELDS = frozenset(RequestCreate.model_fields)  # what intake fills in is what intake may edit later
MONEY_FIELDS = frozenset({"result", "expenses"})


ROLE_MAY_NOT = "Your role may not change this field."
OPERATOR_LOCK = "Operators edit a request only before a master accepts it."
CITY_LOCK = "The city cannot change while a master is assigned."
MONEY_LOCK = "Money is reported with the move to done; it can be corrected once the request is done."
EDITABLE = tuple(f for f in RequestUpdate.model_fields if f != "version")  # every field an edit may name


@dataclass(frozen=True)
class FieldRight:
    """May this principal change this field of this request now: ``allowed`` is the role's right to the field at
    all, ``locks`` why it cannot change in the request's present state (empty when it can)."""

    field: str
    allowed: bool
    locks: tuple[str, ...] = ()

    @property
    def editable(self) -> bool:
        return self.allowed and not self.locks

    @property
    def reason(self) -> str | None:
        """Why the field cannot change (the service's English message), or None when it can."""
        if not self.allowed:
            return ROLE_MAY_NOT
        return self.locks[0] if self.locks else None


def _role_fields(role: Role) -> frozenset[str]:
    if role is Role.master:
        return frozenset({"master_notes"})
    if role is Role.operator:
        return INTAKE_FIELDS
    if role is Role.marketer:
        return frozenset()
    return INTAKE_FIELDS | MONEY_FIELDS | {"master_notes"}


def field_rights(principal: Principal, request: Request) -> dict[str, FieldRight]:
    """Every editable field of the request with this principal's right to change it now: the one rule that both
    :func:`update_request` enforces and a page shows (a locked field is shown locked, with its reason)."""
    role, status = principal.role, Status(request.status)
    allowed = _role_fields(role)
    rights: dict[str, FieldRight] = {}
    for field in EDITABLE:
        locks: list[str] = []
        if role is Role.operator and status not in INTAKE | AWAITING:
            locks.append(OPERATOR_LOCK)
        if field == "city_id" and request.master_id is not None:
            locks.append(CITY_LOCK)
        if field in MONEY_FIELDS and status is not Status.done:
            locks.append(MONEY_LOCK)
        rights[field] = FieldRight(field, field in allowed, tuple(locks))
    return rights


def editable_fields(principal: Principal, request: Request) -> frozenset[str]:
    """The fields this principal may change on this request now."""
    return frozenset(f for f, right in field_rights(principal, request).items() if right.editable)


def _field_rights(principal: Principal, request: Request, fields: set[str]) -> None:
    """403 for fields the role never changes, 409 ``field-locked`` for those it may not change in this state."""
    rights = field_rights(principal, request)
    forbidden = sorted(f for f in fields if not rights[f].allowed)
    if forbidden:
        raise Forbidden(
            "Your role may not change these fields.",
            errors=[FieldError(f, ROLE_MAY_NOT) for f in forbidden],
        )
    locked = [FieldError(f, lock) for f in sorted(fields) for lock in rights[f].locks]
    if locked:
        raise FieldLocked("Some fields cannot change in this status; see errors.", errors=locked)


async def update_request(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    data: RequestUpdate,
    if_match: str | None,
    *,
    default_share: Decimal,
) -> Request:
    request = await get_request(session, principal, request_id)
    changes = data.changes()
    check_version(request.version, changes.pop("version", None), if_match)
    if not changes:
        return request
    _field_rights(principal, request, set(changes))
    city_id = changes.get("city_id", request.city_id)
    check = dict(changes)
    if "city_id" in changes and "campaign_id" not in changes and request.campaign_id is not None:
        check["campaign_id"] = request.campaign_id  # the campaign must still belong to the new city
    errors = await check_refs(session, principal, check, city_id)
    if errors:
        raise ValidationProblem("The change is not valid; see errors.", errors)

    diff: dict[str, Any] = {}
    money_changed = bool(changes.keys() & MONEY_FIELDS)
    if money_changed:
        share = request.company_share if request.company_share is not None else default_share
        result, expenses = changes.pop("result", request.result), changes.pop("expenses", request.expenses)
        diff |= apply_money(request, result, expenses, share)
    for field, value in changes.items():
        old = getattr(request, field)
        if old != value:
            diff[field] = {"from": jsonable(old), "to": jsonable(value)}
            setattr(request, field, value)
    if not diff:
        return request
    if principal.role is Role.operator:
        request.operator_id = principal.id
    kind = "money_corrected" if money_changed and diff.keys() & {"result", "expenses"} else "updated"
    async with unit_of_work(session, stale):
        await session.flush()
        session.add(new_event(request, principal, kind, changes=diff))
        if money_changed:
            await book_handover(session, request, principal, request.master_handover)
    return await reload_request(session, request.id)


async def delete_request(
    session: AsyncSession, principal: Principal, request_id: int, version: int | None, if_match: str | None
) -> None:
    """Soft delete (admin) of the version the caller read: the request leaves every list and report; its handover
    income is withdrawn."""
    if not principal.is_admin:
        raise Forbidden("Only an admin deletes requests.")
    request = await get_request(session, principal, request_id)
    check_version(request.version, version, if_match)
    request.deleted_at = utcnow()
    async with unit_of_work(session, stale):
        await session.flush()
        session.add(new_event(request, principal, "deleted", frm=request.status))
        await book_handover(session, request, principal, None)
