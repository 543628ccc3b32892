"""The cities report: requests, conversion, money, cash and active masters per city."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MasterProfile, User, UserStatus
from leadflow.cash.models import Transaction
from leadflow.platform.money import ZERO, to_money
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
        select(MasterProfile.city_id, func.count())
        .join(User, User.id == MasterProfile.user_id)
        .where(User.status == UserStatus.active, User.deleted_at.is_(None), MasterProfile.city_id.in_(scope.city_ids))
        .group_by(MasterProfile.city_id),
    )
    items = []
    for city in scope.cities:
        c, d, m = created.get(city.id), completed.get(city.id), cash.get(city.id)
        items.append(
            s.CityItem(
                city_id=city.id,
                city_name=city.name,
                **_city_figures(
                    requests_total=int(c[1]) if c else 0,
                    by_group=by_group(c),
                    done=int(d[1]) if d else 0,
                    revenue=to_money(d[2]) if d else ZERO,
                    expenses=to_money(d[3]) if d else ZERO,
                    net=to_money(d[4]) if d else ZERO,
                    handover=to_money(d[5]) if d else ZERO,
                    cash_income=to_money(m[1]) if m else ZERO,
                    cash_expense=to_money(m[2]) if m else ZERO,
                    active_masters=int(masters[city.id][1]) if city.id in masters else 0,
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
