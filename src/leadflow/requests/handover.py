"""The money reported on a request (SPEC §3.3): checked, set with its derived amounts (the rule itself is
:func:`leadflow.requests.money.compute`), and booked as the handover income in the cash desk.

The move to done, a money correction and a delete all call these inside their own unit of work, so the request row,
its event and the income commit together.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import Principal
from leadflow.cash import service as cash
from leadflow.catalog import service as catalog
from leadflow.catalog.models import DEFAULT_TIMEZONE
from leadflow.platform.db import utcnow
from leadflow.platform.periods import local_date
from leadflow.platform.problems import FieldError, ValidationProblem
from leadflow.requests import money
from leadflow.requests.events import jsonable
from leadflow.requests.models import Request


def apply_money(request: Request, result: Decimal | None, expenses: Decimal | None, share: Decimal) -> dict[str, Any]:
    """Check the reported money, set it with the derived amounts and the share, and return what changed
    (``{field: {"from": …, "to": …}}``) for the history."""
    check_money(result, expenses)
    assert result is not None
    assert expenses is not None
    computed = money.compute(result, expenses, share)
    diff: dict[str, Any] = {}
    for field in ("result", "expenses", "net_amount", "master_handover", "company_share"):
        old, new = getattr(request, field), getattr(computed, field)
        if old != new:
            if field != "company_share":  # the share is a snapshot, not something the caller changed
                diff[field] = {"from": jsonable(old), "to": jsonable(new)}
            setattr(request, field, new)
    return diff


def check_money(result: Decimal | None, expenses: Decimal | None) -> None:
    errors = []
    if result is None:
        errors.append(FieldError("result", "Report what the client paid (0 or more)."))
    if expenses is None:
        errors.append(FieldError("expenses", "Report the master's expenses on the job (0 or more)."))
    if result is not None and expenses is not None and expenses > result:
        errors.append(FieldError("expenses", "Expenses cannot be greater than the result."))
    if errors:
        raise ValidationProblem("The money is not valid; see errors.", errors)


async def _completion_date(session: AsyncSession, request: Request) -> dt.date:
    zone = await catalog.city_zone(session, request.city_id, DEFAULT_TIMEZONE)
    return local_date(request.completed_at or utcnow(), zone)


async def book_handover(session: AsyncSession, request: Request, actor: Principal, amount: Decimal | None) -> None:
    """Make the request's handover income match ``amount`` (None withdraws it), in the caller's unit of work."""
    await cash.sync_handover(
        session,
        request_id=request.id,
        city_id=request.city_id,
        master_id=request.master_id,
        amount=amount,
        occurred_on=await _completion_date(session, request) if amount else None,
        actor_id=actor.id,
    )
