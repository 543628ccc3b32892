"""The SQL of the business metrics (SPEC §10): each aggregate is one statement over the tables of requests, cash,
telephony, recordings and accounts (reports is the domain allowed to read across them). ``observability.business``
runs them, each in a session of its own, and caches and exposes the answers.

``AGGREGATES`` are the figures of ``GET /metrics/business`` for a :class:`Slice`; ``SNAPSHOT`` are the business
gauges of ``GET /metrics``, across every city, in the business time zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MasterProfile, User, UserCity, UserStatus
from leadflow.cash.models import Transaction
from leadflow.catalog.models import City, TransactionType
from leadflow.platform.money import to_money
from leadflow.platform.periods import month_to_date, today, utc_bounds
from leadflow.platform.sqltime import local_date, seconds_between
from leadflow.recordings.models import CallRecording
from leadflow.reports.arithmetic import rate
from leadflow.reports.windows import CityWindow, during, on_dates
from leadflow.requests.models import Request
from leadflow.requests.workflow import Status
from leadflow.telephony.models import Call

LIVE = Request.deleted_at.is_(None)


@dataclass(frozen=True)
class Slice:
    """What one call of ``/metrics/business`` asks about: the cities (``None``: every city, for an admin, calls to
    unknown lines included), each city's window, the zone of the daily series, and the whole period's UTC bounds
    (for rows with no city: accounts, calls to unknown lines)."""

    city_ids: list[int] | None
    spans: list[CityWindow]
    zone: str
    start: dt.datetime
    end: dt.datetime


async def _requests_total(session: AsyncSession, part: Slice) -> int:
    return int(
        await session.scalar(select(func.count()).where(LIVE, during(Request.created_at, Request.city_id, part.spans)))
        or 0
    )


async def _requests_by_status(session: AsyncSession, part: Slice) -> dict[str, int]:
    rows = await session.execute(
        select(Request.status, func.count())
        .where(LIVE, during(Request.created_at, Request.city_id, part.spans))
        .group_by(Request.status)
        .order_by(Request.status)
    )
    return {status: int(n) for status, n in rows}


async def _requests_by_city(session: AsyncSession, part: Slice) -> dict[str, int]:
    rows = await session.execute(
        select(City.name, func.count())
        .select_from(Request)
        .join(City, City.id == Request.city_id)
        .where(LIVE, during(Request.created_at, Request.city_id, part.spans))
        .group_by(City.name)
        .order_by(City.name)
    )
    return {name: int(n) for name, n in rows}


async def _conversion_rate(session: AsyncSession, part: Slice) -> str | None:
    created = select(func.count()).where(LIVE, during(Request.created_at, Request.city_id, part.spans))
    done = select(func.count()).where(
        LIVE, Request.status == Status.done, during(Request.completed_at, Request.city_id, part.spans)
    )
    row = (await session.execute(select(created.scalar_subquery(), done.scalar_subquery()))).one()
    return rate(int(row[1]), int(row[0]))


async def _revenue_daily(session: AsyncSession, part: Slice) -> list[dict[str, Any]]:
    day = local_date(Request.completed_at, part.zone)
    rows = await session.execute(
        select(day, func.coalesce(func.sum(Request.result), 0), func.count())
        .where(LIVE, Request.status == Status.done, during(Request.completed_at, Request.city_id, part.spans))
        .group_by(day)
        .order_by(day)
    )
    return [{"date": str(d), "revenue": f"{to_money(v):.2f}", "done": int(n)} for d, v, n in rows]


async def _avg_processing_time(session: AsyncSession, part: Slice) -> float | None:
    value = await session.scalar(
        select(func.avg(seconds_between(Request.created_at, Request.completed_at))).where(
            LIVE, Request.status == Status.done, during(Request.completed_at, Request.city_id, part.spans)
        )
    )
    return None if value is None else round(float(value), 1)


async def _transactions_total(session: AsyncSession, part: Slice) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                Transaction.deleted_at.is_(None), on_dates(Transaction.occurred_on, Transaction.city_id, part.spans)
            )
        )
        or 0
    )


async def _transactions_amount(session: AsyncSession, part: Slice) -> dict[str, str]:
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((TransactionType.kind == "income", Transaction.amount), else_=0)), 0),
                func.coalesce(func.sum(case((TransactionType.kind == "expense", Transaction.amount), else_=0)), 0),
            )
            .join(TransactionType, TransactionType.id == Transaction.type_id)
            .where(Transaction.deleted_at.is_(None), on_dates(Transaction.occurred_on, Transaction.city_id, part.spans))
        )
    ).one()
    return {"income": f"{to_money(row[0]):.2f}", "expense": f"{to_money(row[1]):.2f}"}


async def _active_users(session: AsyncSession, part: Slice) -> int:
    """Active accounts that signed in during the period (of the cities asked about: their city list or, for a
    master, their city)."""
    query = select(func.count()).where(
        User.deleted_at.is_(None),
        User.status == UserStatus.active,
        User.last_login_at >= part.start,
        User.last_login_at < part.end,
    )
    if part.city_ids is not None:
        in_city = select(UserCity.user_id).where(UserCity.city_id.in_(part.city_ids))
        master_here = select(MasterProfile.user_id).where(MasterProfile.city_id.in_(part.city_ids))
        query = query.where(User.id.in_(in_city) | User.id.in_(master_here))
    return int(await session.scalar(query) or 0)


def _calls(part: Slice) -> Any:
    if part.city_ids is None:  # every call, those of unknown lines too
        return (Call.started_at >= part.start) & (Call.started_at < part.end)
    return during(Call.started_at, Call.city_id, part.spans)


async def _calls_total(session: AsyncSession, part: Slice) -> int:
    return int(await session.scalar(select(func.count()).where(_calls(part))) or 0)


async def _call_duration_avg(session: AsyncSession, part: Slice) -> float | None:
    value = await session.scalar(select(func.avg(Call.duration_s)).where(_calls(part), Call.duration_s > 0))
    return None if value is None else round(float(value), 1)


async def _recordings_unlinked(session: AsyncSession, part: Slice) -> int:
    query = select(func.count()).where(CallRecording.link_state.in_(("pending", "gave_up")))
    if part.city_ids is not None:
        query = query.where(CallRecording.city_id.in_(part.city_ids))
    return int(await session.scalar(query) or 0)


Aggregate = Callable[[AsyncSession, Slice], Awaitable[Any]]
AGGREGATES: dict[str, Aggregate] = {
    "requests_total": _requests_total,
    "requests_by_status": _requests_by_status,
    "requests_by_city": _requests_by_city,
    "conversion_rate": _conversion_rate,
    "revenue_daily": _revenue_daily,
    "avg_processing_time": _avg_processing_time,
    "transactions_total": _transactions_total,
    "transactions_amount": _transactions_amount,
    "active_users": _active_users,
    "calls_total": _calls_total,
    "call_duration_avg": _call_duration_avg,
    "recordings_unlinked": _recordings_unlinked,
}


# The business gauges of /metrics: across every city, in the business time zone ------------------------------------
async def _requests_now(session: AsyncSession, _: str) -> list[list[Any]]:
    rows = await session.execute(
        select(City.name, Request.status, func.count())
        .select_from(Request)
        .join(City, City.id == Request.city_id)
        .where(LIVE)
        .group_by(City.name, Request.status)
    )
    return [[name, status, int(n)] for name, status, n in rows]


async def _conversion_month(session: AsyncSession, zone: str) -> str | None:
    first, last = month_to_date(None, None, zone)
    start, end = utc_bounds(first, last, zone)
    created = select(func.count()).where(LIVE, Request.created_at >= start, Request.created_at < end)
    done = select(func.count()).where(
        LIVE, Request.status == Status.done, Request.completed_at >= start, Request.completed_at < end
    )
    row = (await session.execute(select(created.scalar_subquery(), done.scalar_subquery()))).one()
    return rate(int(row[1]), int(row[0]))


async def _revenue_today(session: AsyncSession, zone: str) -> str:
    day = today(zone)
    start, end = utc_bounds(day, day, zone)
    value = await session.scalar(
        select(func.coalesce(func.sum(Request.result), 0)).where(
            LIVE, Request.status == Status.done, Request.completed_at >= start, Request.completed_at < end
        )
    )
    return f"{to_money(value):.2f}"


async def _recordings_now(session: AsyncSession, _: str) -> dict[str, int]:
    rows = await session.execute(select(CallRecording.link_state, func.count()).group_by(CallRecording.link_state))
    return {state: int(n) for state, n in rows}


async def _last_request(session: AsyncSession, _: str) -> float | None:
    newest = await session.scalar(select(func.max(Request.created_at)).where(LIVE))
    return newest.timestamp() if newest is not None else None


SNAPSHOT: dict[str, Callable[[AsyncSession, str], Awaitable[Any]]] = {
    "requests": _requests_now,
    "conversion_percent": _conversion_month,
    "revenue_today": _revenue_today,
    "recordings": _recordings_now,
    "last_request_created": _last_request,
}
