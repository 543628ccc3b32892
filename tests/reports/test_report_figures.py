"""The five reports (docs/reports.md, SPEC §8) against figures worked out by hand on one crafted data set.

Everything is made through the API as the staff would make it; only then are the "now" timestamps moved into 2026
with SQL. The data set (times UTC; Moscow = UTC+3, Novosibirsk = UTC+7):

City M "Москва (отчёты)", Europe/Moscow; April = 2026-03-31T21:00Z ≤ t < 2026-04-30T21:00Z.

| req | by / campaign / phone          | created (UTC)        | what happened                                        | status now          |
|-----|--------------------------------|----------------------|------------------------------------------------------|---------------------|
| R1  | op_m / C1 / P1 (first)         | 04-05T09:00          | booked by op_m; M1 done 04-06T10:00, 5000 − 1000     | done                |
| R2  | op_m / C1 / P2 (first)         | 03-31T21:30 (04-01 00:30 MSK) | booked by op_m; M1 done 04-10T12:00 3000 − 500, corrected by PATCH to 3500 − 0 | done |
| R3  | op_m / C1 / P3 (first)         | 04-30T21:10 (05-01 00:10 MSK) | —                                           | new                 |
| R4  | director / C2 / P4 (first)     | 03-20T10:00          | M2 done 04-12T08:00, 2000 − 0; then M2 is blocked    | done                |
| R5  | director / C1 / P5 (first)     | 04-08T10:00          | M1 done 10000 − 0, reopened by the director 04-09    | in_progress         |
| R6  | op_m / C2 / P6 (first)         | 04-15T10:00          | refused at intake by op_m                            | refused             |
| R7  | op_m / C1 / P1 again (repeat)  | 04-16T10:00          | booked by op_m; M1 accepts, then refuses on the job  | refused             |
| R8  | op_m / — / P8                  | 04-17T10:00          | not reached (op_m)                                   | not_reached         |
| R9  | op_m / C1 / P9 (first)         | 04-18T10:00          | callback (op_m)                                      | callback            |
| R10 | op_m / C1 / P10                | 04-19T10:00          | booked; M1 done 8000 − 0; deleted by the admin       | (deleted)           |
| R11 | op_m / C1 / P11 (first)        | 04-20T10:00          | booked by op_m; offered to M1                        | awaiting_acceptance |
| R12 | director / C2 / P12 (repeat given) | 04-21T10:00      | booked by the director                               | awaiting_dispatch   |
| R13 | op_m / — / P13                 | 03-31T18:00 (03-31 21:00 MSK) | —                                           | new                 |
| now | director / — / P99             | now                  | —                                                    | new                 |

City N "Новосибирск (отчёты)", Asia/Novosibirsk; April = 2026-03-31T17:00Z ≤ t < 2026-04-30T17:00Z.

| req | by     | created (UTC)                  | what happened                                                       | status now |
|-----|--------|--------------------------------|---------------------------------------------------------------------|------------|
| N1  | op_n   | 03-31T18:00 (04-01 01:00 NSK; still March in Moscow) | booked by op_n; NM1 done 03-31T19:00 (04-01 NSK), 1500.05 − 300 | done |
| N2  | op_n   | 04-30T18:00 (05-01 01:00 NSK; still April in Moscow) | —                                              | new        |
| N3  | op_n   | 04-10T05:00                    | booked by op_n; NM1 done 04-30T18:30 (05-01 01:30 NSK), 4000 − 0     | done       |

City E "Пустой город": nothing at all.

Handovers (net × 0.50, round half up): R1 2000.00, R2 1250.00 → 1750.00 after the correction, R4 1000.00, N1
1200.05 × 0.5 = 600.025 → 600.03, N3 2000.00; R5's (5000.00) was withdrawn by the reopening and R10's (4000.00) by
the deletion. Each is a cash income dated the completion date in the city's zone: R1 04-06, R2 04-10, R4 04-12,
N1 04-01, N3 05-01.

Cash (besides the handovers): M: +700.00 sale 04-03; −1200.00 rent 04-30; −3000.00 ad spend C1 04-02; −400.00 ad
spend C1 03-31; −500.00 rent 05-01; +999.00 sale 04-04 deleted; +250.00 sale today. N: +300.00 sale 04-01; −600.00
ad spend CN 04-15.

Calls: C1 (M): 04-01T10:00, 04-15T10:00, 04-30T20:59 (23:59 MSK) in April; 04-30T21:00 (05-01 00:00 MSK) and
03-31T20:59 not. C2: 04-10T10:00. CN (N): 03-31T18:00 (04-01 NSK) in April; 04-30T18:00 (05-01 NSK) not. One call
of no campaign in M.

Masters: M1, M2 (M; M2 blocked at the end), NM1 (N). Operators: op_m, op_x (M; op_x handled nothing), op_n (N).
Campaigns: C1 (M, avito), C2 (M, yandex, deactivated at the end), CN (N, leaflet; no requests).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.cash.helpers import book
from tests.conftest import Harness
from tests.reports.helpers import (
    APRIL,
    MARCH,
    MAY,
    Json,
    add_call,
    admin_delete,
    by,
    delete_transaction,
    do_job,
    handover_of,
    new_request,
    pick,
    report,
    stamp,
)
from tests.requests.helpers import API, local_today, move, type_ids, url

ZERO_GROUPS = {"intake": 0, "awaiting": 0, "in_work": 0, "done": 0, "refused": 0}


@dataclass
class World:
    h: Harness
    admin: httpx.AsyncClient
    director: httpx.AsyncClient  # all three cities
    op_m_client: httpx.AsyncClient
    marketer_m: httpx.AsyncClient  # city M only
    moscow: int
    novosibirsk: int
    empty: int
    m1: int
    m2: int
    nm1: int
    op_m: int
    op_n: int
    op_x: int
    c1: int
    c2: int
    cn: int
    r1: int


async def _campaign(admin: httpx.AsyncClient, city_id: int, name: str, channel: str, phone: str) -> int:
    body = {"city_id": city_id, "name": name, "channel": channel, "phone": phone}
    response = await admin.post(f"{API}/campaigns", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@pytest.fixture
async def world(h: Harness) -> World:
    moscow = (await h.city("Москва (отчёты)", "Europe/Moscow")).id
    novosibirsk = (await h.city("Новосибирск (отчёты)", "Asia/Novosibirsk")).id
    empty = (await h.city("Пустой город", "Europe/Moscow")).id

    admin = await h.as_user(await h.user("admin"))
    director = await h.as_user(await h.user("director", cities=[moscow, novosibirsk, empty]))
    marketer_m = await h.as_user(await h.user("marketer", cities=[moscow]))
    op_m_user = await h.user("operator", cities=[moscow])
    op_n_user = await h.user("operator", cities=[novosibirsk])
    op_x_user = await h.user("operator", cities=[moscow])
    op_m, op_n = await h.as_user(op_m_user), await h.as_user(op_n_user)
    m1_user = await h.user("master", master_city=moscow)
    m2_user = await h.user("master", master_city=moscow)
    nm1_user = await h.user("master", master_city=novosibirsk)
    m1_client = await h.as_user(m1_user)
    m1, m2, nm1 = m1_user.id, m2_user.id, nm1_user.id

    c1 = await _campaign(admin, moscow, "Авито Москва", "avito", "74950000001")
    c2 = await _campaign(admin, moscow, "Яндекс Москва", "yandex", "74950000002")
    cn = await _campaign(admin, novosibirsk, "Листовки НСК", "leaflet", "73830000003")

    types = (await admin.get(f"{API}/transaction-types", params={"per_page": 200})).json()["items"]
    system = {(t["kind"], t["system"]): t["id"] for t in types}
    ads = system[("expense", True)]
    sale = await admin.post(f"{API}/transaction-types", json={"name": "Продажа запчастей", "kind": "income"})
    rent = await admin.post(f"{API}/transaction-types", json={"name": "Аренда офиса", "kind": "expense"})
    assert sale.status_code == rent.status_code == 201
    sale_id, rent_id = sale.json()["id"], rent.json()["id"]
    repeat = (await type_ids(admin))["repeat"]

    # City M ---------------------------------------------------------------------------------------------------------
    r1 = await new_request(op_m, moscow, "79850000001", campaign_id=c1)
    await move(op_m, r1, "awaiting_dispatch")
    done = await do_job(director, r1, m1, "5000", "1000")
    assert (done["net_amount"], done["master_handover"]) == ("4000.00", "2000.00")

    r2 = await new_request(op_m, moscow, "79850000002", campaign_id=c1)
    await move(op_m, r2, "awaiting_dispatch")
    done = await do_job(director, r2, m1, "3000", "500")
    assert done["master_handover"] == "1250.00"  # (3000 − 500) × 0.50
    corrected = await director.patch(url(r2), json={"result": "3500", "expenses": "0", "version": done["version"]})
    assert corrected.status_code == 200, corrected.text
    assert (corrected.json()["net_amount"], corrected.json()["master_handover"]) == ("3500.00", "1750.00")

    r3 = await new_request(op_m, moscow, "79850000003", campaign_id=c1)

    r4 = await new_request(director, moscow, "79850000004", campaign_id=c2)
    await move(director, r4, "awaiting_dispatch")
    assert (await do_job(director, r4, m2, "2000", "0"))["master_handover"] == "1000.00"

    r5 = await new_request(director, moscow, "79850000005", campaign_id=c1)
    await move(director, r5, "awaiting_dispatch")
    await do_job(director, r5, m1, "10000", "0")
    reopened = await move(director, r5, "in_progress", reason="Клиент вызвал повторно: течёт")
    assert reopened["completed_at"] is None and reopened["master_handover"] is None
    assert await handover_of(director, r5) == []

    r6 = await new_request(op_m, moscow, "79850000006", campaign_id=c2)
    await move(op_m, r6, "refused", reason="Дорого")

    r7 = await new_request(op_m, moscow, "79850000001", campaign_id=c1)  # P1 again
    assert (await op_m.get(url(r7))).json()["request_type_id"] == repeat
    await move(op_m, r7, "awaiting_dispatch")
    await move(director, r7, "awaiting_acceptance", master_id=m1)
    await move(m1_client, r7, "accepted")
    refused = await move(m1_client, r7, "refused", reason="Клиент передумал на месте")
    assert refused["master_id"] == m1 and refused["operator_id"] == op_m_user.id

    r8 = await new_request(op_m, moscow, "79850000008")
    await move(op_m, r8, "not_reached")
    r9 = await new_request(op_m, moscow, "79850000009", campaign_id=c1)
    await move(op_m, r9, "callback")

    r10 = await new_request(op_m, moscow, "79850000010", campaign_id=c1)
    await move(op_m, r10, "awaiting_dispatch")
    await do_job(director, r10, m1, "8000", "0")

    r11 = await new_request(op_m, moscow, "79850000011", campaign_id=c1)
    await move(op_m, r11, "awaiting_dispatch")
    await move(director, r11, "awaiting_acceptance", master_id=m1)

    r12 = await new_request(director, moscow, "79850000012", campaign_id=c2, request_type_id=repeat)
    await move(director, r12, "awaiting_dispatch")

    r13 = await new_request(op_m, moscow, "79850000013")

    # City N ---------------------------------------------------------------------------------------------------------
    n1 = await new_request(op_n, novosibirsk, "79850000021")
    await move(op_n, n1, "awaiting_dispatch")
    assert (await do_job(director, n1, nm1, "1500.05", "300"))["master_handover"] == "600.03"  # 600.025 half up
    n2 = await new_request(op_n, novosibirsk, "79850000022")
    n3 = await new_request(op_n, novosibirsk, "79850000023")
    await move(op_n, n3, "awaiting_dispatch")
    await do_job(director, n3, nm1, "4000", "0")

    # Cash -----------------------------------------------------------------------------------------------------------
    await book(director, moscow, sale_id, "700", "2026-04-03")
    await book(director, moscow, rent_id, "1200", "2026-04-30")
    await book(director, moscow, ads, "3000", "2026-04-02", campaign_id=c1)
    await book(director, moscow, ads, "400", "2026-03-31", campaign_id=c1)
    await book(director, moscow, rent_id, "500", "2026-05-01")
    await delete_transaction(director, await book(director, moscow, sale_id, "999", "2026-04-04"))
    await book(director, moscow, sale_id, "250", local_today("Europe/Moscow").isoformat())
    await book(director, novosibirsk, sale_id, "300", "2026-04-01")
    await book(director, novosibirsk, ads, "600", "2026-04-15", campaign_id=cn)

    # The deletion and the end-of-month changes ----------------------------------------------------------------------
    await admin_delete(admin, r10)
    assert (await admin.post(f"{API}/users/{m2}/block")).status_code == 200
    assert (await admin.patch(f"{API}/campaigns/{c2}", json={"active": False})).status_code == 200

    # Calls ----------------------------------------------------------------------------------------------------------
    for entry, started in (
        ("c1-a", "2026-04-01T10:00"),
        ("c1-b", "2026-04-15T10:00"),
        ("c1-c", "2026-04-30T20:59"),
        ("c1-d", "2026-04-30T21:00"),
        ("c1-e", "2026-03-31T20:59"),
    ):
        await add_call(h, entry, started, city_id=moscow, campaign_id=c1, line="74950000001")
    await add_call(h, "c2-a", "2026-04-10T10:00", city_id=moscow, campaign_id=c2, line="74950000002")
    await add_call(h, "cn-a", "2026-03-31T18:00", city_id=novosibirsk, campaign_id=cn, line="73830000003")
    await add_call(h, "cn-b", "2026-04-30T18:00", city_id=novosibirsk, campaign_id=cn, line="73830000003")
    await add_call(h, "none-a", "2026-04-12T10:00", city_id=moscow, campaign_id=None, line="74959999999")

    # Into the past --------------------------------------------------------------------------------------------------
    await stamp(h, r1, "2026-04-05T09:00", "2026-04-06T10:00", completed="2026-04-06T10:00", handover_on="2026-04-06")
    await stamp(h, r2, "2026-03-31T21:30", "2026-04-10T12:00", completed="2026-04-10T12:00", handover_on="2026-04-10")
    await stamp(h, r3, "2026-04-30T21:10")
    await stamp(h, r4, "2026-03-20T10:00", "2026-04-12T08:00", completed="2026-04-12T08:00", handover_on="2026-04-12")
    await stamp(h, r5, "2026-04-08T10:00", "2026-04-09T10:00", handover_on="2026-04-09")
    await stamp(h, r6, "2026-04-15T10:00", "2026-04-15T10:05")
    await stamp(h, r7, "2026-04-16T10:00", "2026-04-16T12:00")
    await stamp(h, r8, "2026-04-17T10:00")
    await stamp(h, r9, "2026-04-18T10:00")
    await stamp(h, r10, "2026-04-19T10:00", "2026-04-25T09:00", completed="2026-04-19T12:00", handover_on="2026-04-19")
    await stamp(h, r11, "2026-04-20T10:00", "2026-04-20T11:00")
    await stamp(h, r12, "2026-04-21T10:00")
    await stamp(h, r13, "2026-03-31T18:00")
    await stamp(h, n1, "2026-03-31T18:00", "2026-03-31T19:00", completed="2026-03-31T19:00", handover_on="2026-04-01")
    await stamp(h, n2, "2026-04-30T18:00")
    await stamp(h, n3, "2026-04-10T05:00", "2026-04-30T18:30", completed="2026-04-30T18:30", handover_on="2026-05-01")

    # Today's request, left at "now".
    await new_request(director, moscow, "79850000099")

    return World(
        h=h,
        admin=admin,
        director=director,
        op_m_client=op_m,
        marketer_m=marketer_m,
        moscow=moscow,
        novosibirsk=novosibirsk,
        empty=empty,
        m1=m1,
        m2=m2,
        nm1=nm1,
        op_m=op_m_user.id,
        op_n=op_n_user.id,
        op_x=op_x_user.id,
        c1=c1,
        c2=c2,
        cn=cn,
        r1=r1,
    )


# Cities ---------------------------------------------------------------------------------------------------------------
MOSCOW_APRIL: Json = {
    # created in April (MSK): R1, R2 (00:30 on 04-01), R5, R6, R7, R8, R9, R11, R12 = 9
    # (not R3: 00:10 on 05-01; not R4: March; not R10: deleted; not R13: 21:00 on 03-31; not today's)
    "requests_total": 9,
    # intake R8 not_reached + R9 callback; awaiting R11 + R12; in_work R5 (reopened); done R1, R2; refused R6, R7
    "requests_by_group": {"intake": 2, "awaiting": 2, "in_work": 1, "done": 2, "refused": 2},
    "done": 3,  # completed in April: R1, R2, R4 (created in March); not R5 (reopened), not R10 (deleted)
    "refused": 2,  # R6, R7
    "conversion_rate": "33.33",  # 3 / 9 = 33.333 %
    "revenue": "10500.00",  # 5000 + 3500 (corrected) + 2000
    "expenses": "1000.00",  # 1000 + 0 + 0
    "net": "9500.00",  # 4000 + 3500 + 2000
    "handover": "4750.00",  # 2000 + 1750 + 1000
    "cash_income": "5450.00",  # 700 sale + handovers 2000 + 1750 + 1000 (not the deleted 999, nor today's 250)
    "cash_expense": "4200.00",  # 1200 rent 04-30 + 3000 ad spend 04-02 (not 400 on 03-31, nor 500 on 05-01)
    "cash_net": "1250.00",  # 5450 − 4200
    "active_masters": 1,  # M1; M2 is blocked
    "average_check": "3500.00",  # 10500 / 3
}
NOVOSIBIRSK_APRIL: Json = {
    "requests_total": 2,  # N1 (01:00 on 04-01 NSK), N3; not N2 (01:00 on 05-01 NSK)
    "requests_by_group": {"intake": 0, "awaiting": 0, "in_work": 0, "done": 2, "refused": 0},  # N1, N3 are done
    "done": 1,  # N1 (02:00 on 04-01 NSK); N3 was completed 01:30 on 05-01 NSK
    "refused": 0,
    "conversion_rate": "50.00",  # 1 / 2
    "revenue": "1500.05",
    "expenses": "300.00",
    "net": "1200.05",  # 1500.05 − 300
    "handover": "600.03",  # 600.025 rounded half up
    "cash_income": "900.03",  # 300 sale + 600.03 handover of N1 dated 04-01 (N3's is dated 05-01)
    "cash_expense": "600.00",  # ad spend CN
    "cash_net": "300.03",  # 900.03 − 600
    "active_masters": 1,  # NM1
    "average_check": "1500.05",  # 1500.05 / 1
}
EMPTY_CITY: Json = {
    "requests_total": 0,
    "requests_by_group": ZERO_GROUPS,
    "done": 0,
    "refused": 0,
    "conversion_rate": None,  # 0 / 0
    "revenue": "0.00",
    "expenses": "0.00",
    "net": "0.00",
    "handover": "0.00",
    "cash_income": "0.00",
    "cash_expense": "0.00",
    "cash_net": "0.00",
    "active_masters": 0,
    "average_check": None,  # revenue / 0 done
}


async def test_cities_report(world: World) -> None:
    body = await report(world.director, "cities", **APRIL)
    assert body["period"] == {"date_from": "2026-04-01", "date_to": "2026-04-30"}
    items = by(body["items"], "city_id")
    assert set(items) == {world.moscow, world.novosibirsk, world.empty}  # the empty city too
    assert items[world.moscow]["city_name"] == "Москва (отчёты)"
    assert items[world.empty]["city_name"] == "Пустой город"
    assert pick(items[world.moscow], MOSCOW_APRIL) == MOSCOW_APRIL
    assert pick(items[world.novosibirsk], NOVOSIBIRSK_APRIL) == NOVOSIBIRSK_APRIL
    assert pick(items[world.empty], EMPTY_CITY) == EMPTY_CITY

    totals = {
        "requests_total": 11,  # 9 + 2 + 0
        "requests_by_group": {"intake": 2, "awaiting": 2, "in_work": 1, "done": 4, "refused": 2},
        "done": 4,  # 3 + 1
        "refused": 2,
        "conversion_rate": "36.36",  # 4 / 11 = 36.3636 % (not the mean of the cities' rates)
        "revenue": "12000.05",  # 10500 + 1500.05
        "expenses": "1300.00",  # 1000 + 300
        "net": "10700.05",  # 9500 + 1200.05
        "handover": "5350.03",  # 4750 + 600.03
        "cash_income": "6350.03",  # 5450 + 900.03
        "cash_expense": "4800.00",  # 4200 + 600
        "cash_net": "1550.03",  # 1250 + 300.03
        "active_masters": 2,
        "average_check": "3000.01",  # 12000.05 / 4 = 3000.0125
    }
    assert pick(body["totals"], totals) == totals


async def test_cities_report_months_around(world: World) -> None:
    """The same rows seen from March and May: the city's own midnight decides, not UTC's and not Moscow's."""
    march = by((await report(world.director, "cities", **MARCH))["items"], "city_id")
    moscow_march = {
        "requests_total": 2,  # R4 (03-20) and R13 (21:00 on 03-31 MSK); R2 (00:30 on 04-01 MSK) is April's
        "requests_by_group": {"intake": 1, "awaiting": 0, "in_work": 0, "done": 1, "refused": 0},  # R13 new, R4 done
        "done": 0,  # R4 was completed in April
        "conversion_rate": "0.00",  # 0 / 2
        "revenue": "0.00",
        "cash_income": "0.00",
        "cash_expense": "400.00",  # ad spend C1 on 03-31
        "cash_net": "-400.00",
        "average_check": None,
    }
    assert pick(march[world.moscow], moscow_march) == moscow_march
    novosibirsk_march = {
        "requests_total": 0,  # N1, created 18:00Z on 03-31, is 01:00 on 04-01 in Novosibirsk
        "done": 0,  # N1 was completed 02:00 on 04-01 NSK
        "conversion_rate": None,
        "revenue": "0.00",
        "cash_net": "0.00",
    }
    assert pick(march[world.novosibirsk], novosibirsk_march) == novosibirsk_march

    may = by((await report(world.director, "cities", **MAY))["items"], "city_id")
    moscow_may = {
        "requests_total": 1,  # R3, 00:10 on 05-01 MSK
        "requests_by_group": {"intake": 1, "awaiting": 0, "in_work": 0, "done": 0, "refused": 0},
        "done": 0,
        "conversion_rate": "0.00",
        "cash_income": "0.00",
        "cash_expense": "500.00",  # rent on 05-01
        "cash_net": "-500.00",
    }
    assert pick(may[world.moscow], moscow_may) == moscow_may
    novosibirsk_may = {
        "requests_total": 1,  # N2, 01:00 on 05-01 NSK (N3 was created in April)
        "requests_by_group": {"intake": 1, "awaiting": 0, "in_work": 0, "done": 0, "refused": 0},
        "done": 1,  # N3, completed 01:30 on 05-01 NSK
        "conversion_rate": "100.00",  # 1 / 1: done and created are different bases (SPEC §8)
        "revenue": "4000.00",
        "expenses": "0.00",
        "net": "4000.00",
        "handover": "2000.00",
        "cash_income": "2000.00",  # N3's handover, dated 05-01
        "cash_expense": "0.00",
        "cash_net": "2000.00",
        "average_check": "4000.00",
    }
    assert pick(may[world.novosibirsk], novosibirsk_may) == novosibirsk_may


