"""The cities report: requests, conversion, money, cash and active masters per city."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MasterProfile, User, UserStatus
from leadflow.cash.models import Transaction
from leadflow.reports import schemas as s
from leadflow.reports.access import Scope
from leadflow.reports.arithmetic import rate, ratio, summed
from leadflow.reports.sql import GROUPS, by_group, cash_sums, completed_sums, created_counts, keyed_rows
from leadflow.requests.models import Request

CITY_SUMS = (
    "requests_total",
    "done",
    "revenue",
    "expenses",
    "net",
    "handover",
    "cash_income",
    "cash_expense",
    "active_masters",
)


async def cities(session: AsyncSession, scope: Scope) -> s.CitiesReport:
    spans = scope.spans
    created = await keyed_rows(session, created_counts(Request.city_id, spans))
    completed = await keyed_rows(session, completed_sums(Request.city_id, spans))
    cash = await keyed_rows(session, cash_sums(Transaction.city_id, spans))
    masters = await keyed_rows(
        session,
        select(MasterProfile.city_id, func.count().label("active_masters"))
        .join(User, User.id == MasterProfile.user_id)
        .where(User.status == UserStatus.active, User.deleted_at.is_(None), MasterProfile.city_id.in_(scope.city_ids))
        .group_by(MasterProfile.city_id),
    )
    items = []
    for city in scope.cities:
        c, d, m = created.of(city.id), completed.of(city.id), cash.of(city.id)
        items.append(
            s.CityItem(
                city_id=city.id,
                city_name=city.name,
                **_city_figures(
                    requests_total=c.count("total"),
                    by_group=by_group(c),
                    done=d.count("done"),
                    revenue=d.money("revenue"),
                    expenses=d.money("expenses"),
                    net=d.money("net"),
                    handover=d.money("handover"),
                    cash_income=m.money("income"),
                    cash_expense=m.money("expense"),
                    active_masters=masters.of(city.id).count("active_masters"),
                ),
            )
        )
    totals = s.CityFigures(
        **_city_figures(
            by_group=s.ByGroup(**summed([i.requests_by_group for i in items], GROUPS)),
            **summed(items, CITY_SUMS),
        )
    )
    return s.CitiesReport(items=items, totals=totals, period=scope.period)


def _city_figures(
    *,
    requests_total: int,
    by_group: s.ByGroup,
    done: int,
    revenue: Decimal,
    expenses: Decimal,
    net: Decimal,
    handover: Decimal,
    cash_income: Decimal,
    cash_expense: Decimal,
    active_masters: int,
) -> dict[str, Any]:
    """A city's (or the totals row's) figures from its base counts and sums."""
    return {
        "requests_total": requests_total,
        "requests_by_group": by_group,
        "done": done,
        "refused": by_group.refused,
        "conversion_rate": rate(done, requests_total),
        "revenue": revenue,
        "expenses": expenses,
        "net": net,
        "handover": handover,
        "cash_income": cash_income,
        "cash_expense": cash_expense,
        "cash_net": cash_income - cash_expense,
        "active_masters": active_masters,
        "average_check": ratio(revenue, done),
    }
