"""A request's life from intake to done, through the API, with the money and the cash desk checked on the way."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness, error_fields, problem
from tests.requests.helpers import API, REQUESTS, around_today, move, url


async def test_intake_dispatch_done_books_one_handover(h: Harness) -> None:
    city = await h.city()
    director = await h.as_user(await h.user("director", cities=[city.id]))
    master_user = await h.user("master", master_city=city.id)
    master = await h.as_user(master_user)

    created = await director.post(
        REQUESTS,
        json={"city_id": city.id, "client_phone": "8 (916) 123-45-67", "client_name": "Анна"},
    )
    assert created.status_code == 201, created.text
    req: dict[str, Any] = created.json()
    assert req["client_phone"] == "79161234567"
    assert req["status"] == "new" and req["status_label"] == "Новая" and req["queue"] == "intake"
    assert req["request_type"]["code"] == "first_time"
    rid = req["id"]

    booked = await director.post(url(rid, "/transitions"), json={"to": "awaiting_dispatch", "version": 1})
    assert error_fields(problem(booked, 422)) == ["address", "visit_at"]

    patched = await director.patch(
        url(rid),
        json={"address": "ул. Ленина, 1", "visit_at": "2026-11-25T10:00:00+03:00", "version": 1},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    assert patched.headers["ETag"] == '"2"'

    await move(director, rid, "awaiting_dispatch")
    await move(director, rid, "awaiting_acceptance", master_id=master_user.id)
    await move(master, rid, "accepted")
    await move(master, rid, "in_progress")
    done = await move(master, rid, "done", result="5000", expenses="1000.01")
    assert done["net_amount"] == "3999.99"
    assert done["master_handover"] == "2000.00"  # 3999.99 × 0.50 = 1999.995 → half-up
    assert done["company_share"] == "0.50"

    txs = (await director.get(f"{API}/transactions", params={"request_id": rid})).json()
    assert txs["total"] == 1 and txs["items"][0]["amount"] == "2000.00" and txs["items"][0]["kind"] == "income"

    again = await master.post(url(rid, "/transitions"), json={"to": "done", "version": done["version"]})
    problem(again, 409, "invalid-transition")

    events = (await director.get(url(rid, "/events"))).json()
    assert [e["kind"] for e in events["items"]][:2] == ["created", "updated"]
    assert events["items"][-1]["to_status"] == "done"

    # An explicit period around today: the default one (this month up to today) misses a handover booked on the
    # last day of a month when the run crosses into the next.
    period = around_today()
    earnings = (await master.get(f"{API}/masters/{master_user.id}/earnings", params=period)).json()
    assert earnings["done"] == 1 and earnings["earnings"] == "1999.99"

    balance = (await director.get(f"{API}/cash/balance", params=period)).json()
    assert balance["period"] == period
    assert balance["totals"]["income"] == "2000.00"