async def test_city_filter(world: World) -> None:
    body = await report(world.admin, "cities", city_id=world.novosibirsk, **APRIL)
    assert [item["city_id"] for item in body["items"]] == [world.novosibirsk]
    assert pick(body["items"][0], NOVOSIBIRSK_APRIL) == NOVOSIBIRSK_APRIL
    assert pick(body["totals"], NOVOSIBIRSK_APRIL) == NOVOSIBIRSK_APRIL  # the totals of one item are that item

    masters = await report(world.admin, "masters", city_id=world.moscow, **APRIL)
    assert {item["master_id"] for item in masters["items"]} == {world.m1, world.m2}


# Masters --------------------------------------------------------------------------------------------------------------
async def test_masters_report(world: World) -> None:
    body = await report(world.director, "masters", **APRIL)
    items = by(body["items"], "master_id")
    assert set(items) == {world.m1, world.m2, world.nm1}  # the blocked master too
    m1 = {
        "city_id": world.moscow,
        "status": "active",
        "assigned": 5,  # created in April and his now: R1, R2, R5, R7, R11 (R10 deleted)
        "done": 2,  # completed in April: R1, R2 (R5 reopened)
        "refused": 1,  # R7, refused by him on the job
        "in_work": 2,  # now: R5 in_progress, R11 awaiting_acceptance
        "conversion_rate": "40.00",  # 2 / 5
        "revenue": "8500.00",  # 5000 + 3500
        "net": "7500.00",  # 4000 + 3500
        "handover": "3750.00",  # 2000 + 1750
        "earnings": "3750.00",  # 7500 − 3750
        "average_check": "4250.00",  # 8500 / 2
        "last_activity_at": "2026-04-20T11:00:00Z",  # R11's offer; R10's later change is of a deleted request
    }
    m2 = {
        "city_id": world.moscow,
        "status": "blocked",
        "assigned": 0,  # R4 was created in March
        "done": 1,  # R4, completed in April
        "refused": 0,
        "in_work": 0,
        "conversion_rate": None,  # 1 done / 0 assigned: no denominator
        "revenue": "2000.00",
        "net": "2000.00",
        "handover": "1000.00",
        "earnings": "1000.00",  # 2000 − 1000
        "average_check": "2000.00",
        "last_activity_at": "2026-04-12T08:00:00Z",
    }
    nm1 = {
        "city_id": world.novosibirsk,
        "status": "active",
        "assigned": 2,  # N1 (04-01 NSK), N3
        "done": 1,  # N1; N3 was completed on 05-01 NSK
        "refused": 0,
        "in_work": 0,
        "conversion_rate": "50.00",  # 1 / 2
        "revenue": "1500.05",
        "net": "1200.05",
        "handover": "600.03",
        "earnings": "600.02",  # 1200.05 − 600.03
        "average_check": "1500.05",
        "last_activity_at": "2026-04-30T18:30:00Z",  # N3's completion
    }
    assert pick(items[world.m1], m1) == m1
    assert pick(items[world.m2], m2) == m2
    assert pick(items[world.nm1], nm1) == nm1
    assert all(item["master_name"] for item in items.values())

    totals = {
        "assigned": 7,  # 5 + 0 + 2
        "done": 4,  # 2 + 1 + 1
        "refused": 1,
        "in_work": 2,
        "conversion_rate": "57.14",  # 4 / 7 = 57.142 %
        "revenue": "12000.05",  # 8500 + 2000 + 1500.05
        "net": "10700.05",  # 7500 + 2000 + 1200.05
        "handover": "5350.03",  # 3750 + 1000 + 600.03
        "earnings": "5350.02",  # 3750 + 1000 + 600.02
        "average_check": "3000.01",  # 12000.05 / 4 = 3000.0125
    }
    assert pick(body["totals"], totals) == totals


