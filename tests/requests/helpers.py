"""Shared helpers of the request tests: the API paths, driving requests through the API (``create``, ``move``,
``Team``, ``reach``), reading what a request left behind (``handovers``, ``events``), explicit report periods, and the
money rule of SPEC §3.3 in integer kopecks (the independent expectation the money tests compare against)."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from leadflow.accounts.models import User
from leadflow.catalog.models import City
from tests.conftest import Harness

API = "/api/v1"
REQUESTS = f"{API}/requests"
VISIT = "2026-11-25T10:00:00+03:00"
# The path from intake to done; the director may make every one of these moves.
PATH = ("awaiting_dispatch", "awaiting_acceptance", "accepted", "in_progress", "done")
HARNESS_ZONE = "Europe/Moscow"  # the time zone of the harness's cities and of its business settings
_phones = itertools.count(1_000_000)

Json = dict[str, Any]


def url(rid: int, tail: str = "") -> str:
    return f"{REQUESTS}/{rid}{tail}"


def new_phone() -> str:
    return f"7985{next(_phones):07d}"


async def create(client: httpx.AsyncClient, city_id: int, **fields: Any) -> Json:
    fields.setdefault("client_phone", new_phone())
    response = await client.post(REQUESTS, json={"city_id": city_id, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def move(client: httpx.AsyncClient, rid: int, to: str, **extra: Any) -> Json:
    version = (await client.get(url(rid))).json()["version"]
    response = await client.post(url(rid, "/transitions"), json={"to": to, "version": version, **extra})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@dataclass
class Team:
    """A city with its staff, each signed in on their own client."""

    city: City
    admin: httpx.AsyncClient
    director: httpx.AsyncClient
    operator: httpx.AsyncClient
    marketer: httpx.AsyncClient
    master: httpx.AsyncClient
    master_user: User
    operator_id: int

    @property
    def master_id(self) -> int:
        return self.master_user.id

    def client(self, role: str) -> httpx.AsyncClient:
        return getattr(self, role)  # type: ignore[no-any-return]


async def team(h: Harness, city: City | None = None) -> Team:
    city = city or await h.city()
    operator = await h.user("operator", cities=[city.id])
    master = await h.user("master", master_city=city.id)
    return Team(
        city=city,
        admin=await h.as_user(await h.user("admin")),
        director=await h.as_user(await h.user("director", cities=[city.id])),
        operator=await h.as_user(operator),
        marketer=await h.as_user(await h.user("marketer", cities=[city.id])),
        master=await h.as_user(master),
        master_user=master,
        operator_id=operator.id,
    )


async def reach(t: Team, status: str, result: str = "5000", expenses: str = "1000", **fields: Any) -> Json:
    """A new request of the team's city (bookable), moved by the director along PATH up to ``status``."""
    fields.setdefault("address", "ул. Ленина, 1")
    fields.setdefault("visit_at", VISIT)
    req = await create(t.director, t.city.id, **fields)
    for step in PATH[: PATH.index(status) + 1] if status != "new" else ():
        extra: Json = {"master_id": t.master_id} if step == "awaiting_acceptance" else {}
        if step == "done":
            extra = {"result": result, "expenses": expenses}
        req = await move(t.director, req["id"], step, **extra)
    return req


async def type_ids(client: httpx.AsyncClient) -> dict[str, int]:
    return {t["code"]: t["id"] for t in (await client.get(f"{API}/request-types")).json()["items"]}


async def make_direction(admin: httpx.AsyncClient, name: str) -> int:
    response = await admin.post(f"{API}/directions", json={"name": name})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def make_campaign(admin: httpx.AsyncClient, city_id: int, phone: str = "8 800 555-35-35") -> Json:
    body = {"city_id": city_id, "name": f"Avito {phone}", "channel": "avito", "phone": phone}
    response = await admin.post(f"{API}/campaigns", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def handovers(client: httpx.AsyncClient, rid: int) -> list[Json]:
    """The live transactions linked to request ``rid`` (its handover income, if any)."""
    response = await client.get(f"{API}/transactions", params={"request_id": rid})
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def events(client: httpx.AsyncClient, rid: int) -> list[Json]:
    response = await client.get(url(rid, "/events"), params={"per_page": 200})
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


# Periods ------------------------------------------------------------------------------------------------------------
def local_today(zone: str = HARNESS_ZONE) -> dt.date:
    return dt.datetime.now(ZoneInfo(zone)).date()


def around_today(zone: str = HARNESS_ZONE) -> dict[str, str]:
    """``date_from`` yesterday and ``date_to`` tomorrow in ``zone``: a report period that holds what a test has just
    done even when the run crosses midnight or a month end (the default, this month up to today, would not)."""
    today = local_today(zone)
    return {
        "date_from": (today - dt.timedelta(days=1)).isoformat(),
        "date_to": (today + dt.timedelta(days=1)).isoformat(),
    }


# The money rule in kopecks ------------------------------------------------------------------------------------------
def money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def as_text(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def to_cents(amount: Decimal) -> int:
    """An amount of at most two decimals as whole kopecks (a share such as 0.50 as a percentage, 50)."""
    cents = amount * 100
    assert cents == cents.to_integral_value(), f"{amount} has more than two decimals"
    return int(cents)


def handover_cents(net_cents: int, share_pct: int) -> int:
    """round_half_up(net × share) in kopecks, with integers only: (net·pct + 50) // 100 for net, pct ≥ 0."""
    return (net_cents * share_pct + 50) // 100
