"""Property tests (hypothesis) of the money rule of SPEC §3.3 and of the state machine of §3.2.

- the pure rule: net, handover (half-up to the kopeck) and earnings against integer arithmetic on kopecks;
- the same rule through the API: the done answer and the single handover income it books;
- random walks of moves by random roles on one request: never a 5xx, the status changes only on 200, the codes are
  those the SPEC table gives, and the request has one live handover exactly while it is done with a positive one.

The database is not reset between hypothesis examples of one test, so every example makes its own request.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from leadflow.accounts.models import MasterProfile
from leadflow.requests.money import compute
from tests.conftest import Harness
from tests.requests.helpers import API, as_text, handover_cents, handovers, money
from tests.requests.spec_table import INTAKE, SPEC_TABLE, STATUSES, spec_allowed, state_of

MAX_CENTS = 10**12  # results below 10^10 roubles, two decimals: NUMERIC(12,2)
DB_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
# Shares (in %) for which some net gives a product ending in exactly half a kopeck: net·share ≡ 50 (mod 100) has a
# solution exactly when gcd(share, 100) divides 50.
HALF_KOPECK_SHARES = [share for share in range(1, 101) if 50 % math.gcd(share, 100) == 0]


@st.composite
def amounts(draw: st.DrawFn, max_cents: int = MAX_CENTS - 1) -> tuple[int, int, int]:
    """(result, expenses, share %) with 0 ≤ expenses ≤ result; small and round values are drawn often."""
    result = draw(st.one_of(st.integers(0, 200), st.integers(0, max_cents), st.sampled_from([0, 1, 100, max_cents])))
    expenses = draw(st.one_of(st.just(0), st.just(result), st.integers(0, result)))
    share = draw(st.one_of(st.integers(0, 100), st.sampled_from([0, 1, 49, 50, 51, 99, 100])))
    return result, expenses, share


# The pure rule -------------------------------------------------------------------------------------------------------
@settings(max_examples=2000, deadline=None)
@given(amounts())
@example((1, 0, 50))  # 0.005 rounds half-up to 0.01
@example((1, 0, 49))  # 0.0049 rounds to 0.00
@example((399999, 0, 50))  # 1999.995 → 2000.00
@example((MAX_CENTS - 1, 0, 100))
def test_money_rule(drawn: tuple[int, int, int]) -> None:
    result, expenses, share = drawn
    computed = compute(money(result), money(expenses), money(share))
    net = result - expenses
    assert computed.net_amount == money(net) == computed.result - computed.expenses
    assert computed.master_handover == money(handover_cents(net, share))
    assert Decimal(0) <= computed.master_handover <= computed.net_amount
    earnings = computed.net_amount - computed.master_handover
    assert earnings == money(net - handover_cents(net, share))
    assert earnings >= 0
    for value in (computed.result, computed.expenses, computed.net_amount, computed.master_handover):
        assert value.as_tuple().exponent == -2  # two decimals, always
    assert computed.company_share == money(share)


@st.composite
def half_kopeck_products(draw: st.DrawFn) -> tuple[int, int]:
    """(net in kopecks, share %) whose exact handover net × share ends in exactly half a kopeck."""
    share = draw(st.sampled_from(HALF_KOPECK_SHARES))
    g = math.gcd(share, 100)
    step = 100 // g  # net·share mod 100 repeats with this period in net
    first = (50 // g) * pow(share // g, -1, step) % step  # the smallest net with net·share ≡ 50 (mod 100)
    net = first + step * draw(st.integers(0, (MAX_CENTS - 1 - first) // step))
    return net, share


@given(half_kopeck_products())
@example((1, 50))  # 0.005 → 0.01 (banker's: 0.00)
@example((5, 10))  # 0.005 → 0.01 (banker's: 0.00)
@example((3, 50))  # 0.015 → 0.02 (banker's too)
@example((399999, 50))  # 1999.995 → 2000.00
@example((MAX_CENTS - 1, 50))
def test_half_up_is_not_bankers_rounding(drawn: tuple[int, int]) -> None:
    """A product ending in exactly half a kopeck always rounds up (banker's rounding would round some down)."""
    net, share = drawn
    assert net * share % 100 == 50  # in 1/100 of a kopeck: exactly half a kopeck over a whole one
    handover = compute(money(net), Decimal(0), money(share)).master_handover
    assert handover == money(net * share // 100 + 1)


# Shared API helpers ---------------------------------------------------------------------------------------------------
class Desk:
    """One city with a director, an admin, two masters and their clients, set up once per test."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.clients: dict[str, httpx.AsyncClient] = {}

    async def setup(self) -> Desk:
        city = await self.h.city()
        self.city_id = city.id
        users = {
            "admin": await self.h.user("admin"),
            "director": await self.h.user("director", cities=[city.id]),
            "operator": await self.h.user("operator", cities=[city.id]),
            "marketer": await self.h.user("marketer", cities=[city.id]),
            "master_a": await self.h.user("master", master_city=city.id),
            "master_b": await self.h.user("master", master_city=city.id),
        }
        self.ids = {role: user.id for role, user in users.items()}
        for role, user in users.items():
            self.clients[role] = await self.h.as_user(user)
        return self

    async def set_share(self, master: str, share: Decimal | None) -> None:
        async with self.h.database.session() as session:
            await session.execute(
                update(MasterProfile).where(MasterProfile.user_id == self.ids[master]).values(company_share=share)
            )
            await session.commit()

    async def create(self) -> dict[str, Any]:
        body = {
            "city_id": self.city_id,
            "client_phone": "79165550022",
            "address": "ул. Мира, 5",
            "visit_at": "2030-02-01T10:00:00+03:00",
        }
        response = await self.clients["director"].post(f"{API}/requests", json=body)
        assert response.status_code == 201, response.text
        return response.json()  # type: ignore[no-any-return]

    async def move(self, req: dict[str, Any], body: dict[str, Any], role: str = "director") -> httpx.Response:
        return await self.clients[role].post(
            f"{API}/requests/{req['id']}/transitions", json={"version": req["version"], **body}
        )

    async def handovers(self, rid: int) -> list[dict[str, Any]]:
        return await handovers(self.clients["admin"], rid)


@pytest.fixture
async def desk(h: Harness) -> Desk:
    """Function-scoped, so one desk serves every hypothesis example of a test (each example makes its own
    request)."""
    return await Desk(h).setup()


# Money through the API -----------------------------------------------------------------------------------------------
@DB_SETTINGS
@given(drawn=amounts(max_cents=10**9), as_number=st.booleans())
@example(drawn=(0, 0, 50), as_number=False)
@example(drawn=(1, 0, 49), as_number=False)
@example(drawn=(1, 0, 50), as_number=True)
@example(drawn=(500000, 100001, 50), as_number=False)
async def test_done_books_the_computed_handover(desk: Desk, drawn: tuple[int, int, int], as_number: bool) -> None:
    result, expenses, share = drawn
    await desk.set_share("master_a", money(share))
    req = await desk.create()
    for body in (
        {"to": "awaiting_dispatch"},
        {"to": "awaiting_acceptance", "master_id": desk.ids["master_a"]},
        {"to": "accepted"},
        {"to": "in_progress"},
    ):
        response = await desk.move(req, body)
        assert response.status_code == 200, response.text
        req = response.json()
    sent: Any = (
        {"result": float(as_text(result)), "expenses": float(as_text(expenses))}
        if as_number
        else {"result": as_text(result), "expenses": as_text(expenses)}
    )
    response = await desk.move(req, {"to": "done", **sent}, role="master_a")
    assert response.status_code == 200, response.text
    done = response.json()
    handover = handover_cents(result - expenses, share)
    assert (done["result"], done["expenses"]) == (as_text(result), as_text(expenses))
    assert done["net_amount"] == as_text(result - expenses)
    assert done["master_handover"] == as_text(handover)
    assert done["company_share"] == as_text(share)
    booked = await desk.handovers(req["id"])
    if handover > 0:
        assert [(t["kind"], t["amount"], t["request_id"]) for t in booked] == [("income", as_text(handover), req["id"])]
        assert booked[0]["master_id"] == desk.ids["master_a"] and booked[0]["city_id"] == desk.city_id
    else:
        assert booked == []


# Random walks ----------------------------------------------------------------------------------------------------------
ROLES = ("admin", "director", "operator", "marketer", "master")
FULL_BODY = {
    "callback": {"callback_at": "2030-01-10T12:30:00+03:00"},
    "refused": {"reason": "Отказ клиента"},
    "deferred": {"note": "Ждём запчасть"},
    "new": {"reason": "Клиент перезвонил"},
}


def body_for(to: str, req: dict[str, Any], desk: Desk, complete: bool, cents: tuple[int, int]) -> dict[str, Any]:
    """A body for a move to ``to``; with ``complete`` False the move's requirements are left out."""
    if not complete:
        return {"to": to}
    body: dict[str, Any] = {"to": to, **FULL_BODY.get(to, {})}
    if to in ("in_progress", "awaiting_dispatch") and req["status"] in ("done", "refused"):
        body["reason"] = "Возобновлено"
    if to == "awaiting_acceptance":
        body["master_id"] = desk.ids["master_b" if req["master_id"] == desk.ids["master_a"] else "master_a"]
    if to == "done":
        body |= {"result": as_text(cents[0]), "expenses": as_text(cents[1])}
    return body


def expected_code(role: str, req: dict[str, Any], to: str, was_assigned: bool, desk: Desk, complete: bool) -> set[int]:
    """The answer the SPEC gives for this attempt: an incomplete body is 422 only for a move that needs something."""
    if role == "marketer":
        return {403}
    if role.startswith("master") and req["master_id"] != desk.ids[role]:
        return {404}
    current = req["status"]
    roles = SPEC_TABLE.get((state_of(current, was_assigned), to))
    if roles is None:
        return {409}
    if role != "admin" and role.removesuffix("_a").removesuffix("_b") not in roles:
        return {403}
    needs_nothing = to in ("accepted", "en_route") or (to == "in_progress" and current != "done")
    needs_nothing |= to == "not_reached" or to == "callback" or (to == "awaiting_dispatch" and current in INTAKE)
    needs_nothing |= to == "awaiting_dispatch" and current == "awaiting_acceptance"
    return {200} if complete or needs_nothing else {422}


PATHS = {
    "new": (),
    "awaiting_acceptance": ("awaiting_dispatch", "awaiting_acceptance"),
    "awaiting_dispatch": ("awaiting_dispatch",),
    "accepted": ("awaiting_dispatch", "awaiting_acceptance", "accepted"),
    "in_progress": ("awaiting_dispatch", "awaiting_acceptance", "accepted", "in_progress"),
    "done": ("awaiting_dispatch", "awaiting_acceptance", "accepted", "in_progress", "done"),
}


@DB_SETTINGS
@given(data=st.data(), start=st.sampled_from(sorted(PATHS)), share=st.sampled_from([0, 33, 50, 100]))
async def test_random_walks_keep_the_invariants(desk: Desk, data: st.DataObject, start: str, share: int) -> None:
    await desk.set_share("master_a", money(share))
    await desk.set_share("master_b", money(100 - share))
    req = await desk.create()
    was_assigned = False
    for to in PATHS[start]:
        response = await desk.move(req, body_for(to, req, desk, True, (1000, 0)), role="admin")
        assert response.status_code == 200, response.text
        req = response.json()
        was_assigned |= to == "awaiting_acceptance"
    for _ in range(data.draw(st.integers(1, 12), label="steps")):
        # Half the time a target the table offers from here, and a role that is in the table or holds the request,
        # so that the walks get deep into the table; else anything.
        state = state_of(req["status"], was_assigned)
        offered = sorted(spec_allowed(state))
        to = data.draw(st.sampled_from(STATUSES) | st.sampled_from(offered), label="to")
        holder = next((name for name in ("master_a", "master_b") if desk.ids[name] == req["master_id"]), "master_b")
        likely = ["admin", *(holder if r == "master" else r for r in sorted(SPEC_TABLE.get((state, to), ())))]
        role = data.draw(st.sampled_from([*ROLES, "master_b"]) | st.sampled_from(likely), label="role")
        role = "master_a" if role == "master" else role
        complete = data.draw(st.booleans() | st.just(True), label="complete")
        cents = data.draw(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)).map(sorted), label="money")
        body = body_for(to, req, desk, complete, (cents[1], cents[0]))
        expected = expected_code(role, req, to, was_assigned, desk, complete)
        response = await desk.move(req, body, role=role)
        assert response.status_code in {200, 403, 404, 409, 422}, response.text
        assert response.status_code in expected, f"{role}: {req['status']} → {to} {body}: {response.text}"
        stored = (await desk.clients["admin"].get(f"{API}/requests/{req['id']}")).json()
        assert stored["status"] in STATUSES
        if response.status_code == 200:
            assert stored["status"] == to and stored["version"] == req["version"] + 1
            was_assigned |= to == "awaiting_acceptance"
        else:
            assert (stored["status"], stored["version"]) == (req["status"], req["version"])
        req = stored
        live = await desk.handovers(req["id"])
        positive = req["status"] == "done" and Decimal(req["master_handover"]) > 0
        assert len(live) == (1 if positive else 0), (req["status"], req["master_handover"], live)
        if positive:
            assert live[0]["amount"] == req["master_handover"]