# Campaigns ------------------------------------------------------------------------------------------------------------
C1_APRIL: Json = {
    "channel": "avito",
    "calls": 3,  # 04-01T10:00, 04-15T10:00, 04-30T20:59 (23:59 MSK); not 04-30T21:00 nor 03-31T20:59
    "requests_total": 6,  # R1, R2, R5, R7, R9, R11 (R3 is May's, R10 deleted)
    "first_time": 5,  # all but R7
    "repeat": 1,  # R7: P1 called again
    "done": 2,  # R1, R2 (R5 reopened, R10 deleted)
    "conversion_rate": "33.33",  # 2 / 6
    "revenue": "8500.00",  # 5000 + 3500
    "handover": "3750.00",  # 2000 + 1750
    "ad_spend": "3000.00",  # 04-02 (not the 400 on 03-31)
    "cost_per_request": "500.00",  # 3000 / 6
    "roi": "25.00",  # (3750 − 3000) / 3000 × 100
}
C2_APRIL: Json = {
    "channel": "yandex",
    "calls": 1,
    "requests_total": 2,  # R6, R12 (R4 was created in March)
    "first_time": 1,  # R6
    "repeat": 1,  # R12, typed repeat by hand
    "done": 1,  # R4, completed in April
    "conversion_rate": "50.00",  # 1 / 2
    "revenue": "2000.00",
    "handover": "1000.00",
    "ad_spend": "0.00",
    "cost_per_request": "0.00",  # 0 / 2: the denominator (requests) is not zero, so a number, not null
    "roi": None,  # (1000 − 0) / 0: no spend, no denominator
}


