"""Reading requests: who sees which rows, the filtered and sorted lists every queue lives in, search, history."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, selectinload

from leadflow.accounts.models import MasterProfile, Role, User, UserStatus
from leadflow.accounts.policies import Principal, may_see_city, scoped_to_cities, visible_city_ids
from leadflow.accounts.scope import masters_query
from leadflow.campaigns.models import Campaign
from leadflow.catalog import service as catalog
from leadflow.catalog.models import City, Direction, RequestType
from leadflow.platform.cache import Cache, invalidated_by
from leadflow.platform.db import count, matching, page_of, paginate, stream, within
from leadflow.platform.periods import utc_bounds
from leadflow.platform.phones import PhoneError, normalize_phone
from leadflow.platform.problems import Forbidden, NotFound
from leadflow.platform.schemas import MAX_ID, PageParams
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.workflow import ON_BOARD, Queue, Status, queue_statuses

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
    cache: Cache | None = None,
) -> tuple[Sequence[Request], int]:
    """One page and the count of every matching row; filters and order in SQL, on the partial list indexes. With
    ``cache`` the count is :func:`cached_count`'s (the console's queues and lists refetch after every write)."""
    query = await _filtered(session, principal, filters, business_zone)
    # selectinload: the page itself stays an index scan with LIMIT; the nested objects come in one query each.
    if cache is None:
        return await paginate(session, query.options(*_loaded(selectinload)), page, *_order(sort))
    total = await cached_count(session, cache, principal, filters, query, business_zone)
    if total == 0 or page.offset >= total:
        return [], total
    return await page_of(session, query.options(*_loaded(selectinload)), page, *_order(sort)), total


# The list item's own columns (RequestListItem); the nested objects are joined to the page (see list_page).
ITEM_COLUMNS = (
    "id", "status", "source", "city_id", "campaign_id", "request_type_id", "direction_id", "client_phone",
    "client_name", "address", "visit_at", "problem", "master_id", "master_notes", "result", "expenses", "net_amount",
    "master_handover", "company_share", "ats_number", "operator_id", "call_center_notes", "callback_at", "version",
    "created_at", "updated_at", "status_changed_at", "completed_at",
)  # fmt: skip
NESTED: dict[str, tuple[Any, tuple[str, ...]]] = {
    "city": (City, ("id", "name", "timezone")),
    "campaign": (Campaign, ("id", "name", "channel", "phone")),
    "request_type": (RequestType, ("id", "code", "name")),
    "direction": (Direction, ("id", "name")),
    "master": (User, ("id", "full_name")),
}
_ALIASES: dict[str, Any] = {name: aliased(model, name=f"n_{name}") for name, (model, _) in NESTED.items()}
# Built once: the columns of a list page and the joins to its nested objects.
_ITEM_SELECT = select(
    *(getattr(Request, c) for c in ITEM_COLUMNS),
    *(getattr(_ALIASES[n], c).label(f"{n}.{c}") for n, (_, columns) in NESTED.items() for c in columns),
)
_NESTED_JOINS = tuple((_ALIASES[n], _ALIASES[n].id == getattr(Request, f"{n}_id")) for n in NESTED)
REQUESTS_TAG = "requests"


# A list page shows, besides the requests' own columns, the names of cities, types, directions, campaigns and masters:
# their own writes bump these (catalog's reference tags, the reports' "people", "campaigns" below).
PAGE_TAGS = [REQUESTS_TAG, "campaigns", "people", "ref:cities", "ref:directions", "ref:request_types"]


def _any_request(_row: Any) -> set[str]:
    return {REQUESTS_TAG}


def _any_campaign(_row: Any) -> set[str]:
    return {"campaigns"}


def register_cache_taggers() -> None:
    """Any committed write to requests (a row or a bulk statement) makes the cached counts and pages stale; a
    campaign's, the pages."""
    invalidated_by(Request.__tablename__, _any_request)
    invalidated_by(Campaign.__tablename__, _any_campaign)


def scope_key(principal: Principal) -> dict[str, Any]:
    """What decides which requests a principal sees, for cache keys: the role, the master, the cities."""
    cities = visible_city_ids(principal)
    return {
        "role": principal.role.value,
        "master": principal.id if principal.role is Role.master else None,
        "cities": sorted(cities) if cities is not None else None,
    }


async def cached_page(
    cache: Cache,
    principal: Principal,
    page: PageParams,
    filters: Filters,
    sort: str,
    business_zone: str,
    render: Callable[[], Awaitable[str]],
) -> str:
    """A list page as the API sends it (``render()``'s JSON text), kept per scope, filters, order and page until a
    request, or a name the page shows, is written, in any process. Thirty open work lists that refetch after one
    call cost one query."""
    parts = {
        "scope": scope_key(principal),
        "filters": asdict(filters),
        "sort": sort,
        "page": [page.page, page.per_page],
        "zone": business_zone,
    }
    return str(await cache.get_or_compute("requests.page", parts, PAGE_TAGS, render))


