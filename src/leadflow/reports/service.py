"""The reports of SPEC §8, aggregated in SQL over every matching row (docs/reports.md has the definitions).

This domain reads the tables of requests, cash, campaigns, telephony and accounts directly: it is the one place
allowed to (ARCHITECTURE), because a report is a join over them and must be one statement per figure group, not a
walk through other services. It never writes. Each public function takes a read session of its own
(``Database.read_session``: the replica when configured) and answers a pydantic report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, and_, case, false, func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MasterProfile, Role, User, UserCity, UserStatus
from leadflow.accounts.policies import Principal, may_see_city, visible_city_ids
from leadflow.campaigns.models import Campaign
from leadflow.cash.models import Transaction
from leadflow.catalog import service as catalog
from leadflow.catalog.models import City, RequestType, TransactionType
from leadflow.platform.cache import Cache, invalidated_by
from leadflow.platform.db import Database
from leadflow.platform.money import to_money
from leadflow.platform.periods import check_range, today
from leadflow.platform.problems import Forbidden, NotFound
from leadflow.recordings.models import CallRecording
from leadflow.reports import schemas as s
from leadflow.reports.windows import CityWindow, during, on_dates, today_windows, windows
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.workflow import AWAITING, INTAKE, WITH_MASTER, Status
from leadflow.telephony.models import Call

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
CENT = Decimal("0.01")

GROUPS: dict[str, frozenset[Status]] = {
    "intake": INTAKE,
    "awaiting": AWAITING,
    "in_work": WITH_MASTER,
    "done": frozenset({Status.done}),
    "refused": frozenset({Status.refused}),
}
MASTER_IN_WORK = frozenset({Status.awaiting_acceptance}) | WITH_MASTER
IN_WORK_NOW = AWAITING | WITH_MASTER

# Who reads which report (SPEC §1). Scope within it: admin every city, the others their cities (visible_city_ids).
READERS: dict[str, frozenset[Role]] = {
    "cities": frozenset({Role.admin, Role.director}),
    "masters": frozenset({Role.admin, Role.director}),
    "campaigns": frozenset({Role.admin, Role.director, Role.marketer}),
    "operators": frozenset({Role.admin, Role.director, Role.operator}),
    "summary": frozenset({Role.admin, Role.director, Role.marketer}),
}
REPORTS = tuple(READERS)


@dataclass(frozen=True)
class ReportQuery:
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    city_id: int | None = None


@dataclass(frozen=True)
class Scope:
    """The cities a report covers (in the caller's scope, narrowed by ``city_id``) and its period."""

    cities: list[City]
    date_from: dt.date
    date_to: dt.date

    @property
    def city_ids(self) -> list[int]:
        return [c.id for c in self.cities]

    @property
    def zones(self) -> list[tuple[int, str]]:
        return [(c.id, c.timezone) for c in self.cities]

    @property
    def spans(self) -> list[CityWindow]:
        return windows(self.zones, self.date_from, self.date_to)

    @property
    def period(self) -> s.Period:
        return s.Period(date_from=self.date_from, date_to=self.date_to)


def check_reader(principal: Principal, report: str) -> None:
    if principal.role not in READERS[report]:
        raise Forbidden(f"The {report} report is not available to the {principal.role} role.")


async def resolve_scope(
    session: AsyncSession, principal: Principal, report: str, query: ReportQuery, business_zone: str
) -> Scope:
    """The caller may read ``report`` (403) and ``city_id`` (404 when unknown or out of scope); the period defaults
    to the month to date in the city's zone (or the business zone across cities) and is checked (422)."""
    check_reader(principal, report)
    if query.city_id is not None:
        city = await catalog.cities.find(session, query.city_id)
        if city is None or not may_see_city(principal, city.id):
            raise NotFound(f"No city with id {query.city_id}.")
        cities, zone = [city], city.timezone
    else:
        cities, zone = await catalog.list_cities(session, visible_city_ids(principal)), business_zone
    check_range(query.date_from, query.date_to)  # what the caller sent: only those fields are named in an error
    # Default: the month to date. "Today" is the latest today among the cities covered, so a city already past
    # midnight (Yekaterinburg at 22:00 in Moscow) sees its own today; the days after another city's today are empty.
    business_today = today(zone)
    date_to = query.date_to or max([business_today, *(today(c.timezone) for c in cities)])
    date_from = query.date_from or min(date_to, business_today).replace(day=1)
    check_range(date_from, date_to)
    return Scope(cities, date_from, date_to)


# Arithmetic -------------------------------------------------------------------------------------------------------
def rate(numerator: Decimal | int, denominator: Decimal | int) -> str | None:
    """A percentage with two decimals, half up; None when the denominator is zero."""
    if not denominator:
        return None
    return str((Decimal(numerator) * HUNDRED / Decimal(denominator)).quantize(CENT, rounding=ROUND_HALF_UP))


def ratio(numerator: Decimal, denominator: int | Decimal) -> Decimal | None:
    """Money per unit (average check, cost per request), half up; None when the denominator is zero."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


def _money(value: Any) -> Decimal:
    return ZERO if value is None else to_money(value)


def _count_in(column: Any, statuses: Iterable[Status]) -> Any:
    return func.coalesce(func.sum(case((column.in_([st.value for st in statuses]), 1), else_=0)), 0)


def _sum(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


def _summed(items: list[Any], fields: Iterable[str]) -> dict[str, Any]:
    """The totals row's base figures: each field added up over the items (money stays Decimal, counts int)."""
    return {f: sum((getattr(i, f) for i in items), start=ZERO if _is_money(items, f) else 0) for f in fields}


def _is_money(items: list[Any], field: str) -> bool:
    return bool(items) and isinstance(getattr(items[0], field), Decimal)


async def _rows(session: AsyncSession, query: Select[Any] | Any) -> dict[Any, Any]:
    """Rows of a grouped query by their first column."""
    return {row[0]: row for row in await session.execute(query)}


# The request figures every report is built from -------------------------------------------------------------------
LIVE_REQUEST = Request.deleted_at.is_(None)


def created_counts(group: Any, spans: list[CityWindow]) -> Select[Any]:
    """Per ``group``: requests created in the period, by status group, and refused / not reached of those."""
    return (
        select(
            group,
            func.count(),
            *(_count_in(Request.status, statuses) for statuses in GROUPS.values()),
            _count_in(Request.status, {Status.not_reached}),
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
            _sum(Request.result),
            _sum(Request.expenses),
            _sum(Request.net_amount),
            _sum(Request.master_handover),
        )
        .where(LIVE_REQUEST, Request.status == Status.done, during(Request.completed_at, Request.city_id, spans))
        .group_by(group)
    )


def cash_sums(group: Any, spans: list[CityWindow], *where: Any) -> Select[Any]:
    """Per ``group``: income and expense transactions dated in the period."""
    return (
        select(
            group,
            _sum(case((TransactionType.kind == "income", Transaction.amount), else_=0)),
            _sum(case((TransactionType.kind == "expense", Transaction.amount), else_=0)),
        )
        .join(TransactionType, TransactionType.id == Transaction.type_id)
        .where(Transaction.deleted_at.is_(None), on_dates(Transaction.occurred_on, Transaction.city_id, spans), *where)
        .group_by(group)
    )


def _by_group(row: Any | None) -> s.ByGroup:
    if row is None:
        return s.ByGroup()
    return s.ByGroup(**{name: int(row[2 + i]) for i, name in enumerate(GROUPS)})


# Cities -----------------------------------------------------------------------------------------------------------
async def cities(session: AsyncSession, scope: Scope) -> s.CitiesReport:
    spans = scope.spans
    created = await _rows(session, created_counts(Request.city_id, spans))
    completed = await _rows(session, completed_sums(Request.city_id, spans))
    cash = await _rows(session, cash_sums(Transaction.city_id, spans))
    masters = await _rows(
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
                    by_group=_by_group(c),
                    done=int(d[1]) if d else 0,
                    revenue=_money(d[2]) if d else ZERO,
                    expenses=_money(d[3]) if d else ZERO,
                    net=_money(d[4]) if d else ZERO,
                    handover=_money(d[5]) if d else ZERO,
                    cash_income=_money(m[1]) if m else ZERO,
                    cash_expense=_money(m[2]) if m else ZERO,
                    active_masters=int(masters[city.id][1]) if city.id in masters else 0,
                ),
            )
        )
    totals = s.CityFigures(
        **_city_figures(
            by_group=s.ByGroup(**_summed([i.requests_by_group for i in items], GROUPS)),
            **_summed(items, CITY_SUMS),
        )
    )
    return s.CitiesReport(items=items, totals=totals, period=scope.period)


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