async def test_campaigns_report(world: World) -> None:
    body = await report(world.director, "campaigns", **APRIL)
    items = by(body["items"], "campaign_id")
    assert set(items) == {world.c1, world.c2, world.cn}  # C2 is inactive, and listed
    assert items[world.c1]["city_id"] == world.moscow and items[world.cn]["city_id"] == world.novosibirsk
    assert items[world.c1]["campaign_name"] == "Авито Москва"
    assert pick(items[world.c1], C1_APRIL) == C1_APRIL
    assert pick(items[world.c2], C2_APRIL) == C2_APRIL
    cn = {
        "channel": "leaflet",
        "calls": 1,  # 03-31T18:00Z is 01:00 on 04-01 in Novosibirsk; 04-30T18:00Z is 05-01 there
        "requests_total": 0,
        "first_time": 0,
        "repeat": 0,
        "done": 0,
        "conversion_rate": None,  # 0 / 0
        "revenue": "0.00",
        "handover": "0.00",
        "ad_spend": "600.00",
        "cost_per_request": None,  # 600 / 0 requests
        "roi": "-100.00",  # (0 − 600) / 600 × 100
    }
    assert pick(items[world.cn], cn) == cn

    totals = {
        "calls": 5,  # 3 + 1 + 1
        "requests_total": 8,  # 6 + 2 + 0
        "first_time": 6,
        "repeat": 2,
        "done": 3,
        "conversion_rate": "37.50",  # 3 / 8
        "revenue": "10500.00",  # 8500 + 2000
        "handover": "4750.00",  # 3750 + 1000
        "ad_spend": "3600.00",  # 3000 + 600
        "cost_per_request": "450.00",  # 3600 / 8
        "roi": "31.94",  # (4750 − 3600) / 3600 × 100 = 31.944 %
    }
    assert pick(body["totals"], totals) == totals


