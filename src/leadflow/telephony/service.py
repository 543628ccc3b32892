"""Calls from the telephony provider: the idempotent upsert of SPEC §6.1 and the call list.

Every delivery is one database transaction that starts with ``INSERT … ON CONFLICT (entry_id) DO NOTHING``: the
database decides which of several concurrent deliveries of an entry is the first. Only the first routes the call
(campaign by line, attach or create a request); the others, and every later event, only widen the call's timings,
with SQL that keeps the earliest start and answer and the latest end whatever order the events arrive in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

import structlog
from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import INTAKE_WRITERS
from leadflow.accounts.policies import Principal, scoped_to_known_cities
from leadflow.campaigns import service as campaigns
from leadflow.platform.db import dialect_insert, matching, paginate, serialize, stream, utcnow, within
from leadflow.platform.events import Notification, announce
from leadflow.platform.periods import utc_bounds
from leadflow.platform.schemas import PageParams
from leadflow.requests import hooks as request_hooks
from leadflow.requests import intake as request_intake
from leadflow.telephony.models import Call
from leadflow.telephony.providers import CallEvent, Direction, EventKind

CALL_RECEIVED = "call.received"

log = structlog.get_logger("leadflow.telephony")

READERS = INTAKE_WRITERS  # who takes the calls reads them


def _earliest(column: Any, value: dt.datetime | None) -> Any:
    if value is None:
        return column
    return case((column.is_(None), value), (column > value, value), else_=column)


def _latest(column: Any, value: dt.datetime | None) -> Any:
    if value is None:
        return column
    return case((column.is_(None), value), (column < value, value), else_=column)


async def _claim(session: AsyncSession, event: CallEvent) -> int | None:
    """Insert the call row if this entry is new; the id when this delivery created it, else ``None``."""
    assert event.entry_id is not None
    assert event.at is not None
    values = {
        "provider": event.provider,
        "entry_id": event.entry_id,
        "caller": event.caller,
        "line": event.line,
        "direction": event.direction.value,
        "outcome": "ignored",
        "started_at": event.at,
        "answered_at": event.answered_at,
        "ended_at": event.ended_at,
        "duration_s": event.duration_s,
        "events": 1,
        "created_at": utcnow(),
        "updated_at": utcnow(),
    }
    insert = dialect_insert(session.get_bind().dialect.name)
    statement = insert(Call).values(**values).on_conflict_do_nothing(index_elements=["entry_id"]).returning(Call.id)
    return (await session.execute(statement)).scalar_one_or_none()


async def _route(session: AsyncSession, call_id: int, event: CallEvent, dedupe_window: dt.timedelta) -> str:
    """The first event of an entry decides what the call is (SPEC §6.1 steps 1–4)."""
    if event.direction is not Direction.inbound or event.caller is None or event.line is None:
        return "ignored"
    campaign = await campaigns.active_by_line(session, event.line)
    if campaign is None:
        await session.execute(update(Call).where(Call.id == call_id).values(outcome="unmatched_line"))
        return "unmatched_line"
    assert event.entry_id is not None
    # Two calls of one client at once (different entries) must not both create a lead: they take turns from here.
    await serialize(session, "client-phone", event.caller)
    request = await request_intake.open_request_for_caller(
        session, event.caller, campaign.city_id, utcnow() - dedupe_window
    )
    if request is not None:
        request_hooks.note_call(session, request, entry_id=event.entry_id, caller=event.caller, line=event.line)
        outcome = "attached"
    else:
        request = await request_intake.create_from_call(
            session,
            city_id=campaign.city_id,
            campaign_id=campaign.id,
            phone=event.caller,
            line=event.line,
            entry_id=event.entry_id,
            provider=event.provider,
        )
        outcome = "created_request"
    await session.execute(
        update(Call)
        .where(Call.id == call_id)
        .values(outcome=outcome, city_id=campaign.city_id, campaign_id=campaign.id, request_id=request.id)
    )
    # The open intake pages hear of the call (the statement writes above are not seen by a flush).
    announce(
        session,
        Notification(
            CALL_RECEIVED,
            {"id": call_id, "request_id": request.id, "city_id": campaign.city_id, "outcome": outcome},
            city_id=campaign.city_id,
        ),
    )
    return outcome


async def record(session: AsyncSession, event: CallEvent, dedupe_window: dt.timedelta) -> str | None:
    """Store one delivery and commit; the call's outcome, or ``None`` for events that carry no call."""
    if event.kind is EventKind.other or event.entry_id is None or event.at is None:
        log.info("telephony_event_ignored", provider=event.provider, telephony_event=event.name)
        return None
    call_id = await _claim(session, event)
    if call_id is not None:
        outcome = await _route(session, call_id, event, dedupe_window)
        await session.commit()
        log.info("call_recorded", provider=event.provider, telephony_event=event.name, call_id=call_id, outcome=outcome)
        return outcome
    changes: dict[str, Any] = {
        "events": Call.events + 1,
        "started_at": _earliest(Call.started_at, event.at),
        "answered_at": _earliest(Call.answered_at, event.answered_at),
        "ended_at": _latest(Call.ended_at, event.ended_at),
        "updated_at": utcnow(),
    }
    if event.duration_s is not None:
        changes["duration_s"] = event.duration_s
    current: str | None = await session.scalar(
        update(Call).where(Call.entry_id == event.entry_id).values(**changes).returning(Call.outcome)
    )
    await session.commit()
    log.info("call_updated", provider=event.provider, telephony_event=event.name, outcome=current)
    return current