# Masters ----------------------------------------------------------------------------------------------------------
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
    created = await _rows(session, created_counts(Request.master_id, spans).where(Request.master_id.is_not(None)))
    completed = await _rows(session, completed_sums(Request.master_id, spans).where(Request.master_id.is_not(None)))
    now = await _rows(
        session,
        select(Request.master_id, _count_in(Request.status, MASTER_IN_WORK), func.max(Request.status_changed_at))
        .where(LIVE_REQUEST, Request.master_id.in_([p[0] for p in people]), in_scope)
        .group_by(Request.master_id),
    )
    items = []
    for master_id, name, status, city_id in people:
        c, d, n = created.get(master_id), completed.get(master_id), now.get(master_id)
        last = n[2] if n else None  # max() keeps the column's type: an aware UTC datetime on both backends
        items.append(
            s.MasterItem(
                master_id=master_id,
                master_name=name,
                city_id=city_id,
                status=status,
                last_activity_at=last,
                **_master_figures(
                    assigned=int(c[1]) if c else 0,
                    done=int(d[1]) if d else 0,
                    refused=int(c[6]) if c else 0,
                    in_work=int(n[1]) if n else 0,
                    revenue=_money(d[2]) if d else ZERO,
                    net=_money(d[4]) if d else ZERO,
                    handover=_money(d[5]) if d else ZERO,
                ),
            )
        )
    totals = s.MasterFigures(
        **_master_figures(**_summed(items, ("assigned", "done", "refused", "in_work", "revenue", "net", "handover")))
    )
    return s.MastersReport(items=items, totals=totals, period=scope.period)