async def test_campaign_without_spend_has_no_roi(world: World) -> None:
    """A campaign with no spend and no requests: ROI and cost per request have no denominator (null)."""
    empty = await _campaign(world.admin, world.empty, "Без бюджета", "avito", "74950000077")
    body = await report(world.director, "campaigns", city_id=world.empty, **APRIL)
    assert [item["campaign_id"] for item in body["items"]] == [empty]
    expected = {
        "calls": 0,
        "requests_total": 0,
        "done": 0,
        "conversion_rate": None,
        "revenue": "0.00",
        "handover": "0.00",
        "ad_spend": "0.00",
        "cost_per_request": None,
        "roi": None,
    }
    assert pick(body["items"][0], expected) == expected
    assert pick(body["totals"], expected) == expected


async def test_marketer_sees_the_campaigns_of_their_cities(world: World) -> None:
    body = await report(world.marketer_m, "campaigns", **APRIL)
    items = by(body["items"], "campaign_id")
    assert set(items) == {world.c1, world.c2}
    assert pick(items[world.c1], C1_APRIL) == C1_APRIL
    totals = {
        "calls": 4,  # 3 + 1
        "requests_total": 8,  # 6 + 2
        "first_time": 6,
        "repeat": 2,
        "done": 3,
        "conversion_rate": "37.50",  # 3 / 8
        "revenue": "10500.00",
        "handover": "4750.00",
        "ad_spend": "3000.00",
        "cost_per_request": "375.00",  # 3000 / 8
        "roi": "58.33",  # (4750 − 3000) / 3000 × 100 = 58.333 %
    }
    assert pick(body["totals"], totals) == totals


