"""The query parameters every report shares (the period and the city), read once into a ``ReportQuery``: by the
report endpoints and by ``GET /metrics/business``, which answers for the same periods and scope."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query

from leadflow.platform.params import IdQuery
from leadflow.reports.access import ReportQuery

DateFrom = Annotated[
    dt.date | None,
    Query(description="First day, inclusive, in each city's time zone. Default: the first of the month."),
]
DateTo = Annotated[dt.date | None, Query(description="Last day, inclusive. Default: today.")]


async def report_query(date_from: DateFrom = None, date_to: DateTo = None, city_id: IdQuery = None) -> ReportQuery:
    return ReportQuery(date_from=date_from, date_to=date_to, city_id=city_id)


Period = Annotated[ReportQuery, Depends(report_query)]