def _master_figures(
    *, assigned: int, done: int, refused: int, in_work: int, revenue: Decimal, net: Decimal, handover: Decimal
) -> dict[str, Any]:
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


# Campaigns --------------------------------------------------------------------------------------------------------
async def campaigns(session: AsyncSession, scope: Scope) -> s.CampaignsReport:
    spans = scope.spans
    rows = (
        await session.execute(
            select(Campaign.id, Campaign.name, Campaign.city_id, Campaign.channel)
            .where(Campaign.deleted_at.is_(None), Campaign.city_id.in_(scope.city_ids))
            .order_by(Campaign.name, Campaign.id)
        )
    ).all()
    first_time = case((RequestType.code == "first_time", 1), else_=0)
    repeat = case((RequestType.code == "repeat", 1), else_=0)
    created = await _rows(
        session,
        select(Request.campaign_id, func.count(), _sum(first_time), _sum(repeat))
        .join(RequestType, RequestType.id == Request.request_type_id)
        .where(LIVE_REQUEST, Request.campaign_id.is_not(None), during(Request.created_at, Request.city_id, spans))
        .group_by(Request.campaign_id),
    )
    completed = await _rows(session, completed_sums(Request.campaign_id, spans).where(Request.campaign_id.is_not(None)))
    calls = await _rows(
        session,
        select(Call.campaign_id, func.count())
        .join(Campaign, Campaign.id == Call.campaign_id)
        .where(during(Call.started_at, Campaign.city_id, spans))
        .group_by(Call.campaign_id),
    )
    spend = await _rows(
        session,
        cash_sums(Transaction.campaign_id, spans, Transaction.campaign_id.is_not(None)),
    )
    items = []
    for campaign_id, name, city_id, channel in rows:
        c, d, k, m = (
            created.get(campaign_id),
            completed.get(campaign_id),
            calls.get(campaign_id),
            spend.get(campaign_id),
        )
        items.append(
            s.CampaignItem(
                campaign_id=campaign_id,
                campaign_name=name,
                city_id=city_id,
                channel=channel,
                **_campaign_figures(
                    calls=int(k[1]) if k else 0,
                    requests_total=int(c[1]) if c else 0,
                    first_time=int(c[2]) if c else 0,
                    repeat=int(c[3]) if c else 0,
                    done=int(d[1]) if d else 0,
                    revenue=_money(d[2]) if d else ZERO,
                    handover=_money(d[5]) if d else ZERO,
                    ad_spend=_money(m[2]) if m else ZERO,
                ),
            )
        )
    totals = s.CampaignFigures(
        **_campaign_figures(
            **_summed(
                items, ("calls", "requests_total", "first_time", "repeat", "done", "revenue", "handover", "ad_spend")
            )
        )
    )
    return s.CampaignsReport(items=items, totals=totals, period=scope.period)


