"""The operators' intake queue (``/intake``): the requests in ``new``, ``callback`` and ``not_reached`` of the user's
cities, live; one-key moves on the focused row (book, call back, not reached, refuse) with the forms they need; the
caller's history; the masters' load beside the visit time; a request taken by hand.

Every read and write goes through the requests domain (``queries``, ``intake``, ``transitions``) with the page's
``Principal``: which rows, which moves, which fields and every check are the API's. The page only turns form fields
into the service's input (a ``datetime-local`` in the city's zone into an aware time, a callback preset into a time)
and a service's problem back into messages beside the fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from leadflow.accounts.models import INTAKE_WRITERS, Role
from leadflow.accounts.policies import Principal, visible_city_ids
from leadflow.administration.dependencies import Runtime
from leadflow.administration.service import get_settings as runtime_settings
from leadflow.catalog import service as catalog
from leadflow.console import forms
from leadflow.console.render import cached_fragment, render, render_text, translator
from leadflow.console.session import PageRoute, PageUser
from leadflow.platform.cache import Cache
from leadflow.platform.dependencies import AppSettings, CacheDep, Session
from leadflow.platform.params import IdPath
from leadflow.platform.problems import Forbidden, NotFound, Problem, ValidationProblem
from leadflow.platform.schemas import PageParams
from leadflow.platform.settings import Settings
from leadflow.requests import intake, queries, transitions
from leadflow.requests.models import Request as RequestRow
from leadflow.requests.schemas import RequestCreate, RequestUpdate
from leadflow.requests.workflow import Status

router = APIRouter(route_class=PageRoute, include_in_schema=False)
ROWS = PageParams(page=1, per_page=50)
# The queue's sections in the order they are shown: fresh calls first, then callbacks by due time, then the rest.
SECTIONS = ((Status.new, "-created_at"), (Status.callback, "callback_at"), (Status.not_reached, "-created_at"))
# The order of the one-key moves (1, 2, 3, 4); which of them a row shows comes from the workflow table.
MOVE_ORDER = (Status.awaiting_dispatch, Status.callback, Status.not_reached, Status.refused)
MOVE_LABELS = {
    Status.awaiting_dispatch: "intake.move.book",
    Status.callback: "intake.move.callback",
    Status.not_reached: "intake.move.not_reached",
    Status.refused: "intake.move.refuse",
}
PRESETS = ("15m", "1h", "tomorrow")
BOOKING_FIELDS = ("client_name", "address", "visit_at", "direction_id", "problem", "call_center_notes")
NEW_FIELDS = ("city_id", "client_phone", *BOOKING_FIELDS)


def local_input(value: dt.datetime | None, zone: str) -> str:
    """An aware time as the value of a ``datetime-local`` field in ``zone``."""
    return value.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%dT%H:%M") if value else ""


def from_local(field: str, text: str | None, zone: str) -> str | None:
    """A ``datetime-local`` value typed in the city's zone as an aware ISO time (what the service's models take)."""
    if not text:
        return None
    try:
        naive = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationProblem.field(field, "Enter a date and time.") from None
    if naive.tzinfo is not None:
        return naive.isoformat()
    return naive.replace(tzinfo=ZoneInfo(zone)).isoformat()


def preset_time(preset: str, zone: str, now: dt.datetime | None = None) -> dt.datetime:
    """A callback preset as a time: in 15 minutes, in an hour, or tomorrow at 10:00 in the request's city zone."""
    now = now or dt.datetime.now(dt.UTC)
    if preset == "15m":
        return now + dt.timedelta(minutes=15)
    if preset == "1h":
        return now + dt.timedelta(hours=1)
    local = now.astimezone(ZoneInfo(zone))
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(10, 0), ZoneInfo(zone))


@dataclass
class Row:
    request: RequestRow
    moves: list[Status]
    history: queries.ClientHistory
    overdue: bool


async def _section(
    session: AsyncSession, user: Principal, status: Status, sort: str, q: str | None, zone: str, cache: Cache | None
) -> tuple[Sequence[RequestRow], int]:
    filters = queries.Filters(statuses=(status,), q=q or None)
    return await queries.list_requests(session, user, ROWS, filters, sort=sort, business_zone=zone, cache=cache)


