"""Who reads which report (SPEC §1), the cities a report covers and its default period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import CAMPAIGN_WRITERS, INTAKE_WRITERS, MANAGERS, Role
from leadflow.accounts.policies import Principal, may_see_city, visible_city_ids
from leadflow.catalog import service as catalog
from leadflow.catalog.models import City
from leadflow.platform.periods import check_range, today
from leadflow.platform.problems import Forbidden, NotFound
from leadflow.reports import schemas as s
from leadflow.reports.windows import CityWindow, windows

# Who reads which report (SPEC §1). Scope within it: admin every city, the others their cities (visible_city_ids).
READERS: dict[str, frozenset[Role]] = {
    "cities": MANAGERS,
    "masters": MANAGERS,
    "campaigns": CAMPAIGN_WRITERS,
    "operators": INTAKE_WRITERS,
    "summary": CAMPAIGN_WRITERS,
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