def _campaign_figures(
    *,
    calls: int,
    requests_total: int,
    first_time: int,
    repeat: int,
    done: int,
    revenue: Decimal,
    handover: Decimal,
    ad_spend: Decimal,
) -> dict[str, Any]:
    return {
        "calls": calls,
        "requests_total": requests_total,
        "first_time": first_time,
        "repeat": repeat,
        "done": done,
        "conversion_rate": rate(done, requests_total),
        "revenue": revenue,
        "handover": handover,
        "ad_spend": ad_spend,
        "cost_per_request": ratio(ad_spend, requests_total),
        "roi": rate(handover - ad_spend, ad_spend),
    }


# Operators --------------------------------------------------------------------------------------------------------
async def operators(session: AsyncSession, scope: Scope, principal: Principal) -> s.OperatorsReport:
    spans = scope.spans
    booked = Request.id.in_(select(RequestEvent.request_id).where(RequestEvent.to_status == Status.awaiting_dispatch))
    query = (
        select(
            Request.operator_id,
            func.count(),
            _sum(case((booked, 1), else_=0)),
            _count_in(Request.status, {Status.refused}),
            _count_in(Request.status, {Status.not_reached}),
        )
        .where(LIVE_REQUEST, Request.operator_id.is_not(None), during(Request.created_at, Request.city_id, spans))
        .group_by(Request.operator_id)
    )
    people = select(User.id, User.full_name).where(User.deleted_at.is_(None))
    figures = await _rows(
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
        f = figures.get(user_id)
        items.append(
            s.OperatorItem(
                operator_id=user_id,
                operator_name=name,
                **_operator_figures(
                    requests_total=int(f[1]) if f else 0,
                    booked=int(f[2]) if f else 0,
                    refused=int(f[3]) if f else 0,
                    not_reached=int(f[4]) if f else 0,
                ),
            )
        )
    totals = s.OperatorFigures(
        **_operator_figures(**_summed(items, ("requests_total", "booked", "refused", "not_reached")))
    )
    return s.OperatorsReport(items=items, totals=totals, period=scope.period)


def _operator_figures(*, requests_total: int, booked: int, refused: int, not_reached: int) -> dict[str, Any]:
    return {
        "requests_total": requests_total,
        "booked": booked,
        "refused": refused,
        "not_reached": not_reached,
        "booking_rate": rate(booked, requests_total),
    }


# Summary ----------------------------------------------------------------------------------------------------------
async def summary(session: AsyncSession, scope: Scope) -> s.SummaryReport:
    spans, todays = scope.spans, today_windows(scope.zones)
    created = await _rows(session, created_counts(Request.city_id, spans))
    completed = await _rows(session, completed_sums(Request.city_id, spans))
    cash = await _rows(session, cash_sums(Transaction.city_id, spans))
    created_today = await _rows(session, created_counts(Request.city_id, todays))
    completed_today = await _rows(session, completed_sums(Request.city_id, todays))
    cash_today = await _rows(session, cash_sums(Transaction.city_id, todays))
    in_work = await _rows(
        session,
        select(Request.city_id, func.count())
        .where(LIVE_REQUEST, Request.city_id.in_(scope.city_ids), Request.status.in_([st.value for st in IN_WORK_NOW]))
        .group_by(Request.city_id),
    )

    def net(row: Any | None) -> Decimal:
        return _money(row[1]) - _money(row[2]) if row else ZERO

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
                    revenue=_money(dt_[2]) if dt_ else ZERO,
                    cash_net=net(mt),
                ),
                requests_total=int(c[1]) if c else 0,
                done=int(d[1]) if d else 0,
                revenue=_money(d[2]) if d else ZERO,
                cash_net=net(m),
                in_work=int(in_work[city.id][1]) if city.id in in_work else 0,
            )
        )
    totals = s.SummaryFigures(
        today=s.Today(
            **_summed([i.today for i in items], ("requests_total", "done", "revenue", "cash_net")),
        ),
        **_summed(items, ("requests_total", "done", "revenue", "cash_net", "in_work")),
    )
    return s.SummaryReport(items=items, totals=totals, period=scope.period)


