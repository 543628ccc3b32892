"""The provider webhook (public, signed) and the call list."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import parse_qsl

import structlog
from fastapi import APIRouter, Depends, Query, Request
from prometheus_client import Counter

from leadflow.accounts.policies import Principal, require_roles
from leadflow.administration.dependencies import Runtime
from leadflow.catalog import service as catalog
from leadflow.platform.api import API_PREFIX
from leadflow.platform.dependencies import ListExport, Paging, Session
from leadflow.platform.export import CSV_RESPONSES, csv_response
from leadflow.platform.params import IdQuery
from leadflow.platform.problems import PROBLEM_RESPONSES, NotFound, Problem
from leadflow.platform.schemas import Page
from leadflow.telephony import service
from leadflow.telephony.providers import MalformedWebhook, Provider, TelephonyNotConfigured
from leadflow.telephony.registry import KNOWN
from leadflow.telephony.schemas import CSV_COLUMNS, CallOut, Outcome, WebhookAnswer, csv_item

log = structlog.get_logger("leadflow.telephony")

router = APIRouter(prefix=API_PREFIX, tags=["telephony"], responses=PROBLEM_RESPONSES)
CallReader = Annotated[Principal, Depends(require_roles(*service.READERS))]
FORM = "application/x-www-form-urlencoded"
WEBHOOK_EVENTS = Counter(
    "leadflow_webhook_events_total",
    "Telephony deliveries by provider and outcome (or refusal).",
    ["provider", "outcome"],
)


class UnsupportedMediaType(Problem):
    status = 415
    type = "unsupported-media-type"


def _provider(request: Request, name: str) -> Provider:
    providers: dict[str, Provider] = request.app.state.telephony
    if name not in KNOWN:
        raise NotFound(f"No telephony provider {name!r}.")
    provider = providers.get(name)
    if provider is None:
        # Not a 5xx: nothing is wrong with the service, this deployment just does not take these calls.
        raise TelephonyNotConfigured(f"The {name} integration is not configured here (API key and salt).")
    return provider


def _form(content_type: str, body: bytes) -> dict[str, str]:
    if content_type.split(";")[0].strip().lower() != FORM:
        raise UnsupportedMediaType(f"The provider posts {FORM}; this body is {content_type or 'untyped'}.")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedWebhook("The body is not form data.") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:
            raise MalformedWebhook(f"The field {key!r} is repeated.")
        form[key] = value
    return form


@router.post(
    "/telephony/{provider}/events/{event:path}",
    response_model=WebhookAnswer,
    summary="Provider webhook (Mango Office: signed form of vpbx_api_key, sign, json)",
    description=(
        "Called by the telephony provider, not by users: no session, no CSRF; the signature is the authentication. "
        "`call` and `summary` events are recorded (SPEC §6.1); every other event (`recording`, `record/added`, "
        "`dtmf`, ...) is accepted, logged and otherwise ignored. A bad signature is 403 and changes nothing; a body "
        "that is not the documented form is 4xx and changes nothing."
    ),
)
async def webhook(provider: str, event: str, request: Request, session: Session, runtime: Runtime) -> WebhookAnswer:
    try:
        chosen = _provider(request, provider)
        event_name = event.strip("/").lower()
        form = _form(request.headers.get("content-type", ""), await request.body())
        parsed = chosen.parse(event_name, form)
    except Problem as problem:
        log.warning("telephony_rejected", provider=provider, telephony_event=event[:40], problem=problem.type)
        refusal = (problem.type or "problem").replace("-", "_")
        WEBHOOK_EVENTS.labels(provider if provider in KNOWN else "unknown", refusal).inc()
        raise
    outcome = await service.record(session, parsed, dt.timedelta(minutes=runtime.dedupe_window_minutes))
    WEBHOOK_EVENTS.labels(provider, outcome or "ignored").inc()
    return WebhookAnswer(status="ignored" if outcome is None else "accepted", outcome=outcome)


@router.get(
    "/calls",
    response_model=Page[CallOut],
    responses=CSV_RESPONSES,
    summary="List telephony calls (admin, director, operator; format=csv for all of them)",
)
async def list_calls(
    principal: CallReader,
    session: Session,
    paging: Paging,
    export: ListExport,
    runtime: Runtime,
    outcome: Outcome | None = None,
    city_id: IdQuery = None,
    campaign_id: IdQuery = None,
    request_id: IdQuery = None,
    date_from: Annotated[
        dt.date | None,
        Query(
            description="Calls started on or after this date (the city's zone with city_id, else the business zone)."
        ),
    ] = None,
    date_to: Annotated[dt.date | None, Query(description="Calls started on or before this date, inclusive.")] = None,
) -> Any:
    zone = (
        await catalog.city_zone(session, city_id, runtime.business_timezone) if city_id else runtime.business_timezone
    )
    filters: dict[str, Any] = {
        "outcome": outcome,
        "city_id": city_id,
        "campaign_id": campaign_id,
        "request_id": request_id,
        "date_from": date_from,
        "date_to": date_to,
    }
    if export.csv:
        batches = service.export_calls(session, principal, zone=zone, **filters)
        return csv_response("calls", CSV_COLUMNS, export.lang, batches, csv_item)
    rows, total = await service.list_calls(session, principal, paging, zone=zone, **filters)
    return paging.envelope(rows, total)
