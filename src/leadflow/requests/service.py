"""Requests: intake, the list and search, the state machine of SPEC §3.2, the money of §3.3 and the history.

Every write is one database transaction: the request row (guarded by its version), its event rows and the linked
handover income (through ``cash.service``) commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from leadflow.accounts import service as accounts
from leadflow.accounts.models import Role, User
from leadflow.accounts.policies import Principal, may_see_city, scoped_to_cities
from leadflow.campaigns import service as campaigns
from leadflow.cash import service as cash
from leadflow.catalog import service as catalog
from leadflow.catalog.models import DEFAULT_TIMEZONE, FIRST_TIME, REPEAT
from leadflow.platform.concurrency import check_version, stale
from leadflow.platform.db import paginate, serialize, unit_of_work, utcnow, within
from leadflow.platform.money import to_money
from leadflow.platform.periods import local_date, month_to_date, utc_bounds
from leadflow.platform.phones import PhoneError, normalize_phone
from leadflow.platform.problems import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from leadflow.platform.schemas import MAX_ID, PageParams, utc_iso
from leadflow.requests import money
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.schemas import RequestCreate, RequestUpdate, TransitionIn
from leadflow.requests.workflow import (
    AWAITING,
    INTAKE,
    Need,
    Queue,
    Status,
    allowed_targets,
    find_move,
    queue_statuses,
)

INTAKE_WRITERS = frozenset({Role.admin, Role.director, Role.operator})
INTAKE_FIELDS = frozenset(RequestCreate.model_fields)  # what intake fills in is what intake may edit later
MONEY_FIELDS = frozenset({"result", "expenses"})
SORTS = {
    "created_at": Request.created_at,
    "visit_at": Request.visit_at,
    "status": Request.status,
    "callback_at": Request.callback_at,
}
NULLABLE_SORTS = (Request.visit_at, Request.callback_at)
MOVE_FIELDS = ("master_id", "result", "expenses", "callback_at")  # the body fields only some moves take


class InvalidTransition(Conflict):
    type = "invalid-transition"


class FieldLocked(Conflict):
    type = "field-locked"


@dataclass(frozen=True)
class Filters:
    queue: Queue | None = None
    statuses: tuple[Status, ...] = ()
    city_id: int | None = None
    master_id: int | None = None
    campaign_id: int | None = None
    request_type_id: int | None = None
    direction_id: int | None = None
    q: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    date_field: str = "created_at"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _event(
    request: Request, actor: Principal | None, kind: str, *, to: str | None = None, frm: str | None = None, **data: Any
) -> RequestEvent:
    clean = {k: _jsonable(v) for k, v in data.items() if v is not None}
    return RequestEvent(
        request_id=request.id,
        actor_id=actor.id if actor else None,
        kind=kind,
        from_status=frm,
        to_status=to,
        data=clean or None,
    )


# Reading ----------------------------------------------------------------------------------------------------------
def _scoped(principal: Principal) -> Select[Request]:
    query = select(Request).where(Request.deleted_at.is_(None))
    if principal.role is Role.master:
        return query.where(Request.master_id == principal.id)
    return scoped_to_cities(query, Request.city_id, principal)


def _loaded(strategy: Any = joinedload) -> tuple[Any, ...]:
    return tuple(
        strategy(relation)
        for relation in (Request.city, Request.campaign, Request.request_type, Request.direction, Request.master)
    )


PHONE_LIKE = re.compile(r"^\+?[\d\s().-]*$")


def _search(q: str) -> Any:
    """``q`` matches a name or address fragment; when it looks like a phone (digits and separators only, three
    digits at least) a phone fragment as typed (``8 916 123`` finds ``7916123…``); when it is a number, the id."""
    text = q.strip()
    conditions = [
        func.lower(Request.client_name).contains(text.lower(), autoescape=True),
        func.lower(Request.address).contains(text.lower(), autoescape=True),
    ]
    digits = "".join(ch for ch in text if ch.isascii() and ch.isdigit())
    if PHONE_LIKE.match(text) and len(digits) >= 3:
        with suppress(PhoneError):
            digits = normalize_phone(text)
        conditions.append(Request.client_phone.contains(digits, autoescape=True))
        if digits.startswith("8") and len(digits) < 11:  # the start of a number typed the Russian way: 8 916 …
            conditions.append(Request.client_phone.startswith("7" + digits[1:], autoescape=True))
    if text.isascii() and text.isdigit() and int(text) <= MAX_ID:
        conditions.append(Request.id == int(text))
    return or_(*conditions)


async def _filtered(
    session: AsyncSession, principal: Principal, filters: Filters, business_zone: str
) -> Select[Request]:
    query = _scoped(principal)
    statuses = set(filters.statuses)
    if filters.queue is not None:
        in_queue = queue_statuses(filters.queue)
        statuses = statuses & in_queue if statuses else set(in_queue)
        if not statuses:
            return query.where(Request.id == -1)
    if statuses:
        query = query.where(Request.status.in_(sorted(statuses)))
    for column, value in (
        (Request.city_id, filters.city_id),
        (Request.master_id, filters.master_id),
        (Request.campaign_id, filters.campaign_id),
        (Request.request_type_id, filters.request_type_id),
        (Request.direction_id, filters.direction_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.q:
        query = query.where(_search(filters.q))
    if filters.date_from or filters.date_to:
        zone = (
            await catalog.city_zone(session, filters.city_id, business_zone)
            if filters.city_id is not None
            else business_zone
        )
        moment = Request.visit_at if filters.date_field == "visit_at" else Request.created_at
        query = within(query, moment, *utc_bounds(filters.date_from, filters.date_to, zone))
    return query


async def list_requests(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    filters: Filters,
    *,
    sort: str = "-created_at",
    business_zone: str,
) -> tuple[Sequence[Request], int]:
    """One page and the count of every matching row; filters and order in SQL, on the partial list indexes."""
    query = await _filtered(session, principal, filters, business_zone)
    column = SORTS[sort.lstrip("-")]
    ordered = column.desc() if sort.startswith("-") else column.asc()
    if column in NULLABLE_SORTS:  # requests without a visit or callback time go last, in either direction
        ordered = ordered.nulls_last()
    tie = Request.id.desc() if sort.startswith("-") else Request.id.asc()
    # selectinload: the page itself stays an index scan with LIMIT; the nested objects come in one query each.
    return await paginate(session, query.options(*_loaded(selectinload)), page, ordered, tie)


async def get_request(session: AsyncSession, principal: Principal, request_id: int) -> Request:
    found = await session.scalar(_scoped(principal).options(*_loaded()).where(Request.id == request_id))
    if found is None:
        raise NotFound(f"No request with id {request_id}.")
    return found


async def _reload(session: AsyncSession, request_id: int) -> Request:
    """The stored row with its nested objects, after a write (populate_existing refreshes the identity map)."""
    found = await session.scalar(
        select(Request).options(*_loaded()).where(Request.id == request_id).execution_options(populate_existing=True)
    )
    assert found is not None
    return found


async def list_events(
    session: AsyncSession, principal: Principal, request_id: int, page: PageParams
) -> tuple[Sequence[RequestEvent], int]:
    await get_request(session, principal, request_id)
    return await paginate(
        session, select(RequestEvent).where(RequestEvent.request_id == request_id), page, RequestEvent.id
    )


# Checks on references ---------------------------------------------------------------------------------------------
async def _check_refs(
    session: AsyncSession, principal: Principal, values: dict[str, Any], city_id: int
) -> list[FieldError]:
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


# Intake -----------------------------------------------------------------------------------------------------------
async def create_request(
    session: AsyncSession, principal: Principal, data: RequestCreate, *, source: str = "manual"
) -> Request:
    if principal.role not in INTAKE_WRITERS:
        raise Forbidden("Only operators, directors and admins take requests.")
    values = data.model_dump()
    errors = await _check_refs(session, principal, values, data.city_id)
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
        session.add(_event(request, principal, "created", to=Status.new, source=source))
    return await _reload(session, request.id)


# Telephony --------------------------------------------------------------------------------------------------------
OPEN_WORK = frozenset(AWAITING | {Status.accepted, Status.en_route, Status.in_progress, Status.deferred})


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
        _event(request, None, "created", to=Status.new, source="telephony", entry_id=entry_id, provider=provider)
    )
    return request


def note_call(session: AsyncSession, request: Request, *, entry_id: str, caller: str, line: str) -> None:
    """A repeated call about this request goes into its history."""
    session.add(_event(request, None, "call", entry_id=entry_id, caller=caller, line=line))


def note_recording(session: AsyncSession, request_id: int, recording_id: int, actor_id: int | None) -> None:
    """A call recording linked to this request goes into its history."""
    session.add(
        RequestEvent(request_id=request_id, actor_id=actor_id, kind="recording", data={"recording_id": recording_id})
    )


def note_file(
    session: AsyncSession, request_id: int, file_id: str, kind: str, actor_id: int, *, deleted: bool = False
) -> None:
    """An uploaded (or deleted) file goes into the request's history."""
    session.add(
        RequestEvent(
            request_id=request_id,
            actor_id=actor_id,
            kind="file_deleted" if deleted else "file_added",
            data={"file_id": file_id, "kind": kind},
        )
    )