# Operators ------------------------------------------------------------------------------------------------------------
OP_M_APRIL: Json = {
    "requests_total": 7,  # R1, R2, R6, R7, R8, R9, R11 (R3 May, R13 March, R10 deleted)
    "booked": 4,  # reached awaiting_dispatch: R1, R2, R7 (refused later), R11
    "refused": 2,  # R6, R7
    "not_reached": 1,  # R8
    "booking_rate": "57.14",  # 4 / 7 = 57.142 %
}


async def test_operators_report(world: World) -> None:
    body = await report(world.director, "operators", **APRIL)
    items = by(body["items"], "operator_id")
    assert set(items) == {world.op_m, world.op_n, world.op_x}  # the director and admin handled none as operators
    assert pick(items[world.op_m], OP_M_APRIL) == OP_M_APRIL
    op_n = {
        "requests_total": 2,  # N1 (04-01 NSK), N3; not N2 (05-01 NSK)
        "booked": 2,
        "refused": 0,
        "not_reached": 0,
        "booking_rate": "100.00",
    }
    assert pick(items[world.op_n], op_n) == op_n
    op_x = {"requests_total": 0, "booked": 0, "refused": 0, "not_reached": 0, "booking_rate": None}
    assert pick(items[world.op_x], op_x) == op_x
    assert all(item["operator_name"] for item in items.values())
    totals = {
        "requests_total": 9,  # 7 + 2 + 0
        "booked": 6,  # 4 + 2
        "refused": 2,
        "not_reached": 1,
        "booking_rate": "66.67",  # 6 / 9 = 66.666 %
    }
    assert pick(body["totals"], totals) == totals