def _moves(user: Principal, row: RequestRow) -> list[Status]:
    allowed = {move.target for move in forms.available_moves(user, row)}
    return [target for target in MOVE_ORDER if target in allowed]


async def queue_context(
    session: AsyncSession, user: Principal, q: str | None, zone: str, cache: Cache | None = None
) -> dict[str, Any]:
    found: list[tuple[Status, Sequence[RequestRow], int]] = []
    for status, sort in SECTIONS:
        rows, total = await _section(session, user, status, sort, q, zone, cache)
        found.append((status, rows, total))
    phones = [r.client_phone for _s, rows, _t in found for r in rows]
    histories = await queries.client_histories(session, user, phones) if user.role is not Role.marketer else {}
    now = dt.datetime.now(dt.UTC)
    sections = [
        {
            "status": status,
            "total": total,
            "rows": [
                Row(
                    request=r,
                    moves=_moves(user, r),
                    history=histories.get(r.client_phone, queries.ClientHistory()),
                    overdue=r.callback_at is not None and r.callback_at < now,
                )
                for r in rows
            ],
        }
        for status, rows, total in found
    ]
    return {"sections": sections, "q": q or "", "move_labels": MOVE_LABELS}


def _common(user: Principal) -> dict[str, Any]:
    return {"may_take": user.role in INTAKE_WRITERS}


def _may_open(user: Principal) -> None:
    """The queue is the intake writers' and readers' (operators, directors, admins): another role's 403 page."""
    if user.role in (Role.master, Role.marketer):
        raise Forbidden("Your role has no intake queue.")


@router.get("/intake")
async def intake_page(
    request: Request, session: Session, user: PageUser, runtime: Runtime, cache: CacheDep, q: str | None = None
) -> Response:
    _may_open(user)
    context = await queue_context(session, user, q, runtime.business_timezone, cache)
    return render(request, "intake.html", {**context, **_common(user), "live": True}, principal=user)


@router.get("/intake/rows")
async def intake_rows(
    request: Request, session: Session, user: PageUser, runtime: Runtime, cache: CacheDep, q: str | None = None
) -> Response:
    _may_open(user)

    async def rendered() -> str:
        context = await queue_context(session, user, q, runtime.business_timezone, cache)
        return render_text(request, "fragments/intake_queue.html", {**context, **_common(user)}, principal=user)

    # The queue shows nothing of the user's own beyond their role and scope.
    parts = {"scope": queries.scope_key(user), "q": q or ""}
    return await cached_fragment(request, cache, "console.intake", parts, queries.PAGE_TAGS, rendered)


# Forms -------------------------------------------------------------------------------------------------------------
async def _form_context(session: AsyncSession, user: Principal, row: RequestRow) -> dict[str, Any]:
    history = await queries.client_history(session, user, row.client_phone)
    directions, _ = await catalog.directions.list(session, PageParams(page=1, per_page=200), active=True)
    return {
        "row": row,
        "zone": row.city.timezone,
        "history": history,
        "duplicates": history.open_besides(row.id),
        "directions": directions,
        **_common(user),
    }


def _values_of(row: RequestRow) -> dict[str, str]:
    zone = row.city.timezone
    return {
        "client_name": row.client_name or "",
        "address": row.address or "",
        "visit_at": local_input(row.visit_at, zone),
        "direction_id": str(row.direction_id or ""),
        "problem": row.problem or "",
        "call_center_notes": row.call_center_notes or "",
        "version": str(row.version),
        "reason": "",
        "callback_at": local_input(row.callback_at, zone),
    }


def _form_fields(form: Mapping[str, Any], names: Sequence[str]) -> dict[str, str]:
    return {name: str(form.get(name) or "").strip() for name in names}


def _beside_fields(errors: dict[str, str], shown: Sequence[str]) -> dict[str, str]:
    """Errors of fields the form does not show (the version, say) go above the form with the general one."""
    above = [message for field, message in errors.items() if field not in shown and field != ""]
    if above:
        errors[""] = " ".join(filter(None, [errors.get(""), *above]))
    return errors


