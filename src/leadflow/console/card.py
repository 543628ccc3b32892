"""The request card ``/requests/{id}``: every field, editable as the domain's field rights say (a locked field is
shown locked with its reason), the moves this role may make with the form each needs (the money previewed by the
domain before saving), the history, files and recordings; a stale save shows the other's values beside the user's.

Nothing is decided here: rights from ``requests.editing.field_rights``, moves from the workflow table, money from
``requests.handover.preview_money``, the edit and the move by the same services as the API.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from leadflow.accounts import service as accounts
from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal
from leadflow.administration.service import get_settings as runtime_settings
from leadflow.console import options
from leadflow.console.forms import available_moves, field_errors, money_text, move, parse
from leadflow.console.i18n import Translator
from leadflow.console.render import render, translator
from leadflow.console.session import PageRoute, PageUser, is_htmx
from leadflow.files import service as files
from leadflow.files.schemas import FileOut
from leadflow.platform.concurrency import StaleVersion
from leadflow.platform.dependencies import AppSettings, Session
from leadflow.platform.params import IdPath
from leadflow.platform.problems import Problem, ValidationProblem
from leadflow.platform.schemas import PageParams
from leadflow.platform.settings import Settings
from leadflow.recordings import service as recordings
from leadflow.requests import editing, handover, queries
from leadflow.requests.models import Request as RequestRow
from leadflow.requests.schemas import EventOut, RequestOut, RequestUpdate, shown_to
from leadflow.requests.workflow import Move, Need, Status, fields_taken, find_move

router = APIRouter(route_class=PageRoute, include_in_schema=False)
HISTORY = PageParams(page=1, per_page=200)
# The card's fields in the order it shows them, grouped.
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("client", ("client_phone", "client_name", "address")),
    ("job", ("visit_at", "city_id", "request_type_id", "campaign_id", "direction_id")),
    ("notes", ("problem", "call_center_notes", "master_notes")),
    ("money", ("result", "expenses")),
)
TEXTAREAS = frozenset({"problem", "call_center_notes", "master_notes"})
SELECTS = frozenset({"city_id", "request_type_id", "campaign_id", "direction_id"})
MOMENTS = frozenset({"visit_at"})
MONEY = frozenset({"result", "expenses"})


# Reading --------------------------------------------------------------------------------------------------------------
def form_values(out: RequestOut) -> dict[str, str]:
    """The request's editable fields as the form shows them (as this role may read them; times in the city's zone)."""
    zone = ZoneInfo(out.city.timezone)
    values: dict[str, str] = {}
    for field in editing.EDITABLE:
        value = getattr(out, field)
        if value is None:
            values[field] = ""
        elif field in MOMENTS:
            values[field] = value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")
        elif field in MONEY:
            values[field] = f"{Decimal(value):.2f}"
        else:
            values[field] = str(value)
    return values


async def default_share(session: AsyncSession, settings: Settings) -> Decimal:
    return (await runtime_settings(session, settings)).company_share


async def card_context(
    session: AsyncSession, principal: Principal, row: RequestRow, t: Translator, **extra: Any
) -> dict[str, Any]:
    out = shown_to(principal.role, RequestOut.model_validate(row))
    rights = editing.field_rights(principal, row)
    values = form_values(out)
    return {
        "r": out,
        "zone": out.city.timezone,
        "rights": rights,
        "groups": GROUPS,
        "values": values,
        "was": values,
        "errors": {},
        "conflict": None,
        "saved": False,
        "moves": [(m, move_key(m, Status(row.status))) for m in available_moves(principal, row)],
        "client_hidden": principal.role is Role.marketer,
        "can_edit": any(r.editable for r in rights.values()),
        "textareas": TEXTAREAS,
        "selects": SELECTS,
        "moments": MOMENTS,
        "choices": await _choices(session, principal, row, rights),
        **extra,
    }


async def _choices(
    session: AsyncSession, principal: Principal, row: RequestRow, rights: dict[str, editing.FieldRight]
) -> dict[str, list[options.Option]]:
    """The options of the select fields: the full lists where the field may change, else only the current one."""
    current = {
        "city_id": [options.Option(row.city.id, row.city.name)],
        "request_type_id": [options.Option(row.request_type.id, row.request_type.name)],
        "campaign_id": [options.Option(row.campaign.id, row.campaign.name)] if row.campaign else [],
        "direction_id": [options.Option(row.direction.id, row.direction.name)] if row.direction else [],
    }
    if rights["city_id"].editable:
        current["city_id"] = await options.cities(session, principal)
    if rights["request_type_id"].editable:
        current["request_type_id"] = await options.request_types(session)
    if rights["campaign_id"].editable:
        current["campaign_id"] = await options.campaign_options(session, principal, row.city_id)
    if rights["direction_id"].editable:
        current["direction_id"] = await options.directions(session)
    return current


async def history(session: AsyncSession, principal: Principal, row: RequestRow, t: Translator) -> list[dict[str, Any]]:
    """The request's events as lines a person reads, in the page's language (oldest first)."""
    events, _ = await queries.list_events(session, principal, row.id, HISTORY)
    shown = [EventOut.model_validate(e).shown_to(principal.role) for e in events]
    people: set[int] = set()
    for e in shown:
        if e.actor_id:
            people.add(e.actor_id)
        for key in ("master_id", "previous_master_id"):
            if e.data and isinstance(e.data.get(key), int):
                people.add(e.data[key])
    names = await accounts.full_names(session, people)
    return [describe(e, names, t, row.city.timezone) for e in shown]


def describe(e: EventOut, names: dict[int, str], t: Translator, zone: str) -> dict[str, Any]:
    data = e.data or {}
    details: list[str] = []
    if e.kind == "status_changed" and e.from_status and e.to_status:
        title = t("card.ev.status", frm=t.status(e.from_status), to=t.status(e.to_status))
        if data.get("master_id"):
            details.append(t("card.ev.master", name=names.get(data["master_id"], f"#{data['master_id']}")))
        if data.get("callback_at"):
            details.append(t("card.ev.callback_at", at=_moment(data["callback_at"], t, zone)))
        for key in ("result", "expenses", "master_handover"):
            if data.get(key) is not None:
                details.append(f"{t('card.f.' + key)}: {t.money(data[key])}")
        for key in ("reason", "note"):
            if data.get(key):
                details.append(f"{t('card.ev.' + key)}: {data[key]}")
    elif e.kind in ("updated", "money_corrected"):
        title = t(f"card.ev.{e.kind}")
        for field, change in (data.get("changes") or {}).items():
            label = t(f"card.f.{field}") if t.has(f"card.f.{field}") else field
            frm, to = change.get("from"), change.get("to")
            if field in MONEY or field in ("net_amount", "master_handover"):
                frm, to = t.money(frm), t.money(to)
            elif field in MOMENTS:
                frm, to = _moment(frm, t, zone), _moment(to, t, zone)
            details.append(t("card.ev.change", field=label, frm="—" if frm in (None, "") else frm, to=to or "—"))
    elif e.kind == "created":
        title = t("card.ev.created", source=t(f"card.source.{data.get('source', 'manual')}"))
    elif e.kind == "call":
        title = t("card.ev.call")
        if data.get("caller"):
            details.append(t("card.ev.caller", phone=data["caller"]))
    elif e.kind == "recording":
        title = t("card.ev.recording")
    elif e.kind in ("file_added", "file_deleted"):
        title = t(f"card.ev.{e.kind}", kind=t(f"card.file.{data.get('kind', 'bso')}"))
    elif e.kind == "deleted":
        title = t("card.ev.deleted")
    else:
        title = e.kind
    actor = names.get(e.actor_id, f"#{e.actor_id}") if e.actor_id else t("card.ev.system")
    return {"at": t.datetime(e.at, zone), "iso": e.at.isoformat(), "title": title, "details": details, "actor": actor}


def _moment(value: Any, t: Translator, zone: str) -> str | None:
    """A moment the history stores (UTC ISO) as the city's local time; None stays None."""
    if not value:
        return None
    return t.datetime(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")), zone)


async def attachments(session: AsyncSession, principal: Principal, row: RequestRow) -> dict[str, Any]:
    stored = [FileOut.model_validate(f) for f in await files.files_of(session, files.Owner(request_id=row.id))]
    recorded, audio = await recordings.recordings_of_request(session, principal, row.id)
    return {
        "files": stored,
        "recordings": [(r, FileOut.model_validate(audio[r.id]) if r.id in audio else None) for r in recorded],
        "may_upload": principal.role in (Role.admin, Role.director)
        or (principal.role is Role.master and row.master_id == principal.id),
    }


def move_key(m: Move, current: Status) -> str:
    """The name of a move's button (the same target can be a different act: a decline, a reassignment, a reopening)."""
    if Need.other_master in m.needs:
        return "reassign"
    if current in (Status.done, Status.refused):
        return "reopen"
    if m.target is Status.awaiting_dispatch and current is Status.awaiting_acceptance:
        return "decline"
    if m.target is Status.in_progress and current is Status.deferred:
        return "resume"
    return m.target.value


# Pages and fragments ----------------------------------------------------------------------------------------------
@router.get("/requests/{request_id}")
async def card(request: Request, request_id: IdPath, session: Session, user: PageUser) -> Response:
    row = await queries.get_request(session, user, request_id)
    t = translator(request)
    context = await card_context(session, user, row, t, live=True)
    context |= await attachments(session, user, row)
    context["events"] = await history(session, user, row, t)
    return render(request, "card/page.html", context, principal=user)


@router.get("/requests/{request_id}/history")
async def history_fragment(request: Request, request_id: IdPath, session: Session, user: PageUser) -> Response:
    row = await queries.get_request(session, user, request_id)
    events = await history(session, user, row, translator(request))
    return render(request, "card/history.html", {"events": events, "r": row}, principal=user)


@router.get("/requests/{request_id}/files")
async def files_fragment(request: Request, request_id: IdPath, session: Session, user: PageUser) -> Response:
    row = await queries.get_request(session, user, request_id)
    context = await attachments(session, user, row)
    return render(request, "card/files.html", {"r": row, **context}, principal=user)


@router.get("/requests/{request_id}/freshness")
async def freshness(
    request: Request, request_id: IdPath, session: Session, user: PageUser, version: int = 0
) -> Response:
    """Has someone else changed the request since the page read ``version``? A notice, or nothing."""
    row = await queries.get_request(session, user, request_id)
    return render(request, "card/freshness.html", {"changed": row.version != version, "r": row}, principal=user)


def _typed(form: FormData, fields: set[str]) -> dict[str, str]:
    return {f: str(form.get(f, "")).strip() for f in fields if f in form}


def _payload(changed: dict[str, str], zone: str) -> dict[str, Any]:
    """The edit's JSON body from the changed form fields: an emptied field is null, a local time gets its zone."""
    body: dict[str, Any] = {}
    for field, value in changed.items():
        if value == "":
            body[field] = None
        elif field in MONEY:
            body[field] = money_text(value)
        elif field in MOMENTS:
            try:
                body[field] = dt.datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone)).isoformat()
            except ValueError:
                body[field] = value  # the model refuses it with its own message
        else:
            body[field] = value
    return body


