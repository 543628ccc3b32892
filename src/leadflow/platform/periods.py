"""Date ranges as the API takes them (SPEC §4): inclusive calendar dates in a city's (or the business) time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from leadflow.platform.problems import FieldError, ValidationProblem

MAX_SPAN_DAYS = 3700  # about ten years: anything longer is a typo, not a report
# Business dates the service takes at all: far enough either way for any real ledger, near enough that converting a
# day to UTC bounds in any zone can never overflow.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


def check_date(value: dt.date) -> dt.date:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"Use a date from {EARLIEST} to {LATEST}.")
    return value


def check_range(date_from: dt.date | None, date_to: dt.date | None) -> None:
    errors = [
        FieldError(name, f"Use a date from {EARLIEST} to {LATEST}.")
        for name, value in (("date_from", date_from), ("date_to", date_to))
        if value is not None and not EARLIEST <= value <= LATEST
    ]
    if errors:
        raise ValidationProblem("The date is out of range.", errors)
    if date_from is not None and date_to is not None:
        if date_from > date_to:
            raise ValidationProblem(
                "date_from is after date_to.", [FieldError("date_from", "Must be on or before date_to.")]
            )
        if (date_to - date_from).days > MAX_SPAN_DAYS:
            raise ValidationProblem(
                "The period is too long.", [FieldError("date_to", "A period may span at most ten years.")]
            )


def utc_bounds(
    date_from: dt.date | None, date_to: dt.date | None, zone: str
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``[start, end)`` in UTC covering the calendar days ``date_from``..``date_to`` in ``zone``."""
    check_range(date_from, date_to)
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(date_from, dt.time(), tz).astimezone(dt.UTC) if date_from else None
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC) if date_to else None
    return start, end


def month_to_date(date_from: dt.date | None, date_to: dt.date | None, zone: str) -> tuple[dt.date, dt.date]:
    """The period a report-like call means when dates are left out: from the first of ``date_to``'s month (default
    today in ``zone``) to ``date_to``; checked like any range."""
    check_range(date_from, date_to)  # what the caller sent: only those fields are named in an error
    date_to = date_to or today(zone)
    date_from = date_from or date_to.replace(day=1)
    check_range(date_from, date_to)
    return date_from, date_to


def today(zone: str) -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


def local_date(moment: dt.datetime, zone: str) -> dt.date:
    return moment.astimezone(ZoneInfo(zone)).date()