async def find_for_recording(
    session: AsyncSession, phone: str, around: dt.datetime, window: dt.timedelta, campaign_id: int | None
) -> Request | None:
    """The request a recording belongs to (SPEC §6.2): the newest live request of this caller created within
    ``window`` of the call start, preferring the campaign whose number is the line."""
    query = select(Request).where(
        Request.deleted_at.is_(None),
        Request.client_phone == phone,
        Request.created_at >= around - window,
        Request.created_at <= around + window,
    )
    if campaign_id is not None:
        query = query.order_by(case((Request.campaign_id == campaign_id, 0), else_=1))
    row: Request | None = await session.scalar(query.order_by(Request.created_at.desc(), Request.id.desc()).limit(1))
    return row


async def visible_request_id(session: AsyncSession, principal: Principal, request_id: int) -> int | None:
    """The id when the principal may see this request, else ``None`` (files and recordings follow their owner)."""
    found: int | None = await session.scalar(
        _scoped(principal).with_only_columns(Request.id).where(Request.id == request_id)
    )
    return found


# Editing ----------------------------------------------------------------------------------------------------------
def _field_rights(principal: Principal, request: Request, fields: set[str]) -> None:
    role = principal.role
    status = Status(request.status)
    if role is Role.master:
        allowed = {"master_notes"}
    elif role is Role.operator:
        allowed = set(INTAKE_FIELDS)
    else:
        allowed = set(INTAKE_FIELDS) | MONEY_FIELDS | {"master_notes"}
    forbidden = sorted(fields - allowed)
    if forbidden:
        raise Forbidden(
            "Your role may not change these fields.",
            errors=[FieldError(f, "Your role may not change this field.") for f in forbidden],
        )
    locked: list[FieldError] = []
    if role is Role.operator and status not in INTAKE | AWAITING:
        locked += [FieldError(f, "Operators edit a request only before a master accepts it.") for f in sorted(fields)]
    if "city_id" in fields and request.master_id is not None:
        locked.append(FieldError("city_id", "The city cannot change while a master is assigned."))
    if fields & MONEY_FIELDS and status is not Status.done:
        locked += [
            FieldError(f, "Money is reported with the move to done; it can be corrected once the request is done.")
            for f in sorted(fields & MONEY_FIELDS)
        ]
    if locked:
        raise FieldLocked("Some fields cannot change in this status; see errors.", errors=locked)


