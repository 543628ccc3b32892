"""What intake reads beside a call (the caller's history, the masters' load on a day) and its one-step booking."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from leadflow.accounts.models import Role, User
from leadflow.accounts.policies import Principal
from leadflow.platform.problems import Forbidden, NotFound, Problem, ValidationProblem
from leadflow.requests import queries, transitions
from leadflow.requests.schemas import RequestUpdate
from tests.conftest import Harness
from tests.requests.helpers import VISIT, create, move, new_phone, reach, team, url

SHARE = Decimal("0.50")


def principal(user: User, cities: list[int] | None = None) -> Principal:
    master_city = user.master.city_id if user.role == Role.master and user.master is not None else None
    return Principal(
        id=user.id,
        login=user.login,
        role=Role(user.role),
        city_ids=frozenset(cities or ()),
        master_city_id=master_city,
        session_id="test",
    )


async def test_client_history_counts_last_job_master_and_open_requests_in_scope(h: Harness) -> None:
    t = await team(h)
    other = await team(h)
    phone = new_phone()
    done = await reach(t, "done", client_phone=phone)
    booked = await reach(t, "awaiting_dispatch", client_phone=phone)
    fresh = await create(t.operator, t.city.id, client_phone=phone)
    await create(other.operator, other.city.id, client_phone=phone)  # another city: not the operator's to count
    operator = await h.user("operator", cities=[t.city.id])
    async with h.database.session() as session:
        history = await queries.client_history(session, principal(operator, [t.city.id]), phone)
        everywhere = await queries.client_history(session, principal(await h.user("admin")), phone)
        nothing = await queries.client_history(session, principal(operator, [t.city.id]), new_phone())
    assert history.requests == 3
    assert history.last_done_at is not None
    assert history.last_done_at.isoformat() == done["completed_at"].replace("Z", "+00:00")
    assert history.last_master == t.master_user.full_name
    assert history.open_ids == (fresh["id"], booked["id"])
    assert history.open_besides(fresh["id"]) == (booked["id"],)
    assert everywhere.requests == 4
    assert nothing == queries.ClientHistory()


async def test_client_history_is_not_for_marketers(h: Harness) -> None:
    marketer = await h.user("marketer")
    async with h.database.session() as session:
        with pytest.raises(Forbidden):
            await queries.client_history(session, principal(marketer), new_phone())


async def test_master_load_counts_jobs_of_the_local_day_per_active_master(h: Harness) -> None:
    t = await team(h)  # the harness's cities are in Moscow time
    idle = await h.user("master", master_city=t.city.id)
    blocked = await h.user("master", master_city=t.city.id)
    async with h.database.session() as session:
        row = await session.get(User, blocked.id)
        assert row is not None
        row.status = "blocked"
        await session.commit()
    zone = ZoneInfo("Europe/Moscow")
    day = dt.date(2026, 11, 25)
    late_evening = dt.datetime(2026, 11, 25, 23, 30, tzinfo=zone).isoformat()  # 20:30 UTC: still the 25th locally
    next_morning = dt.datetime(2026, 11, 26, 0, 30, tzinfo=zone).isoformat()  # the 25th in UTC, the 26th locally
    await reach(t, "awaiting_acceptance", visit_at=VISIT)
    await reach(t, "accepted", visit_at=late_evening)
    await reach(t, "accepted", visit_at=next_morning)
    refused = await reach(t, "awaiting_acceptance", visit_at=VISIT)
    await move(t.director, refused["id"], "refused", reason="cancelled")
    director = await h.user("director", cities=[t.city.id])
    async with h.database.session() as session:
        load = await queries.master_load(session, principal(director, [t.city.id]), t.city.id, day, business_zone="UTC")
        next_day = await queries.master_load(
            session, principal(director, [t.city.id]), t.city.id, day + dt.timedelta(days=1), business_zone="UTC"
        )
        with pytest.raises(NotFound):
            await queries.master_load(session, principal(director, []), t.city.id, day, business_zone="UTC")
    assert [(m.master_id, m.jobs) for m in load] == [(idle.id, 0), (t.master_id, 2)]
    assert {m.master_id: m.jobs for m in next_day} == {idle.id: 0, t.master_id: 1}
    assert blocked.id not in {m.master_id for m in load}


async def test_book_edits_and_moves_in_one_step(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    operator = await h.user("operator", cities=[t.city.id])
    who = principal(operator, [t.city.id])
    data = RequestUpdate(address="ул. Мира, 5", visit_at=VISIT, client_name="Анна", version=req["version"])
    async with h.database.session() as session:
        booked = await transitions.book(session, who, req["id"], data, default_share=SHARE)
    assert booked.status == "awaiting_dispatch"
    assert (booked.address, booked.client_name) == ("ул. Мира, 5", "Анна")
    assert booked.operator_id == operator.id


@pytest.mark.parametrize(
    ("fields", "missing"),
    [({"client_name": "Анна", "visit_at": VISIT}, ["address"]), ({"address": "ул. Мира, 5"}, ["visit_at"])],
)
async def test_book_without_address_or_time_changes_nothing(
    h: Harness, fields: dict[str, str], missing: list[str]
) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    who = principal(await h.user("operator", cities=[t.city.id]), [t.city.id])
    async with h.database.session() as session:
        with pytest.raises(ValidationProblem) as refused:
            await transitions.book(
                session, who, req["id"], RequestUpdate(**fields, version=req["version"]), default_share=SHARE
            )
    assert [e["field"] for e in refused.value.errors or []] == missing
    stored = (await t.director.get(url(req["id"]))).json()
    assert (stored["status"], stored["version"], stored["client_name"], stored["address"]) == (
        "new",
        req["version"],
        None,
        None,
    )


async def test_book_of_a_stale_version_or_a_booked_request_is_refused(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    await t.director.patch(url(req["id"]), json={"problem": "течёт", "version": req["version"]})
    who = principal(await h.user("operator", cities=[t.city.id]), [t.city.id])
    data = RequestUpdate(address="ул. Мира, 5", visit_at=VISIT, version=req["version"])
    async with h.database.session() as session:
        with pytest.raises(Problem) as stale:
            await transitions.book(session, who, req["id"], data, default_share=SHARE)
    assert (stale.value.status, stale.value.slug) == (409, "stale-version")
    booked = await reach(t, "awaiting_dispatch")
    async with h.database.session() as session:
        with pytest.raises(Problem) as again:
            await transitions.book(
                session, who, booked["id"], RequestUpdate(version=booked["version"]), default_share=SHARE
            )
    assert again.value.status == 409