def _visible(principal: Principal) -> Any:
    return scoped_to_known_cities(select(Call), Call.city_id, principal)


def _calls(
    principal: Principal,
    *,
    zone: str,
    outcome: str | None = None,
    city_id: int | None = None,
    campaign_id: int | None = None,
    request_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Any:
    query = matching(
        _visible(principal),
        (Call.outcome, outcome),
        (Call.city_id, city_id),
        (Call.campaign_id, campaign_id),
        (Call.request_id, request_id),
    )
    return within(query, Call.started_at, *utc_bounds(date_from, date_to, zone))


CALL_ORDER = (Call.started_at.desc(), Call.id.desc())


async def list_calls(
    session: AsyncSession, principal: Principal, page: PageParams, *, zone: str, **filters: Any
) -> tuple[Sequence[Call], int]:
    """One page of the calls in the caller's cities (filters: ``_calls``), newest first, and their count."""
    return await paginate(session, _calls(principal, zone=zone, **filters), page, *CALL_ORDER)


def export_calls(
    session: AsyncSession, principal: Principal, *, zone: str, **filters: Any
) -> AsyncIterator[Sequence[Call]]:
    """Every call the list would show, in its order, in batches (the CSV export)."""
    return stream(session, _calls(principal, zone=zone, **filters), *CALL_ORDER)


async def find_call(session: AsyncSession, caller: str, around: dt.datetime, window: dt.timedelta) -> Call | None:
    """The call of this caller that started nearest to ``around`` within ``window`` (for recordings)."""
    rows = await session.scalars(
        select(Call).where(
            Call.caller == caller, Call.started_at >= around - window, Call.started_at <= around + window
        )
    )
    calls = rows.all()
    return min(calls, key=lambda c: abs((c.started_at - around).total_seconds()), default=None)


# Personal data (SPEC §11) -------------------------------------------------------------------------------------------
async def calls_of_caller(session: AsyncSession, phone: str) -> Sequence[Call]:
    """Every call from ``phone`` (normalized), oldest first: what the export shows."""
    return (await session.scalars(select(Call).where(Call.caller == phone).order_by(Call.started_at, Call.id))).all()


async def erase_caller(session: AsyncSession, phone: str) -> int:
    """Forget the caller's number on their calls (as a hidden caller id reads); the outcome, line, campaign, request
    and timings stay, so the call counts do not change. Joins the caller's transaction; the number of calls."""
    result = await session.execute(
        update(Call)
        .where(Call.caller == phone)
        .values(caller=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
