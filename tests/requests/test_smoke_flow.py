"""A request's life from intake to done, through the API, with the money and the cash desk checked on the way."""

from __future__ import annotations

from typing import Any

from tests.conftest import Harness, problem


async def test_intake_dispatch_done_books_one_handover(h: Harness) -> None:
    city = await h.city()
    director = await h.as_user(await h.user("director", cities=[city.id]))
    master_user = await h.user("master", master_city=city.id)
    master = await h.as_user(master_user)

    created = await director.post(
        "/api/v1/requests",
        json={"city_id": city.id, "client_phone": "8 (916) 123-45-67", "client_name": "Анна"},
    )
    assert created.status_code == 201, created.text
    req: dict[str, Any] = created.json()
    assert req["client_phone"] == "79161234567"
    assert req["status"] == "new" and req["status_label"] == "Новая" and req["queue"] == "intake"
    assert req["request_type"]["code"] == "first_time"
    rid = req["id"]

    async def move(client: Any, to: str, **extra: Any) -> dict[str, Any]:
        current = (await client.get(f"/api/v1/requests/{rid}")).json()
        r = await client.post(
            f"/api/v1/requests/{rid}/transitions", json={"to": to, "version": current["version"], **extra}
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    booked = await director.post(f"/api/v1/requests/{rid}/transitions", json={"to": "awaiting_dispatch", "version": 1})
    body = problem(booked, 422)
    assert {e["field"] for e in body["errors"]} == {"address", "visit_at"}

    patched = await director.patch(
        f"/api/v1/requests/{rid}",
        json={"address": "ул. Ленина, 1", "visit_at": "2026-11-25T10:00:00+03:00", "version": 1},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["version"] == 2
    assert patched.headers["ETag"] == '"2"'

    await move(director, "awaiting_dispatch")
    await move(director, "awaiting_acceptance", master_id=master_user.id)
    await move(master, "accepted")
    await move(master, "in_progress")
    done = await move(master, "done", result="5000", expenses="1000.01")
    assert done["net_amount"] == "3999.99"
    assert done["master_handover"] == "2000.00"  # 3999.99 × 0.50 = 1999.995 → half-up
    assert done["company_share"] == "0.50"

    txs = (await director.get("/api/v1/transactions", params={"request_id": rid})).json()
    assert txs["total"] == 1 and txs["items"][0]["amount"] == "2000.00" and txs["items"][0]["kind"] == "income"

    again = await master.post(f"/api/v1/requests/{rid}/transitions", json={"to": "done", "version": done["version"]})
    problem(again, 409, "invalid-transition")

    events = (await director.get(f"/api/v1/requests/{rid}/events")).json()
    assert [e["kind"] for e in events["items"]][:2] == ["created", "updated"]
    assert events["items"][-1]["to_status"] == "done"

    earnings = (await master.get(f"/api/v1/masters/{master_user.id}/earnings")).json()
    assert earnings["done"] == 1 and earnings["earnings"] == "1999.99"

    balance = (await director.get("/api/v1/cash/balance")).json()
    assert balance["totals"]["income"] == "2000.00"