# Caching (SPEC §9) ------------------------------------------------------------------------------------------------
BUILDERS: dict[str, Callable[[AsyncSession, Scope], Awaitable[BaseModel]]] = {
    "cities": cities,
    "masters": masters,
    "campaigns": campaigns,
    "summary": summary,
}
# Besides the tag of each city it covers, what an entry depends on: "reports" (any coarse change), "people"
# (accounts, their cities and master profiles), "calls" (telephony), "recordings".
DEPENDS_ON: dict[str, tuple[str, ...]] = {
    "cities": ("reports", "people"),
    "masters": ("reports", "people"),
    "campaigns": ("reports", "calls"),
    "operators": ("reports", "people"),
    "summary": ("reports",),
    "metrics": ("reports", "people", "calls", "recordings"),
}


def tags_for(name: str) -> tuple[str, ...]:
    return DEPENDS_ON[name]


async def run(
    database: Database,
    cache: Cache,
    principal: Principal,
    name: str,
    query: ReportQuery,
    business_zone: str,
) -> dict[str, Any]:
    """The report ``name`` as JSON (money and rates as strings), cached by report, period and the cities covered
    (and, for an operator's own row, by the operator): never by URL, and never one caller's rows for another scope."""
    async with database.read_session() as session:
        scope = await resolve_scope(session, principal, name, query, business_zone)
    parts: dict[str, Any] = {
        "report": name,
        "cities": scope.city_ids,
        "from": scope.date_from,
        "to": scope.date_to,
        # The summary's "today" moves at each city's own midnight.
        "today": [[c.id, str(today(c.timezone))] for c in scope.cities] if name == "summary" else None,
        "operator": principal.id if name == "operators" and principal.role is Role.operator else None,
    }

    async def compute() -> dict[str, Any]:
        async with database.read_session() as session:
            report: BaseModel
            if name == "operators":
                report = await operators(session, scope, principal)
            else:
                report = await BUILDERS[name](session, scope)
        return report.model_dump(mode="json")

    tags = [*DEPENDS_ON[name], *(f"city:{c}" for c in scope.city_ids)]
    result: dict[str, Any] = await cache.get_or_compute("reports", parts, tags, compute)
    return result


def _city_tags(row: Any, *columns: str) -> set[str]:
    """The city tags of a written row: its city now and, when it moved, the one it left."""
    if row is None:
        return {"reports"}
    tags = set()
    for column in columns:
        state = inspect(row).attrs[column]
        for value in (state.value, *state.history.deleted):
            if value is not None:
                tags.add(f"city:{value}")
    return tags or {"reports"}


PEOPLE_FIELDS = ("status", "role", "full_name", "deleted_at")


def _people(row: Any) -> set[str]:
    """Accounts matter to reports by who they are, not by their sign-ins (``last_login_at`` changes all day)."""
    if row is None or not isinstance(row, User):
        return {"people"}
    state = inspect(row)
    if state.pending or state.deleted or any(state.attrs[f].history.has_changes() for f in PEOPLE_FIELDS):
        return {"people"}
    # Replacing the city list or the master profile removes rows as orphans, which a flush does not list as deleted.
    if any(state.attrs[r].history.has_changes() for r in ("cities", "master")):
        return {"people"}
    return set()


invalidated_by(Request.__tablename__, lambda row: _city_tags(row, "city_id"))
invalidated_by(Transaction.__tablename__, lambda row: _city_tags(row, "city_id"))
invalidated_by(Campaign.__tablename__, lambda row: _city_tags(row, "city_id"))
invalidated_by(Call.__tablename__, lambda row: {"calls"})
invalidated_by(CallRecording.__tablename__, lambda row: {"recordings"})
invalidated_by(User.__tablename__, _people)
invalidated_by(UserCity.__tablename__, lambda row: {"people"})
invalidated_by(MasterProfile.__tablename__, lambda row: {"people"})
invalidated_by(City.__tablename__, lambda row: {"reports"})
# A type's kind (income or expense) and code (first_time, repeat) decide which column a figure lands in.
invalidated_by(TransactionType.__tablename__, lambda row: {"reports"})
invalidated_by(RequestType.__tablename__, lambda row: {"reports"})
