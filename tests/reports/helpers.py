"""Shared helpers of the report tests (docs/reports.md): calling a report, driving requests through the API, and
moving what the API stamped "now" into a fixed past period with SQL (the only thing done behind the API's back).

The expectations live in the tests as literals worked out by hand; nothing here computes a figure.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import update

from leadflow.cash.models import Transaction
from leadflow.requests.models import Request, RequestEvent
from leadflow.telephony.models import Call
from tests.conftest import Harness
from tests.requests.helpers import API, REQUESTS, move, url

Json = dict[str, Any]
REPORTS = ("cities", "masters", "campaigns", "operators", "summary")
APRIL = {"date_from": "2026-04-01", "date_to": "2026-04-30"}
MARCH = {"date_from": "2026-03-01", "date_to": "2026-03-31"}
MAY = {"date_from": "2026-05-01", "date_to": "2026-05-31"}
VISIT = "2026-04-20T10:00:00+03:00"
BOM = b"\xef\xbb\xbf"


def report_url(name: str) -> str:
    return f"{API}/reports/{name}"


async def report(client: httpx.AsyncClient, name: str, **params: Any) -> Json:
    """A report as JSON; it must answer 200 with the documented envelope."""
    response = await client.get(report_url(name), params=params)
    assert response.status_code == 200, f"{name}: {response.status_code} {response.text}"
    body: Json = response.json()
    assert set(body) == {"items", "totals", "period"}, body.keys()
    return body


def by(items: list[Json], key: str) -> dict[int, Json]:
    """Report items keyed by their grouping id (``city_id``, ``master_id`` …); ids must not repeat."""
    keyed = {int(item[key]): item for item in items}
    assert len(keyed) == len(items), f"duplicate {key} in {items}"
    return keyed


def pick(got: Json, expected: Json) -> Json:
    """The part of ``got`` that ``expected`` names, so that ``pick(x, e) == e`` checks every named field (a missing
    one shows as ``<missing>`` in the diff) and ignores the rest."""
    return {key: got.get(key, "<missing>") for key in expected}


def dt_utc(text: str) -> dt.datetime:
    """``2026-04-05T09:00`` read as UTC."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


# Driving requests through the API ----------------------------------------------------------------------------------
async def new_request(client: httpx.AsyncClient, city_id: int, phone: str, **fields: Any) -> int:
    """A new request taken by ``client`` (an operator stamps themself as its operator), bookable."""
    body = {"city_id": city_id, "client_phone": phone, "address": "ул. Ленина, 1", "visit_at": VISIT, **fields}
    response = await client.post(REQUESTS, json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def do_job(
    director: httpx.AsyncClient,
    rid: int,
    master_id: int,
    result: str,
    expenses: str,
    *,
    master: httpx.AsyncClient | None = None,
) -> Json:
    """From awaiting_dispatch: the director offers it to the master, then the job runs to done with the money."""
    await move(director, rid, "awaiting_acceptance", master_id=master_id)
    await move(master or director, rid, "accepted")
    await move(master or director, rid, "in_progress")
    return await move(master or director, rid, "done", result=result, expenses=expenses)


async def admin_delete(admin: httpx.AsyncClient, rid: int) -> None:
    version = (await admin.get(url(rid))).json()["version"]
    response = await admin.delete(url(rid), headers={"If-Match": f'"{version}"'})
    assert response.status_code == 204, response.text


async def delete_transaction(client: httpx.AsyncClient, tx: Json) -> None:
    response = await client.delete(f"{API}/transactions/{tx['id']}", headers={"If-Match": f'"{tx["version"]}"'})
    assert response.status_code == 204, response.text


async def handover_of(client: httpx.AsyncClient, rid: int) -> list[Json]:
    """The live transactions linked to request ``rid`` (its master handover income, if any)."""
    response = await client.get(f"{API}/transactions", params={"request_id": rid})
    assert response.status_code == 200, response.text
    items: list[Json] = response.json()["items"]
    return items


# Moving timestamps into the past -----------------------------------------------------------------------------------
async def stamp(
    h: Harness,
    rid: int,
    created: str,
    changed: str | None = None,
    *,
    completed: str | None = None,
    handover_on: str | None = None,
) -> None:
    """Give request ``rid`` the creation time ``created``, its last status change (and every history row) the time
    ``changed`` (default: ``created``), the completion time ``completed`` when given, and date its handover
    transactions (live or withdrawn) ``handover_on``: the completion date in the city's zone, as the server would
    have dated them had the job been done then. Times are UTC (``2026-04-05T09:00``)."""
    changed_at = dt_utc(changed or created)
    values: dict[str, Any] = {"created_at": dt_utc(created), "status_changed_at": changed_at}
    if completed is not None:
        values["completed_at"] = dt_utc(completed)
    async with h.database.session() as session:
        await session.execute(update(Request).where(Request.id == rid).values(**values))
        await session.execute(update(RequestEvent).where(RequestEvent.request_id == rid).values(at=changed_at))
        if handover_on is not None:
            day = dt.date.fromisoformat(handover_on)
            await session.execute(update(Transaction).where(Transaction.request_id == rid).values(occurred_on=day))
        await session.commit()


async def add_call(
    h: Harness, entry_id: str, started: str, *, city_id: int, campaign_id: int | None, line: str
) -> None:
    """A call as the telephony webhook would have stored it, started at ``started`` (UTC)."""
    async with h.database.session() as session:
        session.add(
            Call(
                provider="mango",
                entry_id=entry_id,
                caller="79161234567",
                line=line,
                direction="inbound",
                city_id=city_id,
                campaign_id=campaign_id,
                outcome="attached",
                started_at=dt_utc(started),
                events=1,
            )
        )
        await session.commit()
