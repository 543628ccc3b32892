"""The operators report: requests handled, booked, refused and not reached per operator."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import Role, User, UserCity
from leadflow.accounts.policies import Principal
from leadflow.reports import schemas as s
from leadflow.reports.access import Scope
from leadflow.reports.arithmetic import rate, summed
from leadflow.reports.sql import LIVE_REQUEST, count_in, keyed_rows, sum_of
from leadflow.reports.windows import during
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.workflow import Status


async def operators(session: AsyncSession, scope: Scope, principal: Principal) -> s.OperatorsReport:
    spans = scope.spans
    booked = Request.id.in_(select(RequestEvent.request_id).where(RequestEvent.to_status == Status.awaiting_dispatch))
    query = (
        select(
            Request.operator_id,
            func.count().label("total"),
            sum_of(case((booked, 1), else_=0)).label("booked"),
            count_in(Request.status, {Status.refused}).label("refused"),
            count_in(Request.status, {Status.not_reached}).label("not_reached"),
        )
        .where(LIVE_REQUEST, Request.operator_id.is_not(None), during(Request.created_at, Request.city_id, spans))
        .group_by(Request.operator_id)
    )
    people = select(User.id, User.full_name).where(User.deleted_at.is_(None))
    figures = await keyed_rows(
        session, query.where(Request.operator_id == principal.id) if principal.role is Role.operator else query
    )
    if principal.role is Role.operator:  # their own row, over the cities they work in
        people = people.where(User.id == principal.id)
    else:
        # Operators working in a city of the report (an operator with no cities works in all of them), and anyone
        # else who handled a request there.
        works_here = select(UserCity.user_id).where(UserCity.city_id.in_(scope.city_ids))
        # An operator with no cities works in every city, but an empty scope (a director with no cities) has none.
        no_cities = ~select(UserCity.user_id).where(UserCity.user_id == User.id).exists() if scope.city_ids else false()
        people = people.where(
            or_(
                and_(User.role == Role.operator, or_(User.id.in_(works_here), no_cities)),
                User.id.in_(list(figures)),
            )
        )
    items = []
    for user_id, name in (await session.execute(people.order_by(User.full_name, User.id))).all():
        f = figures.of(user_id)
        items.append(
            s.OperatorItem(
                operator_id=user_id,
                operator_name=name,
                **_operator_figures(
                    requests_total=f.count("total"),
                    booked=f.count("booked"),
                    refused=f.count("refused"),
                    not_reached=f.count("not_reached"),
                ),
            )
        )
    totals = s.OperatorFigures(
        **_operator_figures(**summed(items, ("requests_total", "booked", "refused", "not_reached")))
    )
    return s.OperatorsReport(items=items, totals=totals, period=scope.period)


def _operator_figures(*, requests_total: int, booked: int, refused: int, not_reached: int) -> dict[str, Any]:
    """An operator's (or the totals row's) figures from their base counts."""
    return {
        "requests_total": requests_total,
        "booked": booked,
        "refused": refused,
        "not_reached": not_reached,
        "booking_rate": rate(booked, requests_total),
    }
