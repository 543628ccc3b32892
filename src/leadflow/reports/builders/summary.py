"""The summary report (the dashboard tiles): today and the period, per city."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.cash.models import Transaction
from leadflow.platform.money import ZERO, to_money
from leadflow.reports import schemas as s
from leadflow.reports.access import Scope
from leadflow.reports.arithmetic import summed
from leadflow.reports.sql import LIVE_REQUEST, cash_sums, completed_sums, created_counts, keyed_rows
from leadflow.reports.windows import today_windows
from leadflow.requests.models import Request
from leadflow.requests.workflow import AWAITING, WITH_MASTER

IN_WORK_NOW = AWAITING | WITH_MASTER


async def summary(session: AsyncSession, scope: Scope) -> s.SummaryReport:
    spans, todays = scope.spans, today_windows(scope.zones)
    created = await keyed_rows(session, created_counts(Request.city_id, spans))
    completed = await keyed_rows(session, completed_sums(Request.city_id, spans))
    cash = await keyed_rows(session, cash_sums(Transaction.city_id, spans))
    created_today = await keyed_rows(session, created_counts(Request.city_id, todays))
    completed_today = await keyed_rows(session, completed_sums(Request.city_id, todays))
    cash_today = await keyed_rows(session, cash_sums(Transaction.city_id, todays))
    in_work = await keyed_rows(
        session,
        select(Request.city_id, func.count())
        .where(LIVE_REQUEST, Request.city_id.in_(scope.city_ids), Request.status.in_([st.value for st in IN_WORK_NOW]))
        .group_by(Request.city_id),
    )

    def net(row: Any | None) -> Decimal:
        return to_money(row[1]) - to_money(row[2]) if row else ZERO

    items = []
    for city in scope.cities:
        c, d, m = created.get(city.id), completed.get(city.id), cash.get(city.id)
        ct, dt_, mt = created_today.get(city.id), completed_today.get(city.id), cash_today.get(city.id)
        items.append(
            s.SummaryItem(
                city_id=city.id,
                city_name=city.name,
                today=s.Today(
                    requests_total=int(ct[1]) if ct else 0,
                    done=int(dt_[1]) if dt_ else 0,
                    revenue=to_money(dt_[2]) if dt_ else ZERO,
                    cash_net=net(mt),
                ),
                requests_total=int(c[1]) if c else 0,
                done=int(d[1]) if d else 0,
                revenue=to_money(d[2]) if d else ZERO,
                cash_net=net(m),
                in_work=int(in_work[city.id][1]) if city.id in in_work else 0,
            )
        )
    totals = s.SummaryFigures(
        today=s.Today(
            **summed([i.today for i in items], ("requests_total", "done", "revenue", "cash_net")),
        ),
        **summed(items, ("requests_total", "done", "revenue", "cash_net", "in_work")),
    )
    return s.SummaryReport(items=items, totals=totals, period=scope.period)
