"""A master's earnings for a period: what the master keeps of the money of their done requests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts import service as accounts
from leadflow.accounts.models import EARNINGS_READERS
from leadflow.accounts.policies import Principal
from leadflow.catalog import service as catalog
from leadflow.catalog.models import DEFAULT_TIMEZONE
from leadflow.platform.money import to_money
from leadflow.platform.periods import month_to_date, utc_bounds
from leadflow.platform.problems import Forbidden
from leadflow.requests.models import Request
from leadflow.requests.workflow import Status


async def earnings(
    session: AsyncSession,
    principal: Principal,
    master_id: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> dict[str, Any]:
    """Σ over the master's requests completed in the period (the master's city time zone) of net − handover."""
    if principal.role not in EARNINGS_READERS:
        raise Forbidden("Earnings are read by the master, their directors and admins.")
    master = await accounts.master_in_scope(session, principal, master_id)
    assert master.master is not None
    zone = await catalog.city_zone(session, master.master.city_id, DEFAULT_TIMEZONE)
    date_from, date_to = month_to_date(date_from, date_to, zone)
    start, end = utc_bounds(date_from, date_to, zone)
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(Request.result),
                func.sum(Request.net_amount),
                func.sum(Request.master_handover),
            ).where(
                Request.master_id == master_id,
                Request.status == Status.done,
                Request.deleted_at.is_(None),
                Request.completed_at >= start,
                Request.completed_at < end,
            )
        )
    ).one()
    net, handover = to_money(row[2]), to_money(row[3])
    return {
        "master_id": master_id,
        "date_from": date_from,
        "date_to": date_to,
        "done": int(row[0]),
        "revenue": to_money(row[1]),
        "net": net,
        "handover": handover,
        "earnings": net - handover,
    }
