"""Time arithmetic in SQL that PostgreSQL and SQLite spell differently: the local calendar date of a UTC timestamp in
an IANA zone, and the seconds between two timestamps. SQLite gets the zone rules from Python (``zoneinfo``), through
a function registered on every connection (``platform.db``), so both backends give the same answer, DST included."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

SQLITE_LOCAL_DATE = "leadflow_local_date"


class local_date(FunctionElement[dt.date]):
    """``local_date(timestamp_column, zone)``: the calendar date of the instant in ``zone``."""

    type = Date()
    inherit_cache = True
    name = "local_date"


@compiles(local_date, "postgresql")
def _local_date_pg(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    column, zone = list(element.clauses)
    return f"CAST(timezone({compiler.process(zone, **kw)}, {compiler.process(column, **kw)}) AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: SQLCompiler, **kw: Any) -> str:
    column, zone = list(element.clauses)
    return f"{SQLITE_LOCAL_DATE}({compiler.process(column, **kw)}, {compiler.process(zone, **kw)})"


def sqlite_local_date(stored: str | None, zone: str) -> str | None:
    """The SQLite side: stored naive-UTC text in, ``YYYY-MM-DD`` out."""
    if stored is None:
        return None
    moment = dt.datetime.fromisoformat(stored).replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


class seconds_between(FunctionElement[float]):
    """``seconds_between(start, end)``: ``end − start`` in seconds."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between, "postgresql")
def _seconds_pg(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"EXTRACT(EPOCH FROM ({compiler.process(end, **kw)} - {compiler.process(start, **kw)}))"


@compiles(seconds_between, "sqlite")
def _seconds_sqlite(element: seconds_between, compiler: SQLCompiler, **kw: Any) -> str:
    start, end = list(element.clauses)
    return f"((julianday({compiler.process(end, **kw)}) - julianday({compiler.process(start, **kw)})) * 86400.0)"
