"""The dispatch board ``/board`` (directors; admins may open it): today's or tomorrow's jobs of a city, one lane per
active master along the time of day, the unassigned tray, and the moves a dispatcher makes by drag and drop or by
each card's menu (assign, reassign, move to a time, return to the tray).

Every read and write goes through the requests domain (``queries.dispatch_day``, ``forms.move``,
``editing.update_request``); which moves a card offers comes from ``forms.available_moves``. A write names the
version the board rendered: a stale one is shown on the card ("changed by someone else") with the board re-read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal, may_see_city, visible_city_ids
from leadflow.administration.service import get_settings as runtime_settings
from leadflow.catalog import service as catalog
from leadflow.console import forms
from leadflow.console.render import cached_fragment, render, render_text, translator
from leadflow.console.session import PageRoute, PageUser
from leadflow.platform.concurrency import StaleVersion
from leadflow.platform.db import utcnow
from leadflow.platform.dependencies import AppSettings, CacheDep, Session
from leadflow.platform.periods import utc_bounds
from leadflow.platform.problems import Forbidden, NotFound, Problem, ValidationProblem
from leadflow.requests import editing, queries
from leadflow.requests.models import Request as Job
from leadflow.requests.schemas import RequestUpdate
from leadflow.requests.workflow import Status, is_late

router = APIRouter(route_class=PageRoute, include_in_schema=False)

DAYS = ("today", "tomorrow")
# The time axis: 08:00–22:00 in 15-minute slots (board.css has a class per slot: at-0 … at-55, now-0 … now-56).
FIRST_HOUR, LAST_HOUR, SLOT_MINUTES = 8, 22, 15
SLOTS = (LAST_HOUR - FIRST_HOUR) * 60 // SLOT_MINUTES
CARD_SLOTS = 6  # a card spans an hour and a half of the axis (readable at 1366 px)


@dataclass(frozen=True)
class CityChoice:
    id: int
    name: str


@dataclass(frozen=True)
class Place:
    """Where a city's day sits: the city, the day's date and its UTC bounds (plain values: they outlive a rollback)."""

    city: CityChoice
    zone: str
    day: str
    date: dt.date
    start: dt.datetime
    end: dt.datetime


def _check_role(user: Principal) -> None:
    if user.role not in (Role.director, Role.admin):
        raise Forbidden("The dispatch board is for directors.")


async def _place(
    session: AsyncSession, user: Principal, city_id: str | None, day: str | None
) -> tuple[Place, list[CityChoice]]:
    _check_role(user)
    cities = await catalog.list_cities(session, visible_city_ids(user))
    if not cities:
        raise NotFound("No city to dispatch.")
    if city_id is None or city_id == "":
        city = cities[0]
    else:
        wanted = int(city_id) if city_id.isascii() and city_id.isdigit() and len(city_id) < 10 else -1
        found = [c for c in cities if c.id == wanted and may_see_city(user, c.id)]
        if not found:
            raise NotFound("No such city.")
        city = found[0]
    day = day or "today"
    if day not in DAYS:
        raise NotFound("No such day.")
    date = dt.datetime.now(ZoneInfo(city.timezone)).date() + dt.timedelta(days=DAYS.index(day))
    start, end = utc_bounds(date, date, city.timezone)
    assert start is not None
    assert end is not None
    choices = [CityChoice(c.id, c.name) for c in cities]
    return Place(CityChoice(city.id, city.name), city.timezone, day, date, start, end), choices


def _slot(moment: dt.datetime, zone: str) -> int:
    local = moment.astimezone(ZoneInfo(zone))
    minutes = local.hour * 60 + local.minute - FIRST_HOUR * 60
    return min(max(minutes // SLOT_MINUTES, 0), SLOTS - 1)


def _card(user: Principal, job: Job, zone: str, now: dt.datetime) -> dict[str, Any]:
    moves = forms.available_moves(user, job)
    targets = {m.target for m in moves}
    return {
        "job": job,
        "slot": min(_slot(job.visit_at, zone), SLOTS - CARD_SLOTS) if job.visit_at else 0,
        "late": is_late(job.status, job.visit_at, now),
        "pending": job.status == Status.awaiting_acceptance,
        "can_assign": Status.awaiting_acceptance in targets,
        "can_return": Status.awaiting_dispatch in targets,
        "local_time": job.visit_at.astimezone(ZoneInfo(zone)).strftime("%H:%M") if job.visit_at else "",
        "local_date": job.visit_at.astimezone(ZoneInfo(zone)).date() if job.visit_at else None,
    }


async def _view_context(
    session: AsyncSession, user: Principal, place: Place, cities: list[CityChoice], lang: str
) -> dict[str, Any]:
    now = utcnow()
    board = await queries.dispatch_day(session, user, place.city.id, place.start, place.end)
    zone = place.zone
    lanes: dict[int, list[dict[str, Any]]] = {load.master_id: [] for load in board.masters}
    for job in board.jobs:
        if job.master_id in lanes:
            lanes[job.master_id].append(_card(user, job, zone, now))
    now_slot = None
    if place.day == "today":
        local = now.astimezone(ZoneInfo(zone))
        minutes = local.hour * 60 + local.minute - FIRST_HOUR * 60
        if 0 <= minutes <= SLOTS * SLOT_MINUTES:
            now_slot = minutes // SLOT_MINUTES
    by_name = sorted(board.masters, key=lambda m: (m.name, m.master_id))
    return {
        "place": place,
        "cities": cities,
        "zone": zone,
        "masters": board.masters,  # least loaded first: the "Assign to…" menus
        "lanes": [(load, lanes[load.master_id]) for load in by_name],
        "tray": [_card(user, job, zone, now) for job in board.tray],
        "now_slot": now_slot,
        "hours": list(range(FIRST_HOUR, LAST_HOUR)),
        "days": DAYS,
        "notice": None,
    }


def _query(place: Place) -> str:
    return f"city_id={place.city.id}&day={place.day}"


@router.get("/board")
async def board_page(
    request: Request, session: Session, user: PageUser, city_id: str | None = None, day: str | None = None
) -> Response:
    place, cities = await _place(session, user, city_id, day)
    context = await _view_context(session, user, place, cities, _lang(request))
    context |= {"live": True, "query": _query(place)}
    return render(request, "board.html", context, principal=user)


@router.get("/board/view")
async def board_view(
    request: Request,
    session: Session,
    user: PageUser,
    cache: CacheDep,
    city_id: str | None = None,
    day: str | None = None,
) -> Response:
    place, cities = await _place(session, user, city_id, day)

    async def rendered() -> str:
        context = await _view_context(session, user, place, cities, _lang(request))
        return render_text(request, "fragments/board_view.html", context | {"query": _query(place)}, principal=user)

    # Every open board of the city refetches this after each change there.
    parts = {"scope": queries.scope_key(user), "city": place.city.id, "day": place.day, "date": place.date.isoformat()}
    tags = [*queries.PAGE_TAGS, "ref:cities"]
    return await cached_fragment(request, cache, "console.board", parts, tags, rendered)


def _lang(request: Request) -> str:
    return translator(request).lang


async def _write(
    request: Request,
    session: AsyncSession,
    user: Principal,
    city_id: str,
    day: str,
    job_id: int,
    change: Callable[[Place], Awaitable[object]],
) -> Response:
    """Make one change and answer the board as it is now. A refused change is shown on its card: a stale version as
    "changed by someone else" (409), any other refusal with its message (422, 409); a job out of scope is the 404."""
    place, cities = await _place(session, user, city_id, day)
    problem: Problem | None = None
    try:
        await change(place)
    except Problem as refused:
        if refused.status == 404:
            raise
        problem = refused
        await session.rollback()  # nothing of the refused change stays in the session
    context = await _view_context(session, user, place, cities, _lang(request))
    status = 200
    if problem is not None:
        t = translator(request)
        conflict = problem.slug == StaleVersion.type
        message = t("board.conflict") if conflict else "; ".join(forms.field_errors(problem, t).values())
        context["notice"] = {"id": job_id, "conflict": conflict, "message": message}
        status = problem.status
    context["query"] = _query(place)
    return render(request, "fragments/board_view.html", context, principal=user, status_code=status)


Version = Annotated[str, Form(max_length=12)]
CityForm = Annotated[str, Form(max_length=12)]
DayForm = Annotated[str, Form(max_length=10)]


@router.post("/board/jobs/{job_id}/assign")
async def assign(
    request: Request,
    session: Session,
    settings: AppSettings,
    user: PageUser,
    job_id: int,
    master_id: Annotated[str, Form(max_length=12)] = "",
    version: Version = "",
    city_id: CityForm = "",
    day: DayForm = "today",
) -> Response:
    """Offer a job to a master: from the tray (assign) or from another master's lane (reassign)."""

    async def change(_: Place) -> object:
        data = {"to": "awaiting_acceptance", "master_id": master_id, "version": version}
        return await forms.move(session, user, settings, job_id, data)

    return await _write(request, session, user, city_id, day, job_id, change)


