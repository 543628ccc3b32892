"""Intake: a request taken by hand or created from a call, its references checked and its type (first time or
repeat) decided by the phone's history. Telephony calls :func:`open_request_for_caller` and
:func:`create_from_call` inside its own transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import INTAKE_WRITERS, Role
from leadflow.accounts.policies import Principal, may_see_city
from leadflow.campaigns import service as campaigns
from leadflow.catalog import service as catalog
from leadflow.catalog.models import FIRST_TIME, REPEAT
from leadflow.platform.concurrency import stale
from leadflow.platform.db import serialize, unit_of_work, utcnow
from leadflow.platform.problems import FieldError, Forbidden, ValidationProblem
from leadflow.requests.events import new_event
from leadflow.requests.models import Request
from leadflow.requests.queries import reload_request
from leadflow.requests.schemas import RequestCreate
from leadflow.requests.workflow import AWAITING, INTAKE, Status

OPEN_WORK = frozenset(AWAITING | {Status.accepted, Status.en_route, Status.in_progress, Status.deferred})


async def check_refs(
    session: AsyncSession, principal: Principal, values: dict[str, Any], city_id: int
) -> list[FieldError]:
    """What is wrong with the catalog and campaign ids in ``values`` (intake and edits check the same way)."""
    errors: list[FieldError] = []
    if "city_id" in values:
        city = await catalog.cities.find(session, city_id)
        if city is None or not city.active or not may_see_city(principal, city_id):
            errors.append(FieldError("city_id", "Unknown or inactive city, or not one of your cities."))
    if values.get("request_type_id") is not None:
        type_ = await catalog.request_types.find(session, values["request_type_id"])
        if type_ is None or not type_.active:
            errors.append(FieldError("request_type_id", "Unknown or inactive request type."))
    if values.get("direction_id") is not None:
        direction = await catalog.directions.find(session, values["direction_id"])
        if direction is None or not direction.active:
            errors.append(FieldError("direction_id", "Unknown or inactive direction."))
    if values.get("campaign_id") is not None:
        campaign = await campaigns.find_visible(session, principal, values["campaign_id"])
        if campaign is None or campaign.city_id != city_id:
            errors.append(FieldError("campaign_id", "Unknown campaign, or a campaign of another city."))
    return errors


async def type_for_phone(session: AsyncSession, phone: str) -> int:
    """first_time when this phone never had a request (any source, any city), else repeat."""
    seen = await session.scalar(select(Request.id).where(Request.client_phone == phone).limit(1))
    return await catalog.request_type_id(session, REPEAT if seen is not None else FIRST_TIME)


async def create_request(
    session: AsyncSession, principal: Principal, data: RequestCreate, *, source: str = "manual"
) -> Request:
    if principal.role not in INTAKE_WRITERS:
        raise Forbidden("Only operators, directors and admins take requests.")
    values = data.model_dump()
    errors = await check_refs(session, principal, values, data.city_id)
    if errors:
        raise ValidationProblem("The request is not valid; see errors.", errors)
    if values["request_type_id"] is None:
        # first_time or repeat is decided by the phone's history: intakes of one phone take turns.
        await serialize(session, "client-phone", data.client_phone)
        values["request_type_id"] = await type_for_phone(session, data.client_phone)
    now = utcnow()
    request = Request(
        **values,
        status=Status.new,
        source=source,
        operator_id=principal.id if principal.role is Role.operator else None,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    async with unit_of_work(session, stale):
        await session.flush()
        session.add(new_event(request, principal, "created", to=Status.new, source=source))
    return await reload_request(session, request.id)


# Telephony --------------------------------------------------------------------------------------------------------
async def open_request_for_caller(
    session: AsyncSession, phone: str, city_id: int, intake_since: dt.datetime
) -> Request | None:
    """The request a new call of this client is about (SPEC §6.1 step 3): in the same city, an open intake request
    created since ``intake_since`` (the dedupe window), or an open work request of any age. The newest wins."""
    row: Request | None = await session.scalar(
        select(Request)
        .where(
            Request.deleted_at.is_(None),
            Request.client_phone == phone,
            Request.city_id == city_id,
            or_(
                (Request.status.in_(INTAKE)) & (Request.created_at >= intake_since),
                Request.status.in_(OPEN_WORK),
            ),
        )
        .order_by(Request.created_at.desc(), Request.id.desc())
        .limit(1)
    )
    return row


async def create_from_call(
    session: AsyncSession, *, city_id: int, campaign_id: int, phone: str, line: str, entry_id: str, provider: str
) -> Request:
    """A lead from a call: status new, source telephony, typed by the phone's history. The caller's transaction
    (the telephony service's) commits it together with the call row."""
    now = utcnow()
    request = Request(
        status=Status.new,
        source="telephony",
        city_id=city_id,
        campaign_id=campaign_id,
        request_type_id=await type_for_phone(session, phone),
        client_phone=phone,
        ats_number=line,
        entry_id=entry_id,
        status_changed_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(request)
    await session.flush()
    session.add(
        new_event(request, None, "created", to=Status.new, source="telephony", entry_id=entry_id, provider=provider)
    )
    return request