async def update_request(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    data: RequestUpdate,
    if_match: str | None,
    *,
    default_share: Decimal,
) -> Request:
    request = await get_request(session, principal, request_id)
    changes = data.changes()
    check_version(request.version, changes.pop("version", None), if_match)
    if not changes:
        return request
    _field_rights(principal, request, set(changes))
    city_id = changes.get("city_id", request.city_id)
    check = dict(changes)
    if "city_id" in changes and "campaign_id" not in changes and request.campaign_id is not None:
        check["campaign_id"] = request.campaign_id  # the campaign must still belong to the new city
    errors = await _check_refs(session, principal, check, city_id)
    if errors:
        raise ValidationProblem("The change is not valid; see errors.", errors)

    diff: dict[str, Any] = {}
    money_changed = bool(changes.keys() & MONEY_FIELDS)
    if money_changed:
        share = request.company_share if request.company_share is not None else default_share
        result, expenses = changes.pop("result", request.result), changes.pop("expenses", request.expenses)
        diff |= _apply_money(request, result, expenses, share)
    for field, value in changes.items():
        old = getattr(request, field)
        if old != value:
            diff[field] = {"from": _jsonable(old), "to": _jsonable(value)}
            setattr(request, field, value)
    if not diff:
        return request
    if principal.role is Role.operator:
        request.operator_id = principal.id
    kind = "money_corrected" if money_changed and diff.keys() & {"result", "expenses"} else "updated"
    async with unit_of_work(session, stale):
        await session.flush()
        session.add(_event(request, principal, kind, changes=diff))
        if money_changed:
            await _book_handover(session, request, principal, request.master_handover)
    return await _reload(session, request.id)


