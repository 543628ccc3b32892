"""The reads the dispatch board needs: a city's day (tray, the masters' jobs, load) and the active masters of a
city, both scoped like every read; and the late rule."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import update

from leadflow.accounts.models import Role, User
from leadflow.accounts.policies import Principal
from leadflow.platform.periods import utc_bounds
from leadflow.requests import queries
from leadflow.requests.workflow import is_late
from tests.conftest import Harness
from tests.requests.helpers import create, move

ZONE = "Europe/Moscow"


def at(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(ZONE)).isoformat()


def principal(user: User, role: Role, cities: list[int]) -> Principal:
    return Principal(user.id, user.login, role, frozenset(cities), None, "test")


async def test_dispatch_day_tray_jobs_and_load(h: Harness) -> None:
    city, other = await h.city(), await h.city()
    director = await h.user("director", cities=[city.id])
    admin = await h.as_user(await h.user("admin"))
    busy, idle, blocked = [await h.user("master", master_city=city.id) for _ in range(3)]
    foreign = await h.user("master", master_city=other.id)
    async with h.database.session() as session:
        await session.execute(update(User).where(User.id == blocked.id).values(status="blocked"))
        await session.commit()
    today = dt.datetime.now(ZoneInfo(ZONE)).date()
    tomorrow = today + dt.timedelta(days=1)

    async def booked(when: str | None, city_id: int = city.id) -> int:
        fields = {"address": "ул. Ленина, 1"} | ({"visit_at": when} if when else {})
        req = await create(admin, city_id, **fields)
        if when:
            await move(admin, req["id"], "awaiting_dispatch")
        return int(req["id"])

    late_tray, early_tray = await booked(at(tomorrow, 18)), await booked(at(today, 9))
    unbooked = await booked(None)  # new: not in the tray
    first = await booked(at(today, 10))
    await move(admin, first, "awaiting_acceptance", master_id=busy.id)
    second = await booked(at(today, 14))
    await move(admin, second, "awaiting_acceptance", master_id=busy.id)
    await move(admin, second, "accepted")
    next_day = await booked(at(tomorrow, 11))
    await move(admin, next_day, "awaiting_acceptance", master_id=idle.id)
    elsewhere = await booked(at(today, 10), other.id)
    await move(admin, elsewhere, "awaiting_acceptance", master_id=foreign.id)

    start, end = utc_bounds(today, today, ZONE)
    assert start is not None and end is not None
    async with h.database.session() as session:
        board = await queries.dispatch_day(session, principal(director, Role.director, [city.id]), city.id, start, end)
        assert [r.id for r in board.tray] == [early_tray, late_tray]  # earliest visit first
        assert unbooked not in [r.id for r in board.tray]
        assert [r.id for r in board.jobs] == [first, second]
        assert [(m.master_id, m.jobs) for m in board.masters] == [(idle.id, 0), (busy.id, 2)]  # least loaded first
        # Another director sees nothing of this city, not even its masters.
        outsider = principal(director, Role.director, [other.id])
        empty = await queries.dispatch_day(session, outsider, city.id, start, end)
        assert (empty.tray, empty.jobs, empty.masters) == ([], [], [])
        theirs = await queries.dispatch_day(session, outsider, other.id, start, end)
        assert [(m.master_id, m.jobs) for m in theirs.masters] == [(foreign.id, 1)]
        tomorrow_start, tomorrow_end = utc_bounds(tomorrow, tomorrow, ZONE)
        assert tomorrow_start is not None and tomorrow_end is not None
        board = await queries.dispatch_day(
            session, principal(director, Role.director, [city.id]), city.id, tomorrow_start, tomorrow_end
        )
        assert [r.id for r in board.jobs] == [next_day]
        assert [(m.master_id, m.jobs) for m in board.masters] == [(busy.id, 0), (idle.id, 1)]


def test_late_means_visit_passed_and_not_on_the_way() -> None:
    now = dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC)
    past, future = now - dt.timedelta(minutes=1), now + dt.timedelta(minutes=1)
    for status in ("awaiting_dispatch", "awaiting_acceptance", "accepted"):
        assert is_late(status, past, now)
        assert not is_late(status, future, now)
    for status in ("en_route", "in_progress", "deferred", "done", "refused"):
        assert not is_late(status, past, now)
    assert not is_late("accepted", None, now)
