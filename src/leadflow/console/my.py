"""The master's phone view ``/my`` (issue 14, page 6): the signed-in master's jobs for today, upcoming and recently
done, one big button for the next step, and the completion form with the money previewed by the server and the BSO
and receipt photos uploaded from the camera (``static/js/my.js`` resizes them and posts them to the API's upload
route).

Every rule comes from the requests domain: the jobs are the requests list of the master's scope (masters see their
own assignments only), the buttons are the workflow table's moves for the master's role, a move is
:func:`leadflow.console.forms.move`, the money preview is :func:`leadflow.requests.handover.preview_money` and the BSO
rule of the completion form is :func:`leadflow.requests.handover.require_bso`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal
from leadflow.administration.dependencies import Runtime
from leadflow.catalog import service as catalog
from leadflow.console import forms
from leadflow.console.render import render, translator
from leadflow.console.session import PageRoute, PageUser
from leadflow.files import service as files
from leadflow.platform.dependencies import AppSettings, Session
from leadflow.platform.params import IdPath
from leadflow.platform.problems import Conflict, Forbidden, NotFound, Problem, ValidationProblem
from leadflow.platform.schemas import PageParams
from leadflow.requests import handover, queries
from leadflow.requests.models import Request as Job
from leadflow.requests.schemas import TransitionIn
from leadflow.requests.workflow import Move, Need, Status

router = APIRouter(route_class=PageRoute, include_in_schema=False)

TABS = ("today", "upcoming", "done")
ACTIVE = (Status.awaiting_acceptance, Status.accepted, Status.en_route, Status.in_progress, Status.deferred)
FINISHED = (Status.done, Status.refused)
DONE_DAYS = 14  # the done tab: jobs visited in the last two weeks
MAX_JOBS = 100
# The order of the forward moves: the first one the table offers is the big button; the rest are smaller.
FORWARD = (Status.accepted, Status.en_route, Status.in_progress, Status.done)
MOVE_FIELDS = ("to", "version", "reason", "note")
MONEY_FIELDS = ("result", "expenses")


@dataclass(frozen=True)
class Action:
    """A move offered on a job, as the page draws it."""

    move: Move
    primary: bool

    @property
    def to(self) -> str:
        return self.move.target.value

    @property
    def form(self) -> str:
        """``complete``: the completion page; ``reason`` / ``note``: a text to give; ``confirm``: a second tap;
        ``direct``: a forward step of one tap."""
        if Need.money in self.move.needs:
            return "complete"
        if Need.reason in self.move.needs:
            return "reason"
        if Need.note in self.move.needs:
            return "note"
        return "direct" if self.move.target in FORWARD else "confirm"


def actions(principal: Principal, job: Job) -> list[Action]:
    moves = forms.available_moves(principal, job)
    forward = sorted((m for m in moves if m.target in FORWARD), key=lambda m: FORWARD.index(m.target))
    others = [m for m in moves if m.target not in FORWARD]
    return [Action(m, primary=i == 0) for i, m in enumerate(forward)] + [Action(m, primary=False) for m in others]


def map_links(address: str | None) -> tuple[str, str] | None:
    """The maps app on Android (``geo:`` opens the chooser) and Yandex Maps on the web for any other phone."""
    if not address:
        return None
    return f"geo:0,0?q={quote_plus(address)}", f"https://yandex.ru/maps/?text={quote_plus(address)}"


def _master_only(principal: Principal) -> None:
    if principal.role is not Role.master:
        raise Forbidden("This page is the masters' own: their jobs.")


async def _zone(session: AsyncSession, principal: Principal, business_zone: str) -> str:
    if principal.master_city_id is None:
        return business_zone
    return await catalog.city_zone(session, principal.master_city_id, business_zone)


async def jobs_of(
    session: AsyncSession, principal: Principal, tab: str, zone: str, business_zone: str
) -> Sequence[Job]:
    """The master's jobs of a tab (the requests list, which shows a master their own assignments only): today holds
    every open job visited today or earlier; upcoming the open jobs from tomorrow; done the last two weeks' closed
    ones, newest first."""
    today = dt.datetime.now(ZoneInfo(zone)).date()
    # The dates are days of the master's city: the list reads them in the zone of the filter's city.
    city, on = principal.master_city_id, "visit_at"
    if tab == "today":
        filters = queries.Filters(statuses=ACTIVE, city_id=city, date_to=today, date_field=on)
    elif tab == "upcoming":
        filters = queries.Filters(statuses=ACTIVE, city_id=city, date_from=today + dt.timedelta(days=1), date_field=on)
    else:
        since = today - dt.timedelta(days=DONE_DAYS - 1)
        # No upper bound: a job finished ahead of its visit day is done all the same.
        filters = queries.Filters(statuses=FINISHED, city_id=city, date_from=since, date_field=on)
    sort = "-visit_at" if tab == "done" else "visit_at"
    page = PageParams(page=1, per_page=MAX_JOBS)
    rows, _ = await queries.list_requests(session, principal, page, filters, sort=sort, business_zone=business_zone)
    return rows


def _form_values(form: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The named fields of a posted form (``forms.parse`` turns their text into the model's types)."""
    return {k: str(form[k]) for k in names if k in form}


