"""The masters report: assignments, conversion, money and earnings per master."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MasterProfile, User
from leadflow.reports import schemas as s
from leadflow.reports.access import Scope
from leadflow.reports.arithmetic import rate, ratio, summed
from leadflow.reports.sql import LIVE_REQUEST, completed_sums, count_in, created_counts, keyed_rows
from leadflow.requests.models import Request
from leadflow.requests.workflow import WITH_MASTER, Status

MASTER_IN_WORK = frozenset({Status.awaiting_acceptance}) | WITH_MASTER


async def masters(session: AsyncSession, scope: Scope) -> s.MastersReport:
    spans = scope.spans
    people = (
        await session.execute(
            select(User.id, User.full_name, User.status, MasterProfile.city_id)
            .join(MasterProfile, MasterProfile.user_id == User.id)
            .where(User.deleted_at.is_(None), MasterProfile.city_id.in_(scope.city_ids))
            .order_by(User.full_name, User.id)
        )
    ).all()
    in_scope = Request.city_id.in_(scope.city_ids)
    created = await keyed_rows(session, created_counts(Request.master_id, spans).where(Request.master_id.is_not(None)))
    completed = await keyed_rows(
        session, completed_sums(Request.master_id, spans).where(Request.master_id.is_not(None))
    )
    now = await keyed_rows(
        session,
        select(
            Request.master_id,
            count_in(Request.status, MASTER_IN_WORK).label("in_work"),
            func.max(Request.status_changed_at).label("last_activity_at"),
        )
        .where(LIVE_REQUEST, Request.master_id.in_([p[0] for p in people]), in_scope)
        .group_by(Request.master_id),
    )
    items = []
    for master_id, name, status, city_id in people:
        c, d, n = created.of(master_id), completed.of(master_id), now.of(master_id)
        last = n.value("last_activity_at")  # max() keeps the column's type: an aware UTC datetime on both backends
        items.append(
            s.MasterItem(
                master_id=master_id,
                master_name=name,
                city_id=city_id,
                status=status,
                last_activity_at=last,
                **_master_figures(
                    assigned=c.count("total"),
                    done=d.count("done"),
                    refused=c.count("refused"),
                    in_work=n.count("in_work"),
                    revenue=d.money("revenue"),
                    net=d.money("net"),
                    handover=d.money("handover"),
                ),
            )
        )
    totals = s.MasterFigures(
        **_master_figures(**summed(items, ("assigned", "done", "refused", "in_work", "revenue", "net", "handover")))
    )
    return s.MastersReport(items=items, totals=totals, period=scope.period)


def _master_figures(
    *, assigned: int, done: int, refused: int, in_work: int, revenue: Decimal, net: Decimal, handover: Decimal
) -> dict[str, Any]:
    """A master's (or the totals row's) figures from their base counts and sums."""
    return {
        "assigned": assigned,
        "done": done,
        "refused": refused,
        "in_work": in_work,
        "conversion_rate": rate(done, assigned),
        "revenue": revenue,
        "net": net,
        "handover": handover,
        "earnings": net - handover,
        "average_check": ratio(revenue, done),
    }
