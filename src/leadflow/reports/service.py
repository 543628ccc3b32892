"""The reports' public entry (SPEC §8, §9): :func:`run` answers a report as JSON, cached by what it covers.

Who may read what and the default period are in ``access``, the five builders in ``builders/``, the statements they
share in ``sql``, the rates and totals in ``arithmetic``, and which writes make an entry stale in ``invalidation``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal
from leadflow.platform.cache import Cache
from leadflow.platform.db import Database
from leadflow.platform.periods import today
from leadflow.reports.access import REPORTS, ReportQuery, Scope, resolve_scope
from leadflow.reports.builders.campaigns import campaigns
from leadflow.reports.builders.cities import cities
from leadflow.reports.builders.masters import masters
from leadflow.reports.builders.operators import operators
from leadflow.reports.builders.summary import summary

__all__ = ["BUILDERS", "DEPENDS_ON", "REPORTS", "ReportQuery", "run", "tags_for"]

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