def _apply_money(request: Request, result: Decimal | None, expenses: Decimal | None, share: Decimal) -> dict[str, Any]:
    """Check the reported money, set it with the derived amounts and the share, and return what changed
    (``{field: {"from": …, "to": …}}``) for the history."""
    _check_money(result, expenses)
    assert result is not None
    assert expenses is not None
    computed = money.compute(result, expenses, share)
    diff: dict[str, Any] = {}
    for field in ("result", "expenses", "net_amount", "master_handover", "company_share"):
        old, new = getattr(request, field), getattr(computed, field)
        if old != new:
            if field != "company_share":  # the share is a snapshot, not something the caller changed
                diff[field] = {"from": _jsonable(old), "to": _jsonable(new)}
            setattr(request, field, new)
    return diff


def _check_money(result: Decimal | None, expenses: Decimal | None) -> None:
    errors = []
    if result is None:
        errors.append(FieldError("result", "Report what the client paid (0 or more)."))
    if expenses is None:
        errors.append(FieldError("expenses", "Report the master's expenses on the job (0 or more)."))
    if result is not None and expenses is not None and expenses > result:
        errors.append(FieldError("expenses", "Expenses cannot be greater than the result."))
    if errors:
        raise ValidationProblem("The money is not valid; see errors.", errors)


async def _completion_date(session: AsyncSession, request: Request) -> dt.date:
    zone = await catalog.city_zone(session, request.city_id, DEFAULT_TIMEZONE)
    return local_date(request.completed_at or utcnow(), zone)


async def _book_handover(session: AsyncSession, request: Request, actor: Principal, amount: Decimal | None) -> None:
    """Make the request's handover income match ``amount`` (None withdraws it), in the caller's unit of work."""
    await cash.sync_handover(
        session,
        request_id=request.id,
        city_id=request.city_id,
        master_id=request.master_id,
        amount=amount,
        occurred_on=await _completion_date(session, request) if amount else None,
        actor_id=actor.id,
    )


# The state machine ------------------------------------------------------------------------------------------------
async def _check_master(session: AsyncSession, request: Request, master_id: int | None, *, other: bool) -> User:
    if master_id is None:
        raise ValidationProblem.field("master_id", "Name the master to offer the request to.")
    master = await accounts.active_master(session, master_id)
    if master is None or master.master is None or master.master.city_id != request.city_id:
        raise ValidationProblem.field("master_id", "Unknown or blocked master, or a master of another city.")
    if other and master_id == request.master_id:
        raise ValidationProblem.field("master_id", "The request is already this master's; name another master.")
    return master


