"""The state machine of SPEC §3.2 at work: a move checked against the table (:mod:`leadflow.requests.workflow`),
applied to the request with its side effects (the master, the callback time, the money and the handover income)
and written with its event in one unit of work.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts import service as accounts
from leadflow.accounts.models import Role, User
from leadflow.accounts.policies import Principal
from leadflow.platform.concurrency import check_version, stale
from leadflow.platform.db import unit_of_work, utcnow
from leadflow.platform.problems import ValidationProblem
from leadflow.requests.events import new_event
from leadflow.requests.handover import apply_money, book_handover, share_for
from leadflow.requests.models import Request
from leadflow.requests.queries import get_request, reload_request
from leadflow.requests.schemas import TransitionIn
from leadflow.requests.workflow import (
    MOVE_FIELDS,
    Move,
    Need,
    Status,
    check_move_fields,
    missing_for_move,
    resolve_move,
)


async def transition(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    body: TransitionIn,
    if_match: str | None,
    *,
    default_share: Decimal,
) -> Request:
    request = await get_request(session, principal, request_id)
    check_version(request.version, body.version, if_match)
    current, target = Status(request.status), body.to
    move = resolve_move(current, target, request.was_assigned, principal.role)
    check_move_fields(move, (f for f in MOVE_FIELDS if getattr(body, f) is not None))
    missing = missing_for_move(move, request.address, request.visit_at, body.reason, body.note)
    if missing:
        raise ValidationProblem("The move needs more information; see errors.", missing)

    now = utcnow()
    data = await _apply(session, request, move, body, now, default_share=default_share)
    handover_changed = target is Status.done or current is Status.done
    if principal.role is Role.operator:
        request.operator_id = principal.id
    request.status = target
    request.status_changed_at = now
    async with unit_of_work(session, stale):
        await session.flush()
        session.add(new_event(request, principal, "status_changed", frm=current, to=target, **data))
        if handover_changed:
            await book_handover(session, request, principal, request.master_handover if target is Status.done else None)
    return await reload_request(session, request.id)


async def _apply(
    session: AsyncSession, request: Request, move: Move, body: TransitionIn, now: dt.datetime, *, default_share: Decimal
) -> dict[str, Any]:
    """Change the request as the move says (all but its status) and return the data of its event."""
    current, target = Status(request.status), move.target
    data: dict[str, Any] = {"reason": body.reason, "note": body.note}
    if move.needs & {Need.master, Need.other_master}:
        master = await _check_master(session, request, body.master_id, other=Need.other_master in move.needs)
        data["master_id"] = master.id
        data["previous_master_id"] = request.master_id
        request.master_id = master.id
        request.was_assigned = True
    if target is Status.awaiting_dispatch and current in (Status.awaiting_acceptance, Status.refused):
        data["previous_master_id"] = request.master_id  # declined, or reopened after a master had it
        request.master_id = None
    if target is Status.callback:
        request.callback_at = body.callback_at
        data["callback_at"] = body.callback_at
    elif current is Status.callback:
        request.callback_at = None
    if target is Status.done:
        apply_money(request, body.result, body.expenses, await share_for(session, request, default_share))
        request.completed_at = now
        data.update(result=request.result, expenses=request.expenses, master_handover=request.master_handover)
    if current is Status.done:  # reopened: the money is no longer booked
        request.completed_at = None
        request.net_amount = request.master_handover = request.company_share = None
    return data


async def _check_master(session: AsyncSession, request: Request, master_id: int | None, *, other: bool) -> User:
    if master_id is None:
        raise ValidationProblem.field("master_id", "Name the master to offer the request to.")
    master = await accounts.active_master(session, master_id)
    if master is None or master.master is None or master.master.city_id != request.city_id:
        raise ValidationProblem.field("master_id", "Unknown or blocked master, or a master of another city.")
    if other and master_id == request.master_id:
        raise ValidationProblem.field("master_id", "The request is already this master's; name another master.")
    return master