async def _load_context(
    session: AsyncSession, user: Principal, city_id: int, day: dt.date, zone: str
) -> dict[str, Any]:
    load = await queries.master_load(session, user, city_id, day, business_zone=zone)
    return {"load": load, "load_day": day}


def _day_of(text: str | None, zone: str) -> dt.date:
    try:
        return dt.date.fromisoformat((text or "")[:10])
    except ValueError:
        return dt.datetime.now(ZoneInfo(zone)).date()


async def _render_form(
    request: Request,
    session: AsyncSession,
    user: Principal,
    row: RequestRow,
    kind: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    conflict: RequestRow | None = None,
    status_code: int = 200,
) -> Response:
    if kind not in ("book", "callback", "refuse"):
        raise NotFound("No such page.")
    context = await _form_context(session, user, row)
    values = values or _values_of(row)
    if kind == "book":
        context |= await _load_context(
            session, user, row.city_id, _day_of(values.get("visit_at"), row.city.timezone), row.city.timezone
        )
    if conflict is not None:
        context["stored"] = _values_of(conflict)
        values = {**values, "version": str(conflict.version)}
    context |= {"kind": kind, "values": values, "errors": errors or {}, "conflict": conflict is not None}
    return render(request, f"fragments/intake_{kind}.html", context, principal=user, status_code=status_code)


@router.get("/intake/{request_id}/{kind}")
async def move_form(request: Request, session: Session, user: PageUser, request_id: IdPath, kind: str) -> Response:
    _may_open(user)
    row = await queries.get_request(session, user, request_id)
    return await _render_form(request, session, user, row, kind)


@router.get("/intake/load")
async def load(
    request: Request, session: Session, user: PageUser, runtime: Runtime, city_id: int, visit_at: str | None = None
) -> Response:
    _may_open(user)
    zone = await catalog.city_zone(session, city_id, runtime.business_timezone)
    context = await _load_context(session, user, city_id, _day_of(visit_at, zone), runtime.business_timezone)
    return render(request, "fragments/intake_load.html", context, principal=user)


def _done(request: Request, user: Principal, row: RequestRow, message: str) -> Response:
    t = translator(request)
    response = render(
        request,
        "fragments/intake_done.html",
        {"message": t(message, id=row.id, status=t.status(row.status))},
        principal=user,
    )
    response.headers["HX-Trigger"] = "intake-refresh"
    return response


async def _share(session: AsyncSession, settings: Settings) -> Decimal:
    return (await runtime_settings(session, settings)).company_share


@router.post("/intake/{request_id}/book")
async def book(
    request: Request, session: Session, user: PageUser, settings: AppSettings, request_id: IdPath
) -> Response:
    row = await queries.get_request(session, user, request_id)
    form = await request.form()
    values = _form_fields(form, (*BOOKING_FIELDS, "version"))
    try:
        data = {**values, "visit_at": from_local("visit_at", values["visit_at"], row.city.timezone)}
        # the form shows every intake field: one left empty is cleared (as in the API, null clears it)
        body = forms.parse(RequestUpdate, data)
        cleared = {f: None for f in BOOKING_FIELDS if not values[f] and getattr(row, f) is not None}
        if cleared:
            body = RequestUpdate.model_validate({**body.changes(), **cleared})
        booked = await transitions.book(session, user, request_id, body, default_share=await _share(session, settings))
    except Problem as problem:
        return await _refused(request, session, user, request_id, "book", values, problem)
    return _done(request, user, booked, "intake.done.booked")


async def _refused(
    request: Request,
    session: AsyncSession,
    user: Principal,
    request_id: int,
    kind: str,
    values: dict[str, str],
    problem: Problem,
) -> Response:
    """The form again with the service's refusal beside the fields and what was typed kept; a stale version shows
    the stored values and takes the new version, so sending again applies the edit over them."""
    await session.rollback()
    row = await queries.get_request(session, user, request_id)
    t = translator(request)
    if problem.status == 409 and problem.slug == "stale-version":
        return await _render_form(
            request,
            session,
            user,
            row,
            kind,
            values=values,
            errors={"": t("intake.conflict")},
            conflict=row,
            status_code=409,
        )
    if problem.status not in (409, 422):
        raise problem
    return await _render_form(
        request,
        session,
        user,
        row,
        kind,
        values=values,
        errors=forms.field_errors(problem, t),
        status_code=problem.status,
    )