@router.post("/requests/{request_id}")
async def save(
    request: Request, request_id: IdPath, session: Session, settings: AppSettings, user: PageUser
) -> Response:
    """Save the fields the user changed (against what the page showed), with the version the page read."""
    row = await queries.get_request(session, user, request_id)
    t = translator(request)
    form = await request.form()
    rights = editing.field_rights(user, row)
    typed = _typed(form, {f for f, r in rights.items() if r.editable})
    was = {f: str(form.get(f"was_{f}", "")) for f in typed}
    changed = {f: v for f, v in typed.items() if v != was[f]}
    version = str(form.get("version", ""))
    context: dict[str, Any]
    try:
        if not changed:
            context = await card_context(session, user, row, t, nothing=True)
            return _fields(request, user, context)
        body = parse(RequestUpdate, {**_payload(changed, row.city.timezone), "version": version})
        share = await default_share(session, settings)
        saved = await editing.update_request(session, user, request_id, body, None, default_share=share)
    except StaleVersion:
        await session.rollback()
        current = await queries.get_request(session, user, request_id)
        context = await card_context(session, user, current, t)
        now = context["values"]
        # The user's edits stay in the form over the new values; the others' changes come in where they typed nothing.
        context["values"] = now | changed
        context["conflict"] = [
            {"field": f, "theirs": now.get(f, ""), "yours": v} for f, v in changed.items() if now.get(f) != v
        ]
        return _fields(request, user, context, status_code=409)
    except Problem as problem:
        await session.rollback()
        row = await queries.get_request(session, user, request_id)  # the rollback expired what was read
        context = await card_context(session, user, row, t)
        context["values"] = context["values"] | typed
        context["was"] = context["was"] | was
        context["errors"] = field_errors(problem, t)
        if version:
            context["version"] = version
        return _fields(request, user, context, status_code=problem.status)
    context = await card_context(session, user, saved, t, saved=True)
    return _fields(request, user, context)