@router.post("/board/jobs/{job_id}/return")
async def return_to_tray(
    request: Request,
    session: Session,
    settings: AppSettings,
    user: PageUser,
    job_id: int,
    version: Version = "",
    city_id: CityForm = "",
    day: DayForm = "today",
) -> Response:
    """Take an offer back from the master (the workflow's move back to awaiting dispatch)."""

    async def change(_: Place) -> object:
        return await forms.move(session, user, settings, job_id, {"to": "awaiting_dispatch", "version": version})

    return await _write(request, session, user, city_id, day, job_id, change)


@router.post("/board/jobs/{job_id}/time")
async def move_to_time(
    request: Request,
    session: Session,
    settings: AppSettings,
    user: PageUser,
    job_id: int,
    time: Annotated[str, Form(max_length=8)] = "",
    version: Version = "",
    city_id: CityForm = "",
    day: DayForm = "today",
) -> Response:
    """Move a job's visit to ``time`` (HH:MM, the city's time) on the board's day: an edit of ``visit_at``."""

    async def change(place: Place) -> object:
        try:
            local = dt.time.fromisoformat(time)
        except ValueError:
            raise ValidationProblem.field("time", "Give the time as HH:MM.") from None
        visit = dt.datetime.combine(place.date, local.replace(second=0, microsecond=0), ZoneInfo(place.zone))
        body = forms.parse(RequestUpdate, {"visit_at": visit.isoformat(), "version": version})
        share = (await runtime_settings(session, settings)).company_share
        return await editing.update_request(session, user, job_id, body, None, default_share=share)

    return await _write(request, session, user, city_id, day, job_id, change)
