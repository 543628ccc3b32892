"""``GET /metrics`` (Prometheus, at the root) and ``GET /api/v1/metrics/business`` (JSON)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from leadflow.accounts.policies import Principal, current_principal
from leadflow.administration.dependencies import Runtime
from leadflow.observability import business
from leadflow.platform.api import API_PREFIX
from leadflow.platform.db import release
from leadflow.platform.dependencies import AppSettings, CacheDep, DatabaseDep, Session
from leadflow.platform.metrics import CONTENT_TYPE, METRICS_PATH, exposition
from leadflow.platform.problems import PROBLEM_RESPONSES, Forbidden, Unauthenticated
from leadflow.platform.security import in_networks
from leadflow.reports.params import Period

router = APIRouter(tags=["metrics"], responses=PROBLEM_RESPONSES)


async def may_scrape(request: Request, settings: AppSettings) -> None:
    """With METRICS_TOKEN: that bearer token (401 otherwise). Without: a client from METRICS_ALLOW (403)."""
    if settings.metrics_token:
        sent = request.headers.get("authorization", "")
        scheme, _, token = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), settings.metrics_token.encode()
        ):
            raise Unauthenticated("Scraping /metrics needs Authorization: Bearer with the metrics token.")
        return
    ip = getattr(request.state, "client_ip", None)
    if not ip or not in_networks(ip, settings.metrics_allow):
        raise Forbidden("This address may not scrape /metrics (LEADFLOW_METRICS_ALLOW).")


@router.get(
    METRICS_PATH,
    response_class=Response,
    dependencies=[Depends(may_scrape)],  # checked before anything touches the database
    summary="Prometheus metrics (bearer METRICS_TOKEN, or a client from METRICS_ALLOW)",
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format 0.0.4."}},
)
async def prometheus(cache: CacheDep) -> Response:
    # Nothing here touches the database: a scrape must work while it is down or its pool is exhausted.
    return Response(exposition(await business.snapshot_families(cache)), media_type=CONTENT_TYPE)


@router.get(
    f"{API_PREFIX}/metrics/business",
    summary="Business metrics (admin; directors for their cities)",
    description=(
        "Each aggregate is one SQL statement in its own session; one that fails is named in `missing` (and logged), "
        "the others are still correct. Period: `date_from`..`date_to` in the city's time zone (default: month to "
        "date)."
    ),
)
async def business_metrics(
    database: DatabaseDep,
    principal: Annotated[Principal, Depends(current_principal)],
    runtime: Runtime,
    cache: CacheDep,
    session: Session,
    query: Period,
) -> dict[str, Any]:
    await release(session)  # each aggregate reads on a session of its own
    return await business.business_metrics(database, cache, principal, query, runtime.business_timezone)
