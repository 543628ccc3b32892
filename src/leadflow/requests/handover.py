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

from leadflow.accounts import service as accounts
from leadflow.accounts.policies import Principal
from leadflow.cash import service as cash
from leadflow.catalog import service as catalog
from leadflow.catalog.models import DEFAULT_TIMEZONE
from leadflow.files import service as files
from leadflow.platform.db import utcnow
from leadflow.platform.periods import local_date
from leadflow.platform.problems import FieldError, ValidationProblem
from leadflow.requests import money
from leadflow.requests.events import jsonable
from leadflow.requests.models import Request
from leadflow.requests.workflow import Status


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


async def share_for(session: AsyncSession, request: Request, default_share: Decimal) -> Decimal:
    """The company share the request's money is split with: a done request keeps the share it was done with (a
    correction uses the snapshot); otherwise the master's own share, else the company's default."""
    if request.status == Status.done and request.company_share is not None:
        return request.company_share
    own = await accounts.master_share(session, request.master_id) if request.master_id is not None else None
    return own if own is not None else default_share


async def preview_money(
    session: AsyncSession, request: Request, result: Decimal | None, expenses: Decimal | None, default_share: Decimal
) -> money.Money:
    """What reporting ``result`` and ``expenses`` on this request would book (net, handover, share), without
    saving: the same check (422 with field errors) and the same share as the move to done or a correction."""
    check_money(result, expenses)
    assert result is not None
    assert expenses is not None
    return money.compute(result, expenses, await share_for(session, request, default_share))


async def bso_attached(session: AsyncSession, request_id: int) -> bool:
    """Whether a photo (or scan) of the BSO form is among the request's live files."""
    return any(f.kind == "bso" for f in await files.files_of(session, files.Owner(request_id=request_id)))


async def require_bso(session: AsyncSession, request_id: int) -> None:
    """A master completing a job from the phone view shows the BSO form first (422 on the ``bso`` field). The API's
    move to done does not ask it (SPEC §3.2 requires the money only): this rule is the master's completion form's."""
    if not await bso_attached(session, request_id):
        raise ValidationProblem.field("bso", "Attach a photo of the BSO form before completing the job.")


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