@router.post("/intake/{request_id}/callback")
async def callback(
    request: Request, session: Session, user: PageUser, settings: AppSettings, request_id: IdPath
) -> Response:
    row = await queries.get_request(session, user, request_id)
    form = await request.form()
    values = _form_fields(form, ("callback_at", "version", "preset"))
    zone = row.city.timezone
    try:
        # a preset button's value wins over the form's own "custom" (whichever way the browser merged them)
        sent = form.getlist("preset")
        preset = next((p for p in sent if p in PRESETS), "custom" if "custom" in sent else "")
        if preset in PRESETS:
            when: str | None = preset_time(preset, zone).isoformat()
        elif preset == "custom":
            when = from_local("callback_at", values["callback_at"], zone)
            if when is None:
                raise ValidationProblem.field("callback_at", "Enter a date and time.")
        else:
            raise ValidationProblem.field("callback_at", "Choose when to call back.")
        moved = await forms.move(
            session,
            user,
            settings,
            request_id,
            {"to": Status.callback, "version": values["version"], "callback_at": when},
        )
    except Problem as problem:
        return await _refused(request, session, user, request_id, "callback", values, problem)
    return _done(request, user, moved, "intake.done.moved")


@router.post("/intake/{request_id}/refuse")
async def refuse(
    request: Request, session: Session, user: PageUser, settings: AppSettings, request_id: IdPath
) -> Response:
    form = await request.form()
    values = _form_fields(form, ("reason", "version"))
    try:
        moved = await forms.move(
            session,
            user,
            settings,
            request_id,
            {"to": Status.refused, "version": values["version"], "reason": values["reason"]},
        )
    except Problem as problem:
        return await _refused(request, session, user, request_id, "refuse", values, problem)
    return _done(request, user, moved, "intake.done.moved")


@router.post("/intake/{request_id}/not-reached")
async def not_reached(
    request: Request, session: Session, user: PageUser, settings: AppSettings, request_id: IdPath
) -> Response:
    form = await request.form()
    values = _form_fields(form, ("version",))
    moved = await forms.move(session, user, settings, request_id, {"to": Status.not_reached, **values})
    return _done(request, user, moved, "intake.done.moved")


# A request taken by hand -------------------------------------------------------------------------------------------
async def _new_context(session: AsyncSession, user: Principal) -> dict[str, Any]:
    if user.role not in INTAKE_WRITERS:
        raise Forbidden("Only operators, directors and admins take requests.")
    cities = [c for c in await catalog.list_cities(session, visible_city_ids(user)) if c.active]
    directions, _ = await catalog.directions.list(session, PageParams(page=1, per_page=200), active=True)
    return {"cities": cities, "directions": directions, **_common(user)}


@router.get("/intake/new")
async def new_form(request: Request, session: Session, user: PageUser) -> Response:
    context = await _new_context(session, user)
    values = dict.fromkeys(NEW_FIELDS, "")
    if len(context["cities"]) == 1:
        values["city_id"] = str(context["cities"][0].id)
    return render(request, "fragments/intake_new.html", {**context, "values": values, "errors": {}}, principal=user)


@router.post("/intake/new")
async def take(request: Request, session: Session, user: PageUser) -> Response:
    context = await _new_context(session, user)
    form = await request.form()
    values = _form_fields(form, NEW_FIELDS)
    zones = {str(c.id): c.timezone for c in context["cities"]}
    try:
        zone = zones.get(values["city_id"], "UTC")
        data = {**values, "visit_at": from_local("visit_at", values["visit_at"], zone)}
        created = await intake.create_request(session, user, forms.parse(RequestCreate, data))
    except Problem as problem:
        if problem.status not in (409, 422):
            raise
        t = translator(request)
        return render(
            request,
            "fragments/intake_new.html",
            {**context, "values": values, "errors": _beside_fields(forms.field_errors(problem, t), NEW_FIELDS)},
            principal=user,
            status_code=problem.status,
        )
    return _done(request, user, created, "intake.done.created")
