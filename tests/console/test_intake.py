"""The intake page without a browser: what each role and city sees, the moves a row offers, the forms' errors beside
their fields with the typed values kept, CSRF, both languages."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from leadflow.accounts.models import User
from leadflow.catalog.models import City
from tests.conftest import PASSWORD, Harness
from tests.requests.helpers import create, move, new_phone, reach, team, url

HX = {"HX-Request": "true"}


async def page_client(h: Harness, user: User, lang: str = "ru") -> httpx.AsyncClient:
    """A browser-like client: signed in through the sign-in form (cookies), sending the CSRF header as htmx does."""
    client = h.new_client()
    client.cookies.set("lang", lang)
    response = await client.post("/login", data={"login": user.login, "password": PASSWORD, "next": "/intake"})
    assert response.status_code == 303, response.text
    client.headers["X-CSRF-Token"] = client.cookies["csrf_token"]
    return client


async def operator_of(h: Harness, city: City, lang: str = "ru") -> httpx.AsyncClient:
    return await page_client(h, await h.user("operator", cities=[city.id]), lang)


def row_of(html: str, rid: int) -> str:
    found = re.search(rf'<li class="queue-row[^"]*" data-row data-id="{rid}".*?</li>', html, re.S)
    assert found, f"no row {rid}"
    return found.group(0)


def move_labels(row: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", label)).strip()
        for label in re.findall(r"<button[^>]*data-move[^>]*>(.*?)</button>", row, re.S)
    ]


def field_error(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="e-{field}">(.*?)</p>', html)
    assert found, f"no error beside {field}"
    return found.group(1)


def value_of(html: str, field: str) -> str:
    found = re.search(rf'id="f-{field}" name="{field}"[^>]*value="([^"]*)"', html)
    assert found, f"no field {field}"
    return found.group(1)


async def test_operator_sees_the_intake_of_their_city_only_with_counters_and_moves(h: Harness) -> None:
    a, b = await team(h), await team(h)
    mine = await create(a.operator, a.city.id, client_name="Анна Петрова")
    await move(a.director, (await create(a.director, a.city.id))["id"], "callback")
    theirs = await create(b.operator, b.city.id, client_name="Чужой Клиент")
    booked = await reach(a, "awaiting_dispatch")
    client = await operator_of(h, a.city)
    response = await client.get("/intake")
    assert response.status_code == 200
    html = response.text
    assert 'sse-connect="/api/v1/stream"' in html
    assert "sse:request.changed delay:60ms" in html and "sse:call.received delay:60ms" in html
    assert "Анна Петрова" in html and "Чужой Клиент" not in html
    assert f'data-id="{theirs["id"]}"' not in html and f'data-id="{booked["id"]}"' not in html
    assert re.search(r'data-counter="new">1<', html) and re.search(r'data-counter="callback">1<', html)
    assert re.search(r'data-counter="not_reached">0<', html)
    row = row_of(html, mine["id"])
    assert move_labels(row) == ["1 Оформить", "2 Перезвонить", "3 ТНО", "4 Отказ"]
    assert 'data-announce="Новый звонок: +7 985' in row
    # the fragment the live region re-fetches says the same, and the other city's row stays out of it too
    fragment = await client.get("/intake/rows", headers=HX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert f'data-id="{mine["id"]}"' in fragment.text and f'data-id="{theirs["id"]}"' not in fragment.text
    # and a form for another city's request is the same 404 as a missing one
    other = await client.get(f"/intake/{theirs['id']}/book", headers=HX)
    missing = await client.get("/intake/999999/book", headers=HX)
    assert other.status_code == missing.status_code == 404
    assert other.text == missing.text


async def test_search_filters_the_queue_by_phone_or_name(h: Harness) -> None:
    t = await team(h)
    await create(t.operator, t.city.id, client_phone="79161112233", client_name="Олег")
    await create(t.operator, t.city.id, client_name="Мария")
    client = await operator_of(h, t.city)
    by_phone = (await client.get("/intake/rows", params={"q": "8 916 111"}, headers=HX)).text
    by_name = (await client.get("/intake/rows", params={"q": "мари"}, headers=HX)).text
    assert "Олег" in by_phone and "Мария" not in by_phone
    assert "Мария" in by_name and "Олег" not in by_name


async def test_who_may_open_the_page(h: Harness) -> None:
    t = await team(h)
    director = await page_client(h, await h.user("director", cities=[t.city.id]))
    admin = await page_client(h, await h.user("admin"))
    master = await page_client(h, t.master_user)
    marketer = await page_client(h, await h.user("marketer", cities=[t.city.id]))
    assert (await director.get("/intake")).status_code == 200
    assert (await admin.get("/intake")).status_code == 200
    assert (await master.get("/intake")).status_code == 403
    assert (await marketer.get("/intake")).status_code == 403
    signed_out = await h.new_client().get("/intake")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login?next=/intake"


async def test_moves_follow_the_status_and_overdue_callbacks_are_marked(h: Harness) -> None:
    t = await team(h, await h.city(timezone="Asia/Yekaterinburg"))
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)).isoformat()
    overdue = await move(t.director, (await create(t.director, t.city.id))["id"], "callback", callback_at=past)
    soon = await move(t.director, (await create(t.director, t.city.id))["id"], "callback", callback_at=later)
    unreached = await move(t.director, (await create(t.director, t.city.id))["id"], "not_reached")
    html = (await (await operator_of(h, t.city)).get("/intake")).text
    first, second = html.index(f'data-id="{overdue["id"]}"'), html.index(f'data-id="{soon["id"]}"')
    assert first < second  # callbacks by due time
    assert "is-overdue" in row_of(html, overdue["id"]) and "просрочено" in row_of(html, overdue["id"])
    assert "is-overdue" not in row_of(html, soon["id"])
    due_local = dt.datetime.fromisoformat(later).astimezone(ZoneInfo("Asia/Yekaterinburg")).strftime("%H:%M")
    assert due_local in row_of(html, soon["id"])
    assert move_labels(row_of(html, unreached["id"])) == ["1 Оформить", "2 Перезвонить", "3 ТНО", "4 Отказ"]


async def test_refuse_without_a_reason_shows_the_error_beside_the_field(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    for lang, text in (("ru", "Укажите причину."), ("en", "Give a reason.")):
        client = await operator_of(h, t.city, lang)
        form = await client.get(f"/intake/{req['id']}/refuse", headers=HX)
        assert form.status_code == 200 and 'name="reason"' in form.text
        refused = await client.post(
            f"/intake/{req['id']}/refuse", data={"version": req["version"], "reason": " "}, headers=HX
        )
        assert refused.status_code == 422
        assert field_error(refused.text, "reason") == text
        assert 'aria-invalid="true" aria-describedby="e-reason"' in refused.text
    assert (await t.director.get(url(req["id"]))).json()["status"] == "new"
    done = await client.post(
        f"/intake/{req['id']}/refuse", data={"version": req["version"], "reason": "дорого"}, headers=HX
    )
    assert done.status_code == 200 and done.headers["HX-Trigger"] == "intake-refresh"
    assert (await t.director.get(url(req["id"]))).json()["status"] == "refused"


async def test_booking_without_an_address_keeps_what_was_typed(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    client = await operator_of(h, t.city)
    form = {
        "version": req["version"],
        "client_name": "Иван Сидоров",
        "address": "",
        "visit_at": "2026-12-10T10:00",
        "problem": "Не сливает",
    }
    answer = await client.post(f"/intake/{req['id']}/book", data=form, headers=HX)
    assert answer.status_code == 422
    assert field_error(answer.text, "address") == "Укажите адрес, чтобы оформить заказ."
    assert value_of(answer.text, "client_name") == "Иван Сидоров"
    assert value_of(answer.text, "visit_at") == "2026-12-10T10:00"
    assert ">Не сливает</textarea>" in answer.text
    stored = (await t.director.get(url(req["id"]))).json()
    assert (stored["status"], stored["client_name"], stored["version"]) == ("new", None, req["version"])
    bad_time = await client.post(
        f"/intake/{req['id']}/book", data={**form, "address": "ул. Мира, 1", "visit_at": "завтра"}, headers=HX
    )
    assert bad_time.status_code == 422 and field_error(bad_time.text, "visit_at") == "Введите дату и время."


async def test_booking_takes_the_visit_time_in_the_city_zone(h: Harness) -> None:
    t = await team(h, await h.city(timezone="Asia/Yekaterinburg"))
    req = await create(t.operator, t.city.id)
    client = await operator_of(h, t.city, "en")
    form = {"version": req["version"], "client_name": "Ivan", "address": "Lenina 1", "visit_at": "2026-12-10T10:00"}
    answer = await client.post(f"/intake/{req['id']}/book", data=form, headers=HX)
    assert answer.status_code == 200, answer.text
    assert f"Request #{req['id']} booked" in answer.text and answer.headers["HX-Trigger"] == "intake-refresh"
    stored = (await t.director.get(url(req["id"]))).json()
    assert stored["status"] == "awaiting_dispatch"
    assert stored["visit_at"] in ("2026-12-10T05:00:00Z", "2026-12-10T05:00:00+00:00")
    assert (stored["address"], stored["client_name"]) == ("Lenina 1", "Ivan")


async def test_a_stale_booking_shows_the_stored_values_and_keeps_the_edit(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    changed = (
        await t.director.patch(url(req["id"]), json={"address": "ул. Новая, 2", "version": req["version"]})
    ).json()
    client = await operator_of(h, t.city)
    form = {
        "version": req["version"],
        "client_name": "Пётр",
        "address": "ул. Старая, 1",
        "visit_at": "2026-12-10T10:00",
    }
    answer = await client.post(f"/intake/{req['id']}/book", data=form, headers=HX)
    assert answer.status_code == 409
    assert "Заявку изменил кто-то другой" in answer.text and "ул. Новая, 2" in answer.text
    assert value_of(answer.text, "address") == "ул. Старая, 1" and value_of(answer.text, "client_name") == "Пётр"
    assert f'name="version" value="{changed["version"]}"' in answer.text
    again = await client.post(f"/intake/{req['id']}/book", data={**form, "version": changed["version"]}, headers=HX)
    assert again.status_code == 200
    assert (await t.director.get(url(req["id"]))).json()["address"] == "ул. Старая, 1"


async def test_callback_presets_and_custom_time(h: Harness) -> None:
    t = await team(h, await h.city(timezone="Asia/Vladivostok"))
    client = await operator_of(h, t.city)
    req = await create(t.operator, t.city.id)
    answer = await client.post(
        f"/intake/{req['id']}/callback", data={"version": req["version"], "preset": ["custom", "tomorrow"]}, headers=HX
    )
    assert answer.status_code == 200, answer.text
    stored = (await t.director.get(url(req["id"]))).json()
    local = dt.datetime.fromisoformat(stored["callback_at"].replace("Z", "+00:00")).astimezone(
        ZoneInfo("Asia/Vladivostok")
    )
    assert stored["status"] == "callback"
    assert (local.hour, local.minute) == (10, 0)
    assert local.date() == dt.datetime.now(ZoneInfo("Asia/Vladivostok")).date() + dt.timedelta(days=1)
    before = dt.datetime.now(dt.UTC)
    answer = await client.post(
        f"/intake/{req['id']}/callback", data={"version": stored["version"], "preset": "15m"}, headers=HX
    )
    stored = (await t.director.get(url(req["id"]))).json()
    due = dt.datetime.fromisoformat(stored["callback_at"].replace("Z", "+00:00"))
    assert dt.timedelta(minutes=14) < due - before < dt.timedelta(minutes=16)
    empty = await client.post(
        f"/intake/{req['id']}/callback",
        data={"version": stored["version"], "preset": "custom", "callback_at": ""},
        headers=HX,
    )
    assert empty.status_code == 422 and field_error(empty.text, "callback_at") == "Введите дату и время."
    custom = await client.post(
        f"/intake/{req['id']}/callback",
        data={"version": stored["version"], "preset": "custom", "callback_at": "2026-12-20T18:30"},
        headers=HX,
    )
    assert custom.status_code == 200
    assert (await t.director.get(url(req["id"]))).json()["callback_at"] in (
        "2026-12-20T08:30:00Z",
        "2026-12-20T08:30:00+00:00",
    )


async def test_not_reached_in_one_key(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    client = await operator_of(h, t.city)
    answer = await client.post(f"/intake/{req['id']}/not-reached", data={"version": req["version"]}, headers=HX)
    assert answer.status_code == 200 and "ТНО" in answer.text
    assert (await t.director.get(url(req["id"]))).json()["status"] == "not_reached"


async def test_csrf_is_required_for_every_move(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    client = await operator_of(h, t.city)
    del client.headers["X-CSRF-Token"]
    for path, data in (
        (f"/intake/{req['id']}/refuse", {"version": req["version"], "reason": "дорого"}),
        (f"/intake/{req['id']}/not-reached", {"version": req["version"]}),
        (f"/intake/{req['id']}/book", {"version": req["version"], "address": "a", "visit_at": "2026-12-10T10:00"}),
        ("/intake/new", {"city_id": t.city.id, "client_phone": new_phone()}),
    ):
        assert (await client.post(path, data=data, headers=HX)).status_code == 403
    stored = (await t.director.get(url(req["id"]))).json()
    assert (stored["status"], stored["version"]) == ("new", req["version"])


async def test_history_and_duplicate_warning_before_booking(h: Harness) -> None:
    t = await team(h)
    phone = new_phone()
    done = await reach(t, "done", client_phone=phone)
    await reach(t, "awaiting_dispatch", client_phone=phone)
    fresh = await create(t.operator, t.city.id, client_phone=phone)
    client = await operator_of(h, t.city, "en")
    row = row_of((await client.get("/intake")).text, fresh["id"])
    assert (
        "requests: 3" in row and f"master {t.master_user.full_name}" in row and "open requests of this phone: 1" in row
    )
    form = (await client.get(f"/intake/{fresh['id']}/book", headers=HX)).text
    assert "This phone has other open requests (1)" in form
    assert "last job" in form and done["id"] != fresh["id"]


async def test_masters_load_beside_the_visit_time(h: Harness) -> None:
    t = await team(h)
    await reach(t, "awaiting_acceptance", visit_at="2026-11-25T10:00:00+03:00")
    req = await create(t.operator, t.city.id)
    client = await operator_of(h, t.city)
    form = (await client.get(f"/intake/{req['id']}/book", headers=HX)).text
    assert 'hx-get="/intake/load?city_id=' in form and t.master_user.full_name in form
    load = await client.get("/intake/load", params={"city_id": t.city.id, "visit_at": "2026-11-25T09:00"}, headers=HX)
    assert load.status_code == 200 and "выездов: 1" in load.text and "25 нояб. 2026" in load.text
    other = await team(h)
    assert (await client.get("/intake/load", params={"city_id": other.city.id}, headers=HX)).status_code == 404


async def test_manual_intake(h: Harness) -> None:
    t = await team(h)
    client = await operator_of(h, t.city)
    form = (await client.get("/intake/new", headers=HX)).text
    assert f'<option value="{t.city.id}" selected>' in form
    typed: dict[str, Any] = {"city_id": t.city.id, "client_phone": "", "client_name": "Ольга", "address": "ул. Мира, 3"}
    refused = await client.post("/intake/new", data=typed, headers=HX)
    assert refused.status_code == 422 and field_error(refused.text, "client_phone")
    assert value_of(refused.text, "client_name") == "Ольга" and value_of(refused.text, "address") == "ул. Мира, 3"
    created = await client.post("/intake/new", data={**typed, "client_phone": "8 (916) 555-44-33"}, headers=HX)
    assert created.status_code == 200 and created.headers["HX-Trigger"] == "intake-refresh"
    rid = int(re.search(r"Заявка #(\d+) принята", created.text).group(1))  # type: ignore[union-attr]
    stored = (await t.director.get(url(rid))).json()
    assert (stored["client_phone"], stored["source"], stored["status"]) == ("79165554433", "manual", "new")
    other = await team(h)
    foreign = await client.post(
        "/intake/new", data={**typed, "client_phone": new_phone(), "city_id": other.city.id}, headers=HX
    )
    assert foreign.status_code == 422 and field_error(foreign.text, "city_id")


async def test_english_page(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    user = await h.user("operator", cities=[t.city.id])
    client = h.new_client(headers={"Accept-Language": "en-GB,en;q=0.9"})
    await client.post("/login", data={"login": user.login, "password": PASSWORD, "next": "/intake"})
    html = (await client.get("/intake")).text
    assert '<html lang="en">' in html and "<h1>Intake</h1>" in html
    assert move_labels(row_of(html, req["id"])) == ["1 Book", "2 Call back", "3 Not reached", "4 Refuse"]
    assert "New call: +7 985" in row_of(html, req["id"])
