"""The statements every report is built from: requests created and completed, and cash, grouped per column.

Each builder answers one grouped ``SELECT`` whose first column is the group; :func:`keyed_rows` reads it by group.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.cash.models import Transaction
from leadflow.catalog.models import TransactionType
from leadflow.reports import schemas as s
from leadflow.reports.windows import CityWindow, during, on_dates
from leadflow.requests.models import Request
from leadflow.requests.workflow import AWAITING, INTAKE, WITH_MASTER, Status

# The status groups of ``requests_by_group``, in the order of created_counts' columns.
GROUPS: dict[str, frozenset[Status]] = {
    "intake": INTAKE,
    "awaiting": AWAITING,
    "in_work": WITH_MASTER,
    "done": frozenset({Status.done}),
    "refused": frozenset({Status.refused}),
}
LIVE_REQUEST = Request.deleted_at.is_(None)


def count_in(column: Any, statuses: Iterable[Status]) -> Any:
    return func.coalesce(func.sum(case((column.in_([st.value for st in statuses]), 1), else_=0)), 0)


def sum_of(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


async def keyed_rows(session: AsyncSession, query: Select[Any] | Any) -> dict[Any, Any]:
    """Rows of a grouped query by their first column."""
    return {row[0]: row for row in await session.execute(query)}


def created_counts(group: Any, spans: list[CityWindow]) -> Select[Any]:
    """Per ``group``: requests created in the period, by status group, and refused / not reached of those."""
    return (
        select(
            group,
            func.count(),
            *(count_in(Request.status, statuses) for statuses in GROUPS.values()),
            count_in(Request.status, {Status.not_reached}),
        )
        .where(LIVE_REQUEST, during(Request.created_at, Request.city_id, spans))
        .group_by(group)
    )


def completed_sums(group: Any, spans: list[CityWindow]) -> Select[Any]:
    """Per ``group``: requests done now and completed in the period, and their money."""
    return (
        select(
            group,
            func.count(),
            sum_of(Request.result),
            sum_of(Request.expenses),
            sum_of(Request.net_amount),
            sum_of(Request.master_handover),
        )
        .where(LIVE_REQUEST, Request.status == Status.done, during(Request.completed_at, Request.city_id, spans))
        .group_by(group)
    )


def cash_sums(group: Any, spans: list[CityWindow], *where: Any) -> Select[Any]:
    """Per ``group``: income and expense transactions dated in the period."""
    return (
        select(
            group,
            sum_of(case((TransactionType.kind == "income", Transaction.amount), else_=0)),
            sum_of(case((TransactionType.kind == "expense", Transaction.amount), else_=0)),
        )
        .join(TransactionType, TransactionType.id == Transaction.type_id)
        .where(Transaction.deleted_at.is_(None), on_dates(Transaction.occurred_on, Transaction.city_id, spans), *where)
        .group_by(group)
    )


def by_group(row: Any | None) -> s.ByGroup:
    """A created_counts row's status groups (all zero when the group had no requests)."""
    if row is None:
        return s.ByGroup()
    return s.ByGroup(**{name: int(row[2 + i]) for i, name in enumerate(GROUPS)})
