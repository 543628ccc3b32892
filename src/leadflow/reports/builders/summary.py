"""The summary report (the dashboard tiles): today and the period, per city."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.cash.models import Transaction
from leadflow.reports import schemas as s
from leadflow.reports.access import Scope
from leadflow.reports.arithmetic import summed
from leadflow.reports.sql import LIVE_REQUEST, Figures, cash_sums, completed_sums, created_counts, keyed_rows
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
        select(Request.city_id, func.count().label("in_work"))
        .where(LIVE_REQUEST, Request.city_id.in_(scope.city_ids), Request.status.in_([st.value for st in IN_WORK_NOW]))
        .group_by(Request.city_id),
    )

    def net(cash: Figures) -> Decimal:
        return cash.money("income") - cash.money("expense")

    items = []
    for city in scope.cities:
        c, d, m = created.of(city.id), completed.of(city.id), cash.of(city.id)
        ct, dt_, mt = created_today.of(city.id), completed_today.of(city.id), cash_today.of(city.id)
        items.append(
            s.SummaryItem(
                city_id=city.id,
                city_name=city.name,
                today=s.Today(
                    requests_total=ct.count("total"),
                    done=dt_.count("done"),
                    revenue=dt_.money("revenue"),
                    cash_net=net(mt),
                ),
                requests_total=c.count("total"),
                done=d.count("done"),
                revenue=d.money("revenue"),
                cash_net=net(m),
                in_work=in_work.of(city.id).count("in_work"),
            )
        )
    totals = s.SummaryFigures(
        today=s.Today(
            **summed([i.today for i in items], ("requests_total", "done", "revenue", "cash_net")),
        ),
        **summed(items, ("requests_total", "done", "revenue", "cash_net", "in_work")),
    )
    return s.SummaryReport(items=items, totals=totals, period=scope.period)
