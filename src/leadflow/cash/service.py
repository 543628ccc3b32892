"""The cash desk (SPEC §8): transactions per city, the balance, and the master-handover income that the requests
domain books through :func:`sync_handover` inside its own database transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload

from leadflow.accounts import service as accounts
from leadflow.accounts.models import MANAGERS
from leadflow.accounts.policies import Principal, may_see_city, scoped_to_cities, visible_city_ids
from leadflow.campaigns import service as campaigns
from leadflow.cash.models import Transaction
from leadflow.cash.schemas import TransactionCreate, TransactionUpdate
from leadflow.catalog import service as catalog
from leadflow.catalog.models import MASTER_HANDOVER, TransactionType
from leadflow.platform.cache import Cache, invalidated_by
from leadflow.platform.concurrency import check_version
from leadflow.platform.db import stream, unit_of_work, utcnow
from leadflow.platform.money import ZERO, to_money
from leadflow.platform.periods import check_range, month_to_date
from leadflow.platform.problems import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from leadflow.platform.schemas import PageParams

CASHIERS = MANAGERS  # the cash desk is the managers'
SORTS = {"occurred_on": Transaction.occurred_on, "amount": Transaction.amount, "created_at": Transaction.created_at}


class ManagedByRequest(Conflict):
    type = "managed-by-request"

    def __init__(self) -> None:
        super().__init__(
            "This is a request's master-handover income; correct the request's money instead (PATCH /requests/{id})."
        )


def _check_cashier(principal: Principal) -> None:
    if principal.role not in CASHIERS:
        raise Forbidden("Only directors and admins work with the cash desk.")


def _visible(principal: Principal) -> Select[Transaction]:
    query = select(Transaction).join(Transaction.type).where(Transaction.deleted_at.is_(None))
    return scoped_to_cities(query, Transaction.city_id, principal)


def _filtered(
    principal: Principal,
    *,
    city_id: int | None,
    type_id: int | None,
    kind: str | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    request_id: int | None,
    campaign_id: int | None,
    master_id: int | None,
) -> Select[Transaction]:
    check_range(date_from, date_to)
    query = _visible(principal)
    for column, value in (
        (Transaction.city_id, city_id),
        (Transaction.type_id, type_id),
        (Transaction.request_id, request_id),
        (Transaction.campaign_id, campaign_id),
        (Transaction.master_id, master_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if kind is not None:
        query = query.where(TransactionType.kind == kind)
    if date_from is not None:
        query = query.where(Transaction.occurred_on >= date_from)
    if date_to is not None:
        query = query.where(Transaction.occurred_on <= date_to)
    return query


TRANSACTIONS_TAG = "transactions"


def _any_transaction(_row: Any) -> set[str]:
    return {TRANSACTIONS_TAG}


def register_cache_taggers() -> None:
    """Any committed write to transactions makes the cached list totals stale."""
    invalidated_by(Transaction.__tablename__, _any_transaction)


async def list_transactions(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    sort: str = "-occurred_on",
    cache: Cache | None = None,
    **filters: Any,
) -> tuple[Sequence[Transaction], int, dict[str, Decimal]]:
    """One page, the count and the income and expense sums of every match. The count and sums read every matching
    row; with ``cache`` they are kept per scope and filters until any transaction (or type) is written."""
    _check_cashier(principal)
    query = _filtered(principal, **filters)
    income = case((TransactionType.kind == "income", Transaction.amount), else_=0)
    expense = case((TransactionType.kind == "expense", Transaction.amount), else_=0)

    async def summed() -> list[Any]:
        row = (await session.execute(query.with_only_columns(func.count(), func.sum(income), func.sum(expense)))).one()
        return [int(row[0]), str(row[1] or 0), str(row[2] or 0)]

    if cache is None:
        count, income_sum, expense_sum = await summed()
    else:
        cities = visible_city_ids(principal)
        parts = {"cities": sorted(cities) if cities is not None else None, "filters": filters}
        tags = [TRANSACTIONS_TAG, "ref:transaction_types"]
        count, income_sum, expense_sum = await cache.get_or_compute("cash.totals", parts, tags, summed)
    rows = await session.scalars(
        query.options(joinedload(Transaction.type)).order_by(*_order(sort)).offset(page.offset).limit(page.per_page)
    )
    totals = {"income": to_money(income_sum), "expense": to_money(expense_sum)}
    totals["net"] = totals["income"] - totals["expense"]
    return rows.unique().all(), int(count), totals


def export_transactions(
    session: AsyncSession, principal: Principal, sort: str = "-occurred_on", **filters: Any
) -> AsyncIterator[Sequence[Transaction]]:
    """Every transaction the list would show with these filters, in its order, in batches (the CSV export); the
    caller and the filters are checked now, the rows read as the caller iterates."""
    _check_cashier(principal)
    query = _filtered(principal, **filters).options(contains_eager(Transaction.type))  # _visible joins the type
    return stream(session, query, *_order(sort))


def _order(sort: str) -> tuple[Any, Any]:
    column = SORTS[sort.lstrip("-")]
    return (column.desc(), Transaction.id.desc()) if sort.startswith("-") else (column.asc(), Transaction.id.asc())


async def get_transaction(session: AsyncSession, principal: Principal, transaction_id: int) -> Transaction:
    _check_cashier(principal)
    found = await session.scalar(
        _visible(principal).options(joinedload(Transaction.type)).where(Transaction.id == transaction_id)
    )
    if found is None:
        raise NotFound(f"No transaction with id {transaction_id}.")
    return found


async def _check_refs(
    session: AsyncSession, principal: Principal, values: dict[str, Any], changed: set[str] | None = None
) -> TransactionType:
    """The city is the caller's, the type is bookable, a campaign or master belongs to the same city. On an update
    (``changed`` given) only what the change touches is checked again: a note can still be corrected on a
    transaction whose campaign was deleted or whose master moved city since."""
    touched = changed if changed is not None else set(values)
    errors: list[FieldError] = []
    city_id = values["city_id"]
    if "city_id" in touched and (
        not may_see_city(principal, city_id) or not await catalog.city_ids_exist(session, {city_id})
    ):
        errors.append(FieldError("city_id", "Unknown city, or not one of your cities."))
    type_ = await catalog.transaction_types.find(session, values["type_id"])
    if type_ is None or ("type_id" in touched and not type_.active):
        errors.append(FieldError("type_id", "Unknown or inactive transaction type."))
    elif type_.code == MASTER_HANDOVER:
        errors.append(FieldError("type_id", "Master handover income is booked by the system when a request is done."))
    campaign_id, master_id = values.get("campaign_id"), values.get("master_id")
    if campaign_id is not None and touched & {"city_id", "campaign_id"}:
        campaign = await campaigns.find_visible(session, principal, campaign_id)
        if campaign is None or campaign.city_id != city_id:
            errors.append(FieldError("campaign_id", "Unknown campaign, or a campaign of another city."))
    if (
        master_id is not None
        and touched & {"city_id", "master_id"}
        and await accounts.master_city_id(session, master_id) != city_id
    ):
        errors.append(FieldError("master_id", "Unknown master, or a master of another city."))
    if errors:
        raise ValidationProblem("The transaction is not valid; see errors.", errors)
    assert type_ is not None
    return type_


def _changed_meanwhile() -> Conflict:  # a city, type, campaign or master removed by someone else in the meantime
    return Conflict("The transaction conflicts with a change made meanwhile; reload and try again.")


async def create_transaction(session: AsyncSession, principal: Principal, data: TransactionCreate) -> Transaction:
    _check_cashier(principal)
    values = data.model_dump()
    type_ = await _check_refs(session, principal, values)
    transaction = Transaction(**values, created_by_id=principal.id)
    transaction.type = type_
    async with unit_of_work(session, _changed_meanwhile):
        session.add(transaction)
    return transaction


async def update_transaction(
    session: AsyncSession, principal: Principal, transaction_id: int, data: TransactionUpdate, if_match: str | None
) -> Transaction:
    transaction = await get_transaction(session, principal, transaction_id)
    changes = data.changes()
    check_version(transaction.version, changes.pop("version", None), if_match)
    if transaction.request_id is not None:
        raise ManagedByRequest()
    merged = {
        field: changes.get(field, getattr(transaction, field))
        for field in ("city_id", "type_id", "campaign_id", "master_id")
    }
    type_ = await _check_refs(session, principal, merged, set(changes))
    async with unit_of_work(session, _changed_meanwhile):
        for field, value in changes.items():
            setattr(transaction, field, value)
        transaction.type = type_
    return transaction


async def delete_transaction(
    session: AsyncSession, principal: Principal, transaction_id: int, version: int | None, if_match: str | None
) -> None:
    """Soft delete of the version the caller read (SPEC §3.4: every write names it)."""
    transaction = await get_transaction(session, principal, transaction_id)
    check_version(transaction.version, version, if_match)
    if transaction.request_id is not None:
        raise ManagedByRequest()
    async with unit_of_work(session, _changed_meanwhile):
        transaction.deleted_at = utcnow()


# The master handover, booked for the requests domain --------------------------------------------------------------
async def sync_handover(
    session: AsyncSession,
    *,
    request_id: int,
    city_id: int,
    master_id: int | None,
    amount: Decimal | None,
    occurred_on: dt.date | None,
    actor_id: int | None,
) -> Transaction | None:
    """Make the request's live handover income match ``amount``: create it, correct it, or soft-delete it when the
    amount is None or not positive. Flushes, never commits: the caller's status change and this share one database
    transaction. The partial unique index on ``request_id`` keeps it single even under concurrent saves."""
    live = await session.scalar(
        select(Transaction).where(Transaction.request_id == request_id, Transaction.deleted_at.is_(None))
    )
    if amount is None or amount <= 0:
        if live is not None:
            live.deleted_at = utcnow()
            await session.flush()
        return None
    assert occurred_on is not None
    if live is None:
        type_ = await catalog.system_transaction_type(session, MASTER_HANDOVER)
        live = Transaction(
            city_id=city_id,
            type_id=type_.id,
            amount=amount,
            occurred_on=occurred_on,
            payment_reason=f"Master handover, request #{request_id}",
            request_id=request_id,
            master_id=master_id,
            created_by_id=actor_id,
        )
        session.add(live)
    else:
        live.amount, live.occurred_on, live.city_id, live.master_id = amount, occurred_on, city_id, master_id
    await session.flush()
    return live


# Balance ----------------------------------------------------------------------------------------------------------
async def balance(
    session: AsyncSession,
    principal: Principal,
    *,
    city_id: int | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    business_zone: str,
    cache: Cache | None = None,
) -> dict[str, Any]:
    """Per city and type: opening balance (everything before the period), income, expense, net, closing. One
    aggregate statement over all rows; cities without transactions show zeros. With ``cache`` the aggregate is kept
    until a transaction of one of these cities (or a transaction type) is written, in any process."""
    _check_cashier(principal)
    zone = await catalog.city_zone(session, city_id, business_zone) if city_id is not None else business_zone
    date_from, date_to = month_to_date(date_from, date_to, zone)  # "today" is the city's today
    if city_id is not None and not may_see_city(principal, city_id):
        raise NotFound(f"No city with id {city_id}.")
    wanted = frozenset({city_id}) if city_id is not None else visible_city_ids(principal)
    city_rows = await catalog.list_cities(session, wanted)
    if city_id is not None and not city_rows:
        raise NotFound(f"No city with id {city_id}.")
    before = case((Transaction.occurred_on < date_from, Transaction.amount), else_=0)
    within = case((Transaction.occurred_on >= date_from, Transaction.amount), else_=0)
    query = (
        select(
            Transaction.city_id,
            TransactionType.id,
            TransactionType.name,
            TransactionType.kind,
            func.sum(before),
            func.sum(within),
        )
        .join(TransactionType, TransactionType.id == Transaction.type_id)
        .where(Transaction.deleted_at.is_(None), Transaction.occurred_on <= date_to)
        .group_by(Transaction.city_id, TransactionType.id, TransactionType.name, TransactionType.kind)
        .order_by(TransactionType.name, TransactionType.id)
    )
    if wanted is not None:
        query = query.where(Transaction.city_id.in_(wanted))

    async def aggregate() -> list[list[Any]]:
        return [[*row[:4], str(row[4] or 0), str(row[5] or 0)] for row in await session.execute(query)]

    if cache is None:
        rows = await aggregate()
    else:
        parts = {"cities": sorted(c.id for c in city_rows), "from": date_from, "to": date_to}
        tags = ["reports", "ref:transaction_types", *(f"city:{c.id}" for c in city_rows)]
        rows = await cache.get_or_compute("cash.balance", parts, tags, aggregate)
    per_city: dict[int, list[Any]] = {}
    for row in rows:
        per_city.setdefault(row[0], []).append(row)

    items = []
    totals: dict[str, Decimal] = dict.fromkeys(("opening", "income", "expense", "net", "closing"), ZERO)
    for city in city_rows:
        opening = income = expense = ZERO
        by_type = []
        for _, type_id, name, kind, before_sum, within_sum in per_city.get(city.id, []):
            sign = 1 if kind == "income" else -1
            opening += sign * to_money(before_sum)
            amount = to_money(within_sum)
            if kind == "income":
                income += amount
            else:
                expense += amount
            if amount:
                by_type.append({"type_id": type_id, "name": name, "kind": kind, "amount": amount})
        net = income - expense
        item: dict[str, Any] = {
            "city_id": city.id,
            "city_name": city.name,
            "opening": opening,
            "income": income,
            "expense": expense,
            "net": net,
            "closing": opening + net,
            "by_type": by_type,
        }
        items.append(item)
        for key in totals:
            totals[key] += item[key]
    return {"items": items, "totals": totals, "period": {"date_from": date_from, "date_to": date_to}}