async def list_page(
    session: AsyncSession,
    cache: Cache,
    principal: Principal,
    page: PageParams,
    filters: Filters,
    *,
    sort: str = "-created_at",
    business_zone: str,
) -> tuple[list[dict[str, Any]], int]:
    """The API's list: one page as plain dicts shaped like ``RequestListItem`` and the count of every match.

    One statement: the page's ids are chosen alone (index scan + ``LIMIT``), then joined to their nested objects,
    and only the columns the item shows are read (no ORM objects). The count is the costly part (every matching
    row): it is cached per scope and filters and recomputed after any write to requests, so it is exact."""
    query = await _filtered(session, principal, filters, business_zone)
    total = await cached_count(session, cache, principal, filters, query, business_zone)
    if total == 0 or page.offset >= total:
        return [], total
    order = _order(sort)
    chosen = query.with_only_columns(Request.id).order_by(*order).offset(page.offset).limit(page.per_page).subquery()
    return [_item(row) for row in (await session.execute(_joined(chosen).order_by(*order))).mappings()], total


def _joined(chosen: Any) -> Select[Any]:
    """The item's columns of the requests whose ids ``chosen`` holds, with their nested objects."""
    joined = _ITEM_SELECT.join(chosen, chosen.c.id == Request.id)
    for alias, on in _NESTED_JOINS:
        joined = joined.outerjoin(alias, on)
    return joined


def _item(row: Any) -> dict[str, Any]:
    item: dict[str, Any] = {c: row[c] for c in ITEM_COLUMNS}
    for name, (_, columns) in NESTED.items():
        item[name] = {c: row[f"{name}.{c}"] for c in columns} if row[f"{name}.id"] is not None else None
    return item


async def get_item(session: AsyncSession, principal: Principal, request_id: int) -> dict[str, Any]:
    """One request as the API reads it (``RequestOut`` without its files and recordings), in one statement."""
    chosen = scoped(principal).with_only_columns(Request.id).where(Request.id == request_id).subquery()
    row = (await session.execute(_joined(chosen))).mappings().first()
    if row is None:
        raise NotFound(f"No request with id {request_id}.")
    return _item(row)


async def cached_count(
    session: AsyncSession, cache: Cache, principal: Principal, filters: Filters, query: Select[Request], zone: str
) -> int:
    """How many live requests match, from the cache unless a request was written since it was counted (in any
    process: the ``requests`` tag generation is read on every call). Concurrent misses of one key count once."""
    parts = {"scope": scope_key(principal), "filters": asdict(filters), "zone": zone}
    tags = [REQUESTS_TAG, "ref:cities"] if filters.date_from or filters.date_to else [REQUESTS_TAG]

    return int(await cache.get_or_compute("requests.count", parts, tags, lambda: count(session, query)))


async def export_requests(
    session: AsyncSession, principal: Principal, filters: Filters, *, sort: str = "-created_at", business_zone: str
) -> AsyncIterator[Sequence[Request]]:
    """Every request the list would show with these filters, in its order, in batches (the CSV export). The filters
    are checked now (a refused search is refused before any row is sent); the rows are read as the caller iterates."""
    query = await _filtered(session, principal, filters, business_zone)
    return stream(session, query.options(*_loaded(selectinload)), *_order(sort))


def _order(sort: str) -> tuple[Any, Any]:
    column = SORTS[sort.lstrip("-")]
    ordered = column.desc() if sort.startswith("-") else column.asc()
    if column in NULLABLE_SORTS:  # requests without a visit or callback time go last, in either direction
        ordered = ordered.nulls_last()
    return ordered, Request.id.desc() if sort.startswith("-") else Request.id.asc()


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


@dataclass(frozen=True)
class MasterLoad:
    master_id: int
    name: str
    jobs: int


@dataclass(frozen=True)
class DispatchDay:
    """What the dispatch board shows for a city and a day (SPEC §14)."""

    tray: list[Request]  # awaiting dispatch in the city, whatever the day: earliest visit first, no time last
    jobs: list[Request]  # the masters' jobs whose visit falls on the day, by visit time
    masters: list[MasterLoad]  # the city's active masters, least loaded first (then by name)


async def dispatch_day(
    session: AsyncSession, principal: Principal, city_id: int, start: dt.datetime, end: dt.datetime
) -> DispatchDay:
    """The board of ``city_id`` for the visits in ``[start, end)``: the unassigned tray, the day's jobs of the
    masters and each active master's load that day. Scoped like every read (another city's board is empty)."""
    in_city = scoped(principal).where(Request.city_id == city_id).options(*_loaded(selectinload))
    tray = await session.scalars(
        in_city.where(Request.status == Status.awaiting_dispatch).order_by(
            Request.visit_at.asc().nulls_last(), Request.id
        )
    )
    jobs = list(
        await session.scalars(
            within(
                in_city.where(Request.status.in_(sorted(ON_BOARD)), Request.master_id.is_not(None)),
                Request.visit_at,
                start,
                end,
            ).order_by(Request.visit_at, Request.id)
        )
    )
    return DispatchDay(list(tray), jobs, await _load_between(session, principal, city_id, start, end))


