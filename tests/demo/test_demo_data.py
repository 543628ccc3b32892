"""Both demo data sets obey the rules the API enforces: statuses, money, one handover per done request, events."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from leadflow.accounts.models import Role, User, UserCity
from leadflow.accounts.policies import Principal
from leadflow.cash.models import Transaction
from leadflow.demo import large
from leadflow.demo.seed import seed
from leadflow.requests import queries
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.workflow import Status, is_late
from leadflow.telephony.models import Call
from tests.conftest import Harness
from tests.requests.helpers import handover_cents, money, to_cents

TINY = large.Scale(cities=3, campaigns=4, masters=6, requests=400, transactions=300, days=60)


async def _check_invariants(h: Harness) -> dict[str, Any]:
    async with h.database.session() as session:
        requests = list(await session.scalars(select(Request)))
        linked = list(
            await session.scalars(
                select(Transaction).where(Transaction.request_id.is_not(None), Transaction.deleted_at.is_(None))
            )
        )
        events = dict(
            (
                await session.execute(select(RequestEvent.request_id, func.count()).group_by(RequestEvent.request_id))
            ).all()
        )
    live = Counter(t.request_id for t in linked)  # live transactions per request: one handover, or none
    amounts = {t.request_id: t.amount for t in linked}
    assert set(live) <= {r.id for r in requests}, "a handover of no request"
    statuses = {r.status for r in requests}
    for request in requests:
        assert events.get(request.id, 0) >= 1, f"request {request.id} has no history"
        if request.status == Status.done:
            assert request.result is not None and request.expenses is not None and request.company_share is not None
            # SPEC §3.3 in whole kopecks, independently of the generator's money.compute: net = result − expenses,
            # handover = net × share rounded half-up to the kopeck.
            result, expenses, share = (
                to_cents(request.result),
                to_cents(request.expenses),
                to_cents(request.company_share),
            )
            assert 0 <= expenses <= result and 0 <= share <= 100, (request.id, result, expenses, share)
            net, handover = result - expenses, handover_cents(result - expenses, share)
            assert (request.net_amount, request.master_handover) == (money(net), money(handover)), request.id
            assert request.completed_at is not None and request.master_id is not None
            if handover > 0:
                assert live[request.id] == 1, f"request {request.id} has {live[request.id]} live handovers"
                assert amounts[request.id] == money(handover)
            else:
                assert live[request.id] == 0, f"request {request.id} has a handover of nothing"
        else:
            assert live[request.id] == 0 and request.completed_at is None, request.id
    return {"requests": len(requests), "statuses": statuses, "handovers": sum(live.values())}


async def test_small_demo_covers_every_status_with_consistent_money(h: Harness) -> None:
    login, password, created = await seed(h.settings, h.database)
    assert created and login == "admin" and password
    found = await _check_invariants(h)
    assert found["statuses"] == {s.value for s in Status}
    assert found["handovers"] >= 1
    async with h.database.session() as session:
        calls = (await session.scalars(select(Call).order_by(Call.entry_id))).all()
    assert [c.outcome for c in calls] == ["created_request", "created_request", "attached", "unmatched_line", "ignored"]
    assert calls[0].request_id == calls[2].request_id is not None
    assert [c.duration_s for c in calls] == [95, 0, 40, 0, 60]
    # A second run finds the users and changes nothing.
    assert (await seed(h.settings, h.database))[2] is False


async def test_large_set_loads_in_bulk_obeys_the_rules_and_loads_once(h: Harness) -> None:
    await seed(h.settings, h.database)
    progress: dict[str, int] = {}

    def advance(table: str, written: int, planned: int) -> None:
        progress[table] = progress.get(table, 0) + written
        assert progress[table] <= planned

    counts = await large.load(h.settings, h.database, advance, TINY)
    assert counts["requests"] == 400 and counts["transactions"] == 300 and counts["masters"] == 6
    assert progress["requests"] == 400 and progress["request events"] == counts["request_events"]
    found = await _check_invariants(h)
    assert found["requests"] >= 400
    assert Status.done.value in found["statuses"] and Status.new.value in found["statuses"]
    # The bench accounts sign in with the documented password; API reads work on the loaded rows.
    client = await h.as_user(await _user(h, "bench.admin"), large.BENCH_PASSWORD)
    listed = await client.get("/api/v1/requests", params={"per_page": 5})
    assert listed.status_code == 200 and listed.json()["total"] == found["requests"]
    balance = await client.get("/api/v1/cash/balance", params={"date_from": "2020-01-01"})
    assert balance.status_code == 200
    totals = balance.json()["totals"]
    assert Decimal(totals["income"]) > 0 and Decimal(totals["expense"]) > 0  # handovers and other bookings both
    assert await large.load(h.settings, h.database, advance, TINY) == {}


async def _user(h: Harness, login: str) -> User:
    async with h.database.session() as session:
        user = await session.scalar(select(User).where(User.login == login))
    assert user is not None
    return user


async def test_small_demo_gives_the_director_a_board_around_now(h: Harness) -> None:
    await seed(h.settings, h.database)
    async with h.database.session() as session:
        director = await session.scalar(select(User).where(User.login == "director.msk"))
        assert director is not None
        cities = [c.city_id for c in await session.scalars(select(UserCity).where(UserCity.user_id == director.id))]
        principal = Principal(director.id, director.login, Role.director, frozenset(cities), None, "test")
        now = dt.datetime.now(dt.UTC)
        board = await queries.dispatch_day(
            session, principal, min(cities), now - dt.timedelta(hours=3), now + dt.timedelta(days=2)
        )
    statuses = Counter(job.status for job in board.jobs)
    assert statuses[Status.awaiting_acceptance] >= 1 and statuses[Status.accepted] >= 2, statuses
    assert any(is_late(job.status, job.visit_at, now) for job in board.jobs)
    assert any(job.visit_at is not None and job.visit_at > now + dt.timedelta(hours=20) for job in board.jobs)
    assert len([r for r in board.tray if r.visit_at is not None and r.visit_at < now + dt.timedelta(days=2)]) >= 3
    assert len(board.masters) == 2 and sum(m.jobs for m in board.masters) == len(board.jobs)
