"""Report periods in each city's own time zone (SPEC §8), as SQL conditions.

A period is a range of calendar dates; each city turns it into its own ``[start, end)`` in UTC. Cities that share a
zone (most of them) share one condition, so a report over many cities stays one short ``OR`` in one statement.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_

from leadflow.platform.periods import today, utc_bounds


@dataclass(frozen=True)
class CityWindow:
    """One city's period: its calendar dates and the UTC instants they cover."""

    city_id: int
    date_from: dt.date
    date_to: dt.date
    start: dt.datetime
    end: dt.datetime


def windows(cities: Iterable[tuple[int, str]], date_from: dt.date, date_to: dt.date) -> list[CityWindow]:
    """The period ``date_from..date_to`` of each ``(city_id, zone)``."""
    out = []
    for city_id, zone in cities:
        start, end = utc_bounds(date_from, date_to, zone)
        assert start is not None
        assert end is not None
        out.append(CityWindow(city_id, date_from, date_to, start, end))
    return out


def today_windows(cities: Iterable[tuple[int, str]]) -> list[CityWindow]:
    """Each city's today, in its own zone (two cities may be on different dates)."""
    out = []
    for city_id, zone in cities:
        day = today(zone)
        out.extend(windows([(city_id, zone)], day, day))
    return out


def during(column: Any, city_column: Any, spans: list[CityWindow]) -> ColumnElement[bool]:
    """``column`` (a UTC timestamp) falls in its row's city window (rows of other cities never match)."""
    groups: dict[tuple[dt.datetime, dt.datetime], list[int]] = defaultdict(list)
    for span in spans:
        groups[(span.start, span.end)].append(span.city_id)
    if not groups:
        return false()
    return or_(*(and_(city_column.in_(ids), column >= start, column < end) for (start, end), ids in groups.items()))


def on_dates(column: Any, city_column: Any, spans: list[CityWindow]) -> ColumnElement[bool]:
    """``column`` (a business date such as ``occurred_on``) falls in its row's city window."""
    groups: dict[tuple[dt.date, dt.date], list[int]] = defaultdict(list)
    for span in spans:
        groups[(span.date_from, span.date_to)].append(span.city_id)
    if not groups:
        return false()
    return or_(*(and_(city_column.in_(ids), column >= first, column <= last) for (first, last), ids in groups.items()))