async def transition(
    session: AsyncSession,
    principal: Principal,
    request_id: int,
    body: TransitionIn,
    if_match: str | None,
    *,
    default_share: Decimal,
) -> Request:
    request = await get_request(session, principal, request_id)
    check_version(request.version, body.version, if_match)
    current, target = Status(request.status), body.to
    move = find_move(current, target, request.was_assigned)
    if move is None:
        allowed = allowed_targets(current, request.was_assigned)
        raise InvalidTransition(
            f"A request in status {current.value} cannot move to {target.value}.",
            allowed=allowed,
            current_status=current.value,
        )
    if not move.allows(principal.role):
        raise Forbidden(f"Your role may not move a request from {current.value} to {target.value}.")

    used = {f for f in MOVE_FIELDS if getattr(body, f) is not None}
    takes = {"callback_at"} if target is Status.callback else set()
    if move.needs & {Need.master, Need.other_master}:
        takes.add("master_id")
    if Need.money in move.needs:
        takes |= {"result", "expenses"}
    extra = sorted(used - takes)
    if extra:
        raise ValidationProblem(
            f"These fields are not used by a move to {target.value}.",
            [FieldError(f, f"Not used by a move to {target.value}.") for f in extra],
        )
    errors: list[FieldError] = []
    if Need.booking in move.needs:
        if not request.address:
            errors.append(FieldError("address", "Fill in the address before booking the order."))
        if request.visit_at is None:
            errors.append(FieldError("visit_at", "Fill in the visit time before booking the order."))
    if Need.reason in move.needs and not body.reason:
        errors.append(FieldError("reason", "Give a reason."))
    if Need.note in move.needs and not (body.note or body.reason):
        errors.append(FieldError("note", "Say why the job continues later."))
    if errors:
        raise ValidationProblem("The move needs more information; see errors.", errors)

    now = utcnow()
    data: dict[str, Any] = {"reason": body.reason, "note": body.note}
    handover_changed = False
    if move.needs & {Need.master, Need.other_master}:
        master = await _check_master(session, request, body.master_id, other=Need.other_master in move.needs)
        data["master_id"] = master.id
        data["previous_master_id"] = request.master_id
        request.master_id = master.id
        request.was_assigned = True
    if target is Status.awaiting_dispatch and current in (Status.awaiting_acceptance, Status.refused):
        data["previous_master_id"] = request.master_id  # declined, or reopened after a master had it
        request.master_id = None
    if target is Status.callback:
        request.callback_at = body.callback_at
        data["callback_at"] = body.callback_at
    elif current is Status.callback:
        request.callback_at = None
    if target is Status.done:
        own = await accounts.master_share(session, request.master_id) if request.master_id is not None else None
        _apply_money(request, body.result, body.expenses, own if own is not None else default_share)
        request.completed_at = now
        data.update(result=request.result, expenses=request.expenses, master_handover=request.master_handover)
        handover_changed = True
    if current is Status.done:  # reopened: the money is no longer booked
        request.completed_at = None
        request.net_amount = request.master_handover = request.company_share = None
        handover_changed = True
    if principal.role is Role.operator:
        request.operator_id = principal.id
    request.status = target
    request.status_changed_at = now
    async with unit_of_work(session, stale):
        await session.flush()
        session.add(_event(request, principal, "status_changed", frm=current, to=target, **data))
        if handover_changed:
            await _book_handover(
                session, request, principal, request.master_handover if target is Status.done else None
            )
    return await _reload(session, request.id)


async def delete_request(
    session: AsyncSession, principal: Principal, request_id: int, version: int | None, if_match: str | None
) -> None:
    """Soft delete (admin) of the version the caller read: the request leaves every list and report; its handover
    income is withdrawn."""
    if not principal.is_admin:
        raise Forbidden("Only an admin deletes requests.")
    request = await get_request(session, principal, request_id)
    check_version(request.version, version, if_match)
    request.deleted_at = utcnow()
    async with unit_of_work(session, stale):
        await session.flush()
        session.add(_event(request, principal, "deleted", frm=request.status))
        await _book_handover(session, request, principal, None)


# Masters' earnings ------------------------------------------------------------------------------------------------
async def earnings(
    session: AsyncSession,
    principal: Principal,
    master_id: int,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> dict[str, Any]:
    """Σ over the master's requests completed in the period (the master's city time zone) of net − handover."""
    if principal.role not in (Role.admin, Role.director, Role.master):
        raise Forbidden("Earnings are read by the master, their directors and admins.")
    master = await accounts.master_in_scope(session, principal, master_id)
    assert master.master is not None
    zone = await catalog.city_zone(session, master.master.city_id, DEFAULT_TIMEZONE)
    date_from, date_to = month_to_date(date_from, date_to, zone)
    start, end = utc_bounds(date_from, date_to, zone)
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(Request.result),
                func.sum(Request.net_amount),
                func.sum(Request.master_handover),
            ).where(
                Request.master_id == master_id,
                Request.status == Status.done,
                Request.deleted_at.is_(None),
                Request.completed_at >= start,
                Request.completed_at < end,
            )
        )
    ).one()
    net, handover = to_money(row[2]), to_money(row[3])
    return {
        "master_id": master_id,
        "date_from": date_from,
        "date_to": date_to,
        "done": int(row[0]),
        "revenue": to_money(row[1]),
        "net": net,
        "handover": handover,
        "earnings": net - handover,
    }