async def test_operator_reads_only_their_own_row(world: World) -> None:
    body = await report(world.op_m_client, "operators", **APRIL)
    assert [item["operator_id"] for item in body["items"]] == [world.op_m]
    assert pick(body["items"][0], OP_M_APRIL) == OP_M_APRIL
    assert pick(body["totals"], OP_M_APRIL) == OP_M_APRIL


# Summary --------------------------------------------------------------------------------------------------------------
async def test_summary_report(world: World) -> None:
    body = await report(world.director, "summary", **APRIL)
    items = by(body["items"], "city_id")
    assert set(items) == {world.moscow, world.novosibirsk, world.empty}
    moscow = {
        # today: the request left at "now"; nothing done today; the 250 sale booked for today
        "today": {"requests_total": 1, "done": 0, "revenue": "0.00", "cash_net": "250.00"},
        "requests_total": 9,
        "done": 3,
        "revenue": "10500.00",
        "cash_net": "1250.00",
        "in_work": 3,  # now: R11 awaiting_acceptance, R12 awaiting_dispatch, R5 in_progress
    }
    novosibirsk = {
        "today": {"requests_total": 0, "done": 0, "revenue": "0.00", "cash_net": "0.00"},
        "requests_total": 2,
        "done": 1,
        "revenue": "1500.05",
        "cash_net": "300.03",
        "in_work": 0,
    }
    empty = {
        "today": {"requests_total": 0, "done": 0, "revenue": "0.00", "cash_net": "0.00"},
        "requests_total": 0,
        "done": 0,
        "revenue": "0.00",
        "cash_net": "0.00",
        "in_work": 0,
    }
    assert pick(items[world.moscow], moscow) == moscow
    assert pick(items[world.novosibirsk], novosibirsk) == novosibirsk
    assert pick(items[world.empty], empty) == empty
    totals = {
        "today": {"requests_total": 1, "done": 0, "revenue": "0.00", "cash_net": "250.00"},
        "requests_total": 11,
        "done": 4,
        "revenue": "12000.05",
        "cash_net": "1550.03",  # 1250 + 300.03
        "in_work": 3,
    }
    assert pick(body["totals"], totals) == totals


