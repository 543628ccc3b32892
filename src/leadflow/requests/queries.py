"""Reading requests: who sees which rows, the filtered and sorted lists every queue lives in, search, history."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal, scoped_to_cities
from leadflow.catalog import service as catalog
from leadflow.platform.db import matching, paginate, within
from leadflow.platform.periods import utc_bounds
from leadflow.platform.phones import PhoneError, normalize_phone
from leadflow.platform.problems import Forbidden, NotFound
from leadflow.platform.schemas import MAX_ID, PageParams
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.workflow import WITH_MASTER, Queue, Status, queue_statuses

SORTS = {
    "created_at": Request.created_at,
    "visit_at": Request.visit_at,
    "status": Request.status,
    "callback_at": Request.callback_at,
}
NULLABLE_SORTS = (Request.visit_at, Request.callback_at)
PHONE_LIKE = re.compile(r"^\+?[\d\s().-]*$")


@dataclass(frozen=True)
class Filters:
    queue: Queue | None = None
    statuses: tuple[Status, ...] = ()
    city_id: int | None = None
    master_id: int | None = None
    campaign_id: int | None = None
    request_type_id: int | None = None
    direction_id: int | None = None
    q: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    date_field: str = "created_at"


def scoped(principal: Principal) -> Select[Request]:
    """The live requests the principal may see: a master their own, everyone else those of their cities."""
    query = select(Request).where(Request.deleted_at.is_(None))
    if principal.role is Role.master:
        return query.where(Request.master_id == principal.id)
    return scoped_to_cities(query, Request.city_id, principal)


def _loaded(strategy: Any = joinedload) -> tuple[Any, ...]:
    return tuple(
        strategy(relation)
        for relation in (Request.city, Request.campaign, Request.request_type, Request.direction, Request.master)
    )


def _search(q: str, principal: Principal) -> Any:
    """``q`` matches a name or address fragment; when it looks like a phone (digits and separators only, three
    digits at least) a phone fragment as typed (``8 916 123`` finds ``7916123…``); when it is a number, the id.
    A marketer, who does not see the client's fields, searches by id only (a match would reveal them); a phone
    from a marketer is a 403."""
    text = q.strip()
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    phone_like = bool(PHONE_LIKE.match(text)) and len(digits) >= 3
    an_id = text.isascii() and text.isdigit() and int(text) <= MAX_ID
    conditions: list[Any] = []
    if principal.role is Role.marketer:
        if phone_like and not an_id:
            raise Forbidden("Marketers do not search by the client's phone.")
    else:
        conditions += [
            func.lower(Request.client_name).contains(text.lower(), autoescape=True),
            func.lower(Request.address).contains(text.lower(), autoescape=True),
        ]
    if phone_like and principal.role is not Role.marketer:
        with suppress(PhoneError):
            digits = normalize_phone(text)
        conditions.append(Request.client_phone.contains(digits, autoescape=True))
        if digits.startswith("8") and len(digits) < 11:  # the start of a number typed the Russian way: 8 916 …
            conditions.append(Request.client_phone.startswith("7" + digits[1:], autoescape=True))
    if an_id:
        conditions.append(Request.id == int(text))
    return or_(*conditions) if conditions else Request.id == -1


async def _filtered(
    session: AsyncSession, principal: Principal, filters: Filters, business_zone: str
) -> Select[Request]:
    query = scoped(principal)
    statuses = set(filters.statuses)
    if filters.queue is not None:
        in_queue = queue_statuses(filters.queue)
        statuses = statuses & in_queue if statuses else set(in_queue)
        if not statuses:
            return query.where(Request.id == -1)
    if statuses:
        query = query.where(Request.status.in_(sorted(statuses)))
    query = matching(
        query,
        (Request.city_id, filters.city_id),
        (Request.master_id, filters.master_id),
        (Request.campaign_id, filters.campaign_id),
        (Request.request_type_id, filters.request_type_id),
        (Request.direction_id, filters.direction_id),
    )
    if filters.q:
        query = query.where(_search(filters.q, principal))
    if filters.date_from or filters.date_to:
        zone = (
            await catalog.city_zone(session, filters.city_id, business_zone)
            if filters.city_id is not None
            else business_zone
        )
        moment = Request.visit_at if filters.date_field == "visit_at" else Request.created_at
        query = within(query, moment, *utc_bounds(filters.date_from, filters.date_to, zone))
    return query


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    filters: Filters,
    *,
    sort: str = "-created_at",
    business_zone: str,
) -> tuple[Sequence[Request], int]:
    """One page and the count of every matching row; filters and order in SQL, on the partial list indexes."""
    query = await _filtered(session, principal, filters, business_zone)
    column = SORTS[sort.lstrip("-")]
    ordered = column.desc() if sort.startswith("-") else column.asc()
    if column in NULLABLE_SORTS:  # requests without a visit or callback time go last, in either direction
        ordered = ordered.nulls_last()
    tie = Request.id.desc() if sort.startswith("-") else Request.id.asc()
    # selectinload: the page itself stays an index scan with LIMIT; the nested objects come in one query each.
    return await paginate(session, query.options(*_loaded(selectinload)), page, ordered, tie)


async def get_request(session: AsyncSession, principal: Principal, request_id: int) -> Request:
    found = await session.scalar(scoped(principal).options(*_loaded()).where(Request.id == request_id))
    if found is None:
        raise NotFound(f"No request with id {request_id}.")
    return found


async def reload_request(session: AsyncSession, request_id: int) -> Request:
    """The stored row with its nested objects, after a write (populate_existing refreshes the identity map)."""
    found = await session.scalar(
        select(Request).options(*_loaded()).where(Request.id == request_id).execution_options(populate_existing=True)
    )
    assert found is not None
    return found


async def list_events(
    session: AsyncSession, principal: Principal, request_id: int, page: PageParams
) -> tuple[Sequence[RequestEvent], int]:
    await get_request(session, principal, request_id)
    return await paginate(
        session, select(RequestEvent).where(RequestEvent.request_id == request_id), page, RequestEvent.id
    )


OPEN_JOB_STATUSES = frozenset({Status.awaiting_acceptance}) | WITH_MASTER  # a master's load: offered or in hand


async def open_jobs_by_master(session: AsyncSession, master_ids: Sequence[int]) -> dict[int, int]:
    """How many live requests each master holds (offered, accepted, en route, in progress, deferred): the load a
    dispatcher weighs when choosing a master; every id is in the answer (0 when idle)."""
    if not master_ids:
        return {}
    rows = await session.execute(
        select(Request.master_id, func.count())
        .where(
            Request.deleted_at.is_(None),
            Request.master_id.in_(master_ids),
            Request.status.in_(sorted(OPEN_JOB_STATUSES)),
        )
        .group_by(Request.master_id)
    )
    counts = {int(master): int(count) for master, count in rows.all() if master is not None}
    return {master: counts.get(master, 0) for master in master_ids}