# The caller's history and the masters' load (what intake shows beside a call) -------------------------------------
CLOSED = (Status.done, Status.refused)


@dataclass(frozen=True)
class ClientHistory:
    """What the principal may know of one phone: how many requests it made, its last done job (when and whose) and
    the requests of it still open (intake or work), newest first."""

    requests: int = 0
    last_done_at: dt.datetime | None = None
    last_master: str | None = None
    open_ids: tuple[int, ...] = ()

    def open_besides(self, request_id: int | None) -> tuple[int, ...]:
        """The other open requests of this phone: a duplicate to look at before booking ``request_id``."""
        return tuple(i for i in self.open_ids if i != request_id)


async def client_histories(
    session: AsyncSession, principal: Principal, phones: Sequence[str]
) -> dict[str, ClientHistory]:
    """:class:`ClientHistory` of each phone (normalized digits), within the principal's scope: three queries
    whatever the number of phones. A marketer, who does not see clients, may not ask (403)."""
    if principal.role is Role.marketer:
        raise Forbidden("Marketers do not read the client's history.")
    wanted = sorted(set(phones))
    if not wanted:
        return {}
    mine = scoped(principal).where(Request.client_phone.in_(wanted)).subquery()
    counted = await session.execute(select(mine.c.client_phone, func.count()).group_by(mine.c.client_phone))
    counts: dict[str, int] = {phone: int(n) for phone, n in counted}
    done = await session.execute(
        select(mine.c.client_phone, mine.c.completed_at, User.full_name)
        .outerjoin(User, User.id == mine.c.master_id)
        .where(mine.c.status == Status.done, mine.c.completed_at.is_not(None))
        .order_by(mine.c.completed_at.desc(), mine.c.id.desc())
    )
    last: dict[str, tuple[dt.datetime, str | None]] = {}
    for phone, completed_at, master in done:
        last.setdefault(phone, (completed_at, master))
    still_open = await session.execute(
        select(mine.c.client_phone, mine.c.id)
        .where(mine.c.status.not_in(CLOSED))
        .order_by(mine.c.created_at.desc(), mine.c.id.desc())
    )
    open_ids: dict[str, list[int]] = {}
    for phone, request_id in still_open:
        open_ids.setdefault(phone, []).append(request_id)
    found: dict[str, ClientHistory] = {}
    for phone in wanted:
        completed, master = last.get(phone, (None, None))
        found[phone] = ClientHistory(
            requests=counts.get(phone, 0),
            last_done_at=completed,
            last_master=master,
            open_ids=tuple(open_ids.get(phone, ())),
        )
    return found


async def client_history(session: AsyncSession, principal: Principal, phone: str) -> ClientHistory:
    return (await client_histories(session, principal, [phone]))[phone]


async def master_load(
    session: AsyncSession, principal: Principal, city_id: int, day: dt.date, *, business_zone: str
) -> list[MasterLoad]:
    """Each active master of the city with the number of their jobs (not refused) whose visit falls on ``day`` in
    the city's time zone, least loaded first. A city the principal may not see is a 404."""
    if principal.role is Role.master or not may_see_city(principal, city_id):
        raise NotFound(f"No city with id {city_id}.")
    zone = await catalog.city_zone(session, city_id, business_zone)
    start, end = utc_bounds(day, day, zone)
    assert start is not None  # both bounds of a given day
    assert end is not None
    return await _load_between(session, principal, city_id, start, end)


async def _load_between(
    session: AsyncSession, principal: Principal, city_id: int, start: dt.datetime, end: dt.datetime
) -> list[MasterLoad]:
    """The city's active masters with their jobs (offered, taken, under way or done) visited in ``[start, end)``,
    least loaded first, then by name: the one definition of a master's load, for intake and the board."""
    masters = masters_query(principal).where(User.status == UserStatus.active, MasterProfile.city_id == city_id)
    counted = (
        select(Request.master_id, func.count().label("jobs"))
        .where(
            Request.deleted_at.is_(None),
            Request.city_id == city_id,
            Request.status != Status.refused,
            Request.master_id.is_not(None),
            Request.visit_at >= start,
            Request.visit_at < end,
        )
        .group_by(Request.master_id)
        .subquery()
    )
    rows = await session.execute(
        masters.with_only_columns(User.id, User.full_name, func.coalesce(counted.c.jobs, 0))
        .outerjoin(counted, counted.c.master_id == User.id)
        .order_by(func.coalesce(counted.c.jobs, 0), User.full_name, User.id)
    )
    return [MasterLoad(master_id, name, int(count)) for master_id, name, count in rows]