async def test_today_counts_what_is_done_today(world: World) -> None:
    """A request finished right now moves today's done and revenue (and books its handover for today)."""
    director = world.director
    rid = await new_request(director, world.moscow, "79850000098")
    await move(director, rid, "awaiting_dispatch")
    await do_job(director, rid, world.m1, "1000", "100")  # net 900, handover 450.00 booked today
    body = await report(director, "summary", **APRIL)
    today = by(body["items"], "city_id")[world.moscow]["today"]
    # requests: the one left at "now" and this one; cash: 250 sale + 450 handover
    assert today == {"requests_total": 2, "done": 1, "revenue": "1000.00", "cash_net": "700.00"}
    assert by(body["items"], "city_id")[world.moscow]["requests_total"] == 9  # April is untouched


async def test_writes_show_in_the_next_report(world: World) -> None:
    """Reports may be cached (SPEC §9), but a write to a city's requests, transactions or accounts shows at once."""
    director, admin = world.director, world.admin
    before = by((await report(director, "cities", **APRIL))["items"], "city_id")[world.moscow]
    assert pick(before, MOSCOW_APRIL) == MOSCOW_APRIL

    current = (await director.get(url(world.r1))).json()
    corrected = await director.patch(
        url(world.r1), json={"result": "6000", "expenses": "1000", "version": current["version"]}
    )
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["master_handover"] == "2500.00"  # (6000 − 1000) × 0.50
    types = (await admin.get(f"{API}/transaction-types", params={"per_page": 200})).json()["items"]
    sale = next(t["id"] for t in types if t["name"] == "Продажа запчастей")
    await book(director, world.moscow, sale, "100", "2026-04-20")
    assert (await admin.post(f"{API}/users/{world.m1}/block")).status_code == 200

    after = by((await report(director, "cities", **APRIL))["items"], "city_id")[world.moscow]
    expected = {
        "done": 3,
        "revenue": "11500.00",  # 6000 + 3500 + 2000
        "expenses": "1000.00",
        "net": "10500.00",  # 5000 + 3500 + 2000
        "handover": "5250.00",  # 2500 + 1750 + 1000
        "cash_income": "6050.00",  # 700 + 100 + handovers 2500 (still dated 04-06) + 1750 + 1000
        "cash_expense": "4200.00",
        "cash_net": "1850.00",  # 6050 − 4200
        "active_masters": 0,  # M1 blocked now too
        "average_check": "3833.33",  # 11500 / 3 = 3833.333
    }
    assert pick(after, expected) == expected
    m1 = by((await report(director, "masters", **APRIL))["items"], "master_id")[world.m1]
    expected_m1 = {"status": "blocked", "revenue": "9500.00", "handover": "4250.00", "earnings": "4250.00"}
    # revenue 6000 + 3500; handover 2500 + 1750; earnings (5000 + 3500) − 4250
    assert pick(m1, expected_m1) == expected_m1


async def test_today_is_the_citys_own_day(h: Harness) -> None:
    """The summary's today is the city's calendar day: one minute after midnight in Novosibirsk is today there (and
    still yesterday evening in Moscow for 20 hours of every day); one minute before it is yesterday."""
    city = (await h.city("Новосибирск (сегодня)", "Asia/Novosibirsk")).id
    director = await h.as_user(await h.user("director", cities=[city]))
    zone = ZoneInfo("Asia/Novosibirsk")
    midnight = dt.datetime.combine(dt.datetime.now(zone).date(), dt.time(), zone).astimezone(dt.UTC)
    just_after = await new_request(director, city, "79850000031")
    just_before = await new_request(director, city, "79850000032")
    fmt = "%Y-%m-%dT%H:%M"
    await stamp(h, just_after, (midnight + dt.timedelta(minutes=1)).strftime(fmt))
    await stamp(h, just_before, (midnight - dt.timedelta(minutes=1)).strftime(fmt))
    body = await report(director, "summary", **APRIL)
    assert body["items"][0]["today"]["requests_total"] == 1  # just_after only
    assert body["totals"]["today"]["requests_total"] == 1
