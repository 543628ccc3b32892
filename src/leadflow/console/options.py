"""The option lists a page's selects offer (cities, masters, campaigns, request types, directions), each from its
owning domain's service and scoped to the signed-in principal, and the masters of a city ordered by their load."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts import reads
from leadflow.accounts.policies import Principal, visible_city_ids
from leadflow.campaigns import service as campaigns
from leadflow.catalog import service as catalog
from leadflow.platform.problems import Problem
from leadflow.platform.schemas import MAX_PER_PAGE, PageParams
from leadflow.requests import queries

ALL = PageParams(page=1, per_page=MAX_PER_PAGE)


@dataclass(frozen=True)
class Option:
    id: int
    name: str
    extra: Any = None  # e.g. a master's load, a city's time zone


async def cities(session: AsyncSession, principal: Principal) -> list[Option]:
    return [Option(c.id, c.name, c.timezone) for c in await catalog.list_cities(session, visible_city_ids(principal))]


async def masters(session: AsyncSession, principal: Principal, city_id: int | None = None) -> list[Option]:
    try:
        rows, _ = await reads.list_masters(session, principal, ALL, city_id=city_id)
    except Problem:  # a role that may not list masters gets no such filter
        return []
    return [Option(u.id, u.full_name) for u in rows]


async def masters_by_load(
    session: AsyncSession, principal: Principal, city_id: int, day: dt.date, zone: str
) -> list[Option]:
    """The city's active masters with their jobs on ``day``, the least loaded first (then by name): whom to offer a
    request to, by the same load as intake's and the board's."""
    loads = await queries.master_load(session, principal, city_id, day, business_zone=zone)
    return [Option(m.master_id, m.name, m.jobs) for m in loads]


async def campaign_options(session: AsyncSession, principal: Principal, city_id: int | None = None) -> list[Option]:
    try:
        rows, _ = await campaigns.list_campaigns(session, principal, ALL, city_id=city_id)
    except Problem:
        return []
    return [Option(c.id, c.name) for c in rows]


async def request_types(session: AsyncSession) -> list[Option]:
    rows, _ = await catalog.request_types.list(session, ALL)
    return [Option(r.id, r.name, r.code) for r in rows]


async def directions(session: AsyncSession) -> list[Option]:
    rows, _ = await catalog.directions.list(session, ALL)
    return [Option(d.id, d.name) for d in rows]