def _fields(request: Request, user: Principal, context: dict[str, Any], status_code: int = 200) -> Response:
    if is_htmx(request):
        return render(request, "card/fields.html", context, principal=user, status_code=status_code)
    if status_code == 200 and context.get("saved"):
        return RedirectResponse(f"/requests/{context['r'].id}", status_code=303)
    return render(request, "card/page.html", context | _empty_extras(), principal=user, status_code=status_code)


def _empty_extras() -> dict[str, Any]:
    # A form answered without JavaScript shows the fields; the history and files are one reload away.
    return {"events": None, "files": [], "recordings": [], "may_upload": False, "live": False}


# Moves ------------------------------------------------------------------------------------------------------------
def _move_of(user: Principal, row: RequestRow, to: str) -> Move:
    try:
        target = Status(to)
    except ValueError:
        target = None
    found = find_move(Status(row.status), target, row.was_assigned) if target else None
    if found is None or found not in available_moves(user, row):
        raise ValidationProblem.field("to", "This move is not available for the request now.")
    return found


def _visit_day(row: RequestRow) -> dt.date:
    """The day of the visit in the request's city (today there when no time is set): the day a master's load is of."""
    zone = ZoneInfo(row.city.timezone)
    return (row.visit_at or dt.datetime.now(dt.UTC)).astimezone(zone).date()