def _beside(errors: dict[str, str], shown: Sequence[str]) -> dict[str, str]:
    """Errors of fields the form draws stay beside them; any other (a version) goes above the form."""
    kept = {k: v for k, v in errors.items() if k in shown}
    others = [v for k, v in errors.items() if k not in shown]
    if others:
        kept[""] = " ".join(others)
    return kept


def _tab(value: str | None) -> str:
    return value if value in TABS else "today"


async def _list_context(
    session: AsyncSession,
    principal: Principal,
    tab: str,
    business_zone: str,
    *,
    errors: Mapping[int, dict[str, str]] | None = None,
    typed: Mapping[int, Mapping[str, Any]] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    zone = await _zone(session, principal, business_zone)
    jobs = await jobs_of(session, principal, tab, zone, business_zone)
    return {
        "tab": tab,
        "tabs": TABS,
        "zone": zone,
        "jobs": [{"job": j, "actions": actions(principal, j), "maps": map_links(j.address)} for j in jobs],
        "errors": errors or {},
        "typed": typed or {},
        "notice": notice,
    }


@router.get("/my")
async def my_page(
    request: Request, session: Session, user: PageUser, runtime: Runtime, tab: str | None = None
) -> Response:
    _master_only(user)
    context = await _list_context(session, user, _tab(tab), runtime.business_timezone)
    return render(request, "my/page.html", {**context, "live": True}, principal=user)


@router.get("/my/jobs")
async def my_jobs(
    request: Request, session: Session, user: PageUser, runtime: Runtime, tab: str | None = None
) -> Response:
    """The list of a tab alone: what the page re-fetches when a job of the master's changes (live)."""
    _master_only(user)
    context = await _list_context(session, user, _tab(tab), runtime.business_timezone)
    return render(request, "my/jobs.html", context, principal=user)


async def _make_move(
    session: AsyncSession, user: Principal, settings: Any, job_id: int, data: Mapping[str, Any]
) -> Job:
    """A move from this page: the completion (``done``) asks the BSO photo first, then the move as the API makes it."""
    await queries.get_request(session, user, job_id)  # 404 outside the master's jobs, before anything else
    if data.get("to") == Status.done.value:
        await handover.require_bso(session, job_id)
    return await forms.move(session, user, settings, job_id, data)


@router.post("/my/{job_id}/move")
async def my_move(
    request: Request, job_id: IdPath, session: Session, user: PageUser, settings: AppSettings, runtime: Runtime
) -> Response:
    """A step from the list (accept, decline, on my way, start, defer, refuse): the tab's list comes back, with the
    job's field errors and typed text when the move was refused."""
    _master_only(user)
    form = await request.form()
    tab = _tab(str(form.get("tab", "")))
    data = _form_values(form, MOVE_FIELDS)
    t = translator(request)
    try:
        await _make_move(session, user, settings, job_id, data)
    except ValidationProblem as problem:
        await session.rollback()
        context = await _list_context(
            session,
            user,
            tab,
            runtime.business_timezone,
            errors={job_id: _beside(forms.field_errors(problem, t), ("reason", "note"))},
            typed={job_id: data},
        )
        return render(request, "my/jobs.html", context, principal=user, status_code=422)
    except (Conflict, NotFound) as problem:
        # A stale version, a move no longer in the table, or a job taken away: the fresh list and why.
        await session.rollback()
        gone = isinstance(problem, NotFound)
        context = await _list_context(
            session, user, tab, runtime.business_timezone, notice=t("my.gone" if gone else "my.changed")
        )
        # 409 is swapped by console.js like 422; a job that is gone is just the fresh list.
        return render(request, "my/jobs.html", context, principal=user, status_code=200 if gone else 409)
    context = await _list_context(session, user, tab, runtime.business_timezone)
    return render(request, "my/jobs.html", context, principal=user)


async def _complete_context(
    session: AsyncSession,
    user: Principal,
    job: Job,
    *,
    typed: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    stored = await files.files_of(session, files.Owner(request_id=job.id))
    return {
        "job": job,
        "zone": job.city.timezone,
        "maps": map_links(job.address),
        "files": stored,
        "has_bso": await handover.bso_attached(session, job.id),
        "may_complete": any(a.form == "complete" for a in actions(user, job)),
        "typed": typed or {"version": job.version},
        "errors": errors or {},
        "preview": None,
        "error": None,
    }


@router.get("/my/{job_id}/complete")
async def complete_page(request: Request, job_id: IdPath, session: Session, user: PageUser) -> Response:
    _master_only(user)
    job = await queries.get_request(session, user, job_id)
    context = await _complete_context(session, user, job)
    return render(request, "my/complete.html", context, principal=user)


@router.get("/my/{job_id}/attachments")
async def attachments(request: Request, job_id: IdPath, session: Session, user: PageUser) -> Response:
    """The job's photos and the complete button's state, re-fetched after each upload."""
    _master_only(user)
    job = await queries.get_request(session, user, job_id)
    context = await _complete_context(session, user, job)
    return render(request, "my/attachments.html", {**context, "oob": True}, principal=user)


@router.post("/my/{job_id}/preview")
async def preview(request: Request, job_id: IdPath, session: Session, user: PageUser, runtime: Runtime) -> Response:
    """The net and the handover completing with this money would store, asked of the requests domain."""
    _master_only(user)
    job = await queries.get_request(session, user, job_id)
    form = await request.form()
    values = {k: forms.money_text(str(form.get(k, ""))) for k in MONEY_FIELDS}
    t = translator(request)
    try:
        if not values["result"] or not values["expenses"]:
            return render(request, "my/preview.html", {"preview": None, "error": None}, principal=user)
        body = forms.parse(TransitionIn, {"to": Status.done.value, **values})
        amounts = await handover.preview_money(session, job, body.result, body.expenses, runtime.company_share)
    except Problem as problem:
        message = next(iter(forms.field_errors(problem, t).values()))
        return render(request, "my/preview.html", {"preview": None, "error": message}, principal=user)
    return render(request, "my/preview.html", {"preview": amounts, "error": None}, principal=user)


@router.post("/my/{job_id}/complete")
async def complete(
    request: Request, job_id: IdPath, session: Session, user: PageUser, settings: AppSettings, runtime: Runtime
) -> Response:
    """Completing the job: the BSO photo first, then the move to done with the money; field errors keep the form."""
    _master_only(user)
    form = await request.form()
    data = _form_values(form, ("version", *MONEY_FIELDS))
    data |= {k: forms.money_text(data[k]) for k in MONEY_FIELDS if k in data}
    t = translator(request)
    try:
        await _make_move(session, user, settings, job_id, {"to": Status.done.value, **data})
    except (ValidationProblem, Conflict) as problem:
        await session.rollback()
        job = await queries.get_request(session, user, job_id)
        errors = _beside(forms.field_errors(problem, t), (*MONEY_FIELDS, "bso"))
        if isinstance(problem, Conflict):
            errors = {"": t("my.changed")}
        context = await _complete_context(session, user, job, typed=data, errors=errors)
        if isinstance(problem, Conflict):
            context["typed"] = {**data, "version": job.version}
        return render(request, "my/complete_form.html", context, principal=user, status_code=problem.status)
    return Response(status_code=204, headers={"HX-Redirect": "/my?tab=done"})
