"""Changing a request outside the state machine: which role may change which field in which status, the edit
itself (a money correction rebooks the handover income) and the admin's soft delete.
"""

from __future__ import annotations

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


def _field_rights(principal: Principal, request: Request, fields: set[str]) -> None:
    role = principal.role
    status = Status(request.status)
    if role is Role.master:
        allowed = {"master_notes"}
    elif role is Role.operator:
        allowed = set(INTAKE_FIELDS)
    else:
        allowed = set(INTAKE_FIELDS) | MONEY_FIELDS | {"master_notes"}
    forbidden = sorted(fields - allowed)
    if forbidden:
        raise Forbidden(
            "Your role may not change these fields.",
            errors=[FieldError(f, "Your role may not change this field.") for f in forbidden],
        )
    locked: list[FieldError] = []
    if role is Role.operator and status not in INTAKE | AWAITING:
        locked += [FieldError(f, "Operators edit a request only before a master accepts it.") for f in sorted(fields)]
    if "city_id" in fields and request.master_id is not None:
        locked.append(FieldError("city_id", "The city cannot change while a master is assigned."))
    if fields & MONEY_FIELDS and status is not Status.done:
        locked += [
            FieldError(f, "Money is reported with the move to done; it can be corrected once the request is done.")
            for f in sorted(fields & MONEY_FIELDS)
        ]
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
