"""The statements every report is built from: requests created and completed, and cash, grouped per column.

Each builder answers one grouped ``SELECT`` whose first column is the group and whose other columns are labelled;
:func:`keyed_rows` reads it by group, and a group's :class:`Figures` name what they hold (zero for a group with no
rows), so a report reads ``done.money("handover")``, never a column position.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.cash.models import Transaction
from leadflow.catalog.models import TransactionType
from leadflow.platform.money import to_money
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


class Figures:
    """One group's labelled figures; every figure of a group without rows is zero (or ``None`` for :meth:`value`)."""

    def __init__(self, row: Any | None) -> None:
        self._values: Mapping[str, Any] = row._mapping if row is not None else {}

    def count(self, name: str) -> int:
        return int(self._values.get(name) or 0)

    def money(self, name: str) -> Decimal:
        return to_money(self._values.get(name))

    def value(self, name: str) -> Any:
        return self._values.get(name)


class Grouped(dict[Any, Any]):
    """The rows of a grouped query by their group (the first column)."""

    def of(self, group: Any) -> Figures:
        return Figures(self.get(group))


async def keyed_rows(session: AsyncSession, query: Select[Any] | Any) -> Grouped:
    """Rows of a grouped query by their first column."""
    return Grouped((row[0], row) for row in await session.execute(query))


def created_counts(group: Any, spans: list[CityWindow]) -> Select[Any]:
    """Per ``group``: requests created in the period, by status group, and refused / not reached of those."""
    return (
        select(
            group,
            func.count().label("total"),
            *(count_in(Request.status, statuses).label(name) for name, statuses in GROUPS.items()),
            count_in(Request.status, {Status.not_reached}).label("not_reached"),
        )
        .where(LIVE_REQUEST, during(Request.created_at, Request.city_id, spans))
        .group_by(group)
    )


def completed_sums(group: Any, spans: list[CityWindow]) -> Select[Any]:
    """Per ``group``: requests done now and completed in the period, and their money."""
    return (
        select(
            group,
            func.count().label("done"),
            sum_of(Request.result).label("revenue"),
            sum_of(Request.expenses).label("expenses"),
            sum_of(Request.net_amount).label("net"),
            sum_of(Request.master_handover).label("handover"),
        )
        .where(LIVE_REQUEST, Request.status == Status.done, during(Request.completed_at, Request.city_id, spans))
        .group_by(group)
    )


def cash_sums(group: Any, spans: list[CityWindow], *where: Any) -> Select[Any]:
    """Per ``group``: income and expense transactions dated in the period."""
    return (
        select(
            group,
            sum_of(case((TransactionType.kind == "income", Transaction.amount), else_=0)).label("income"),
            sum_of(case((TransactionType.kind == "expense", Transaction.amount), else_=0)).label("expense"),
        )
        .join(TransactionType, TransactionType.id == Transaction.type_id)
        .where(Transaction.deleted_at.is_(None), on_dates(Transaction.occurred_on, Transaction.city_id, spans), *where)
        .group_by(group)
    )


def by_group(created: Figures) -> s.ByGroup:
    """A created_counts group's requests per status group."""
    return s.ByGroup(**{name: created.count(name) for name in GROUPS})
