"""Report endpoints (SPEC §8): JSON, or CSV with ``format=csv``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel

from leadflow.accounts.policies import Principal, current_principal
from leadflow.administration.dependencies import Runtime
from leadflow.platform.api import API_PREFIX
from leadflow.platform.db import release
from leadflow.platform.dependencies import CacheDep, DatabaseDep, Session
from leadflow.platform.export import CSV_RESPONSES, MEDIA_TYPE, attachment, language
from leadflow.platform.params import AcceptLanguage, IdQuery, LangQuery, ReportFormat
from leadflow.platform.problems import PROBLEM_RESPONSES
from leadflow.reports import schemas, service
from leadflow.reports.export import to_csv
from leadflow.reports.params import DateFrom, DateTo, report_query

router = APIRouter(prefix=API_PREFIX, tags=["reports"], responses=PROBLEM_RESPONSES)
SignedIn = Annotated[Principal, Depends(current_principal)]

MODELS: dict[str, type[BaseModel]] = {
    "cities": schemas.CitiesReport,
    "masters": schemas.MastersReport,
    "campaigns": schemas.CampaignsReport,
    "operators": schemas.OperatorsReport,
    "summary": schemas.SummaryReport,
}
SUMMARIES = {
    "cities": "Requests, conversion, money and cash per city",
    "masters": "Assignments, conversion, money and earnings per master",
    "campaigns": "Calls, requests, conversion, ad spend, cost per request and ROI per campaign",
    "operators": "Requests handled, booked, refused and not reached per operator",
    "summary": "Dashboard tiles: today and the period, per city",
}
READ_BY = {
    "cities": "admin, directors (their cities)",
    "masters": "admin, directors (their cities)",
    "campaigns": "admin, directors and marketers (their cities)",
    "operators": "admin, directors (their cities), an operator (their own row)",
    "summary": "admin, directors and marketers (their cities)",
}


def _mount(name: str) -> None:
    async def endpoint(
        database: DatabaseDep,
        principal: SignedIn,
        runtime: Runtime,
        cache: CacheDep,
        session: Session,
        date_from: DateFrom = None,
        date_to: DateTo = None,
        city_id: IdQuery = None,
        format: ReportFormat = "json",
        lang: LangQuery = None,
        accept_language: AcceptLanguage = None,
    ) -> Any:
        await release(session)  # the report reads on sessions of its own
        query = await report_query(date_from, date_to, city_id)
        body = await service.run(database, cache, principal, name, query, runtime.business_timezone)
        if format == "csv":
            period = body["period"]
            filename = f"{name}-{period['date_from']}-{period['date_to']}.csv"
            return Response(
                to_csv(name, body, language(lang, accept_language)),
                media_type=MEDIA_TYPE,
                headers=attachment(filename),
            )
        return body

    router.add_api_route(
        f"/reports/{name}",
        endpoint,
        methods=["GET"],
        response_model=MODELS[name],
        responses=CSV_RESPONSES,
        summary=SUMMARIES[name],
        description=(
            f"Read by {READ_BY[name]}. Aggregated in SQL over every matching row; periods in each city's time zone; "
            "rates are percentages as strings, null when the denominator is zero. Definitions: docs/reports.md."
        ),
        name=f"report_{name}",
    )


for _name in service.REPORTS:
    _mount(_name)