async def _move_context(
    session: AsyncSession, user: Principal, row: RequestRow, m: Move, **extra: Any
) -> dict[str, Any]:
    takes = fields_taken(m)
    return {
        "r": row,
        "zone": row.city.timezone,
        "m": m,
        "key": move_key(m, Status(row.status)),
        "takes": takes,
        "needs": {n.value for n in m.needs},
        "masters": await options.masters_by_load(session, user, row.city_id, _visit_day(row), row.city.timezone)
        if "master_id" in takes
        else [],
        "values": {},
        "errors": {},
        "preview": None,
        **extra,
    }


@router.get("/requests/{request_id}/move/{to}")
async def move_form(request: Request, request_id: IdPath, to: str, session: Session, user: PageUser) -> Response:
    row = await queries.get_request(session, user, request_id)
    m = _move_of(user, row, to)
    return render(request, "card/move.html", await _move_context(session, user, row, m), principal=user)


@router.post("/requests/{request_id}/move/{to}")
async def make_move(
    request: Request, request_id: IdPath, to: str, session: Session, settings: AppSettings, user: PageUser
) -> Response:
    row = await queries.get_request(session, user, request_id)
    m = _move_of(user, row, to)
    form = await request.form()
    typed = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    data: dict[str, Any] = {k: typed.get(k, "") for k in ("version", "reason", "note", *fields_taken(m))}
    for key in ("result", "expenses"):
        if data.get(key):
            data[key] = money_text(data[key])
    if data.get("callback_at"):
        data |= _payload({"callback_at": data["callback_at"]}, row.city.timezone)
    try:
        await move(session, user, settings, request_id, {**data, "to": m.target.value})
    except Problem as problem:
        await session.rollback()
        row = await queries.get_request(session, user, request_id)  # the rollback expired what was read
        t = translator(request)
        context = await _move_context(
            session,
            user,
            row,
            m,
            values=typed,
            errors=field_errors(problem, t),
            stale=isinstance(problem, StaleVersion),
        )
        return render(request, "card/move.html", context, principal=user, status_code=problem.status)
    target = f"/requests/{request_id}"
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/requests/{request_id}/money")
async def money_preview(
    request: Request, request_id: IdPath, session: Session, settings: AppSettings, user: PageUser
) -> Response:
    """What the typed result and expenses would book (net, the master's handover, the share), computed by the domain."""
    row = await queries.get_request(session, user, request_id)
    t = translator(request)
    values = {k: money_text(request.query_params.get(k, "").strip()) for k in ("result", "expenses")}
    context: dict[str, Any] = {"preview": None, "errors": {}}
    try:
        amounts = {k: _amount(k, v) for k, v in values.items()}
        context["preview"] = await handover.preview_money(
            session, row, amounts["result"], amounts["expenses"], await default_share(session, settings)
        )
    except Problem as problem:
        context["errors"] = field_errors(problem, t)
    return render(request, "card/money.html", context, principal=user)


def _amount(field: str, value: str) -> Decimal | None:
    if value == "":
        return None
    amount = parse(RequestUpdate, {field: value})
    found = getattr(amount, field)
    if found is None:  # pragma: no cover - a non-empty value is either a number or refused above
        raise ValidationProblem.field(field, "Enter an amount.")
    return Decimal(found)
