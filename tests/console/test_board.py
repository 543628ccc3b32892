"""The dispatch board ``/board`` without a browser: who may open it, what it shows (lanes of active masters, the
tray, the day's jobs, only the director's cities), the menu writes (assign, reassign, move to a time, return), a
stale version shown as a conflict with nothing changed, CSRF, and both languages."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import update

from leadflow.accounts.models import Role, User
from leadflow.console import board
from tests.conftest import PASSWORD, Harness
from tests.requests.helpers import create, move, url

ZONE = "Europe/Moscow"
HX = {"HX-Request": "true"}


def at(day: dt.date, hour: int, minute: int = 0) -> str:
    return dt.datetime.combine(day, dt.time(hour, minute), ZoneInfo(ZONE)).isoformat()


async def page_client(h: Harness, user: User, lang: str = "en") -> httpx.AsyncClient:
    client = h.new_client(cookies={"lang": lang})
    response = await client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["csrf_token"], **HX}


def section(html: str, start: str, end: str) -> str:
    return html[html.index(start) : html.index(end, html.index(start))]


def card_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-row tabindex="0" data-id="(\d+)"', html)]


@dataclass
class World:
    city_id: int
    other_city_id: int
    director: User
    api: httpx.AsyncClient  # the admin's API client
    ivanov: User
    petrov: User
    blocked: User
    foreign_master: User
    tray_id: int
    offered_id: int
    tomorrow_id: int
    foreign_id: int
    today: dt.date


async def world(h: Harness) -> World:
    city, other = await h.city("Москва"), await h.city("Казань")
    director = await h.user("director", cities=[city.id])
    api = await h.as_user(await h.user("admin"))
    ivanov = await h.user("master", master_city=city.id, login="ivanov")
    petrov = await h.user("master", master_city=city.id, login="petrov")
    blocked = await h.user("master", master_city=city.id, login="blocked")
    foreign_master = await h.user("master", master_city=other.id, login="foreign")
    async with h.database.session() as session:
        names = {ivanov.id: "Иванов Пётр", petrov.id: "Петров Алексей", blocked.id: "Блокин Олег"}
        for uid, name in names.items():
            await session.execute(update(User).where(User.id == uid).values(full_name=name))
        await session.execute(update(User).where(User.id == blocked.id).values(status="blocked"))
        await session.commit()
    today = dt.datetime.now(ZoneInfo(ZONE)).date()

    async def booked(city_id: int, when: str, master: User | None = None) -> int:
        req = await create(api, city_id, address="ул. Ленина, 1", visit_at=when, client_name="Анна")
        await move(api, req["id"], "awaiting_dispatch")
        if master is not None:
            await move(api, req["id"], "awaiting_acceptance", master_id=master.id)
        return int(req["id"])

    return World(
        city_id=city.id,
        other_city_id=other.id,
        director=director,
        api=api,
        ivanov=ivanov,
        petrov=petrov,
        blocked=blocked,
        foreign_master=foreign_master,
        tray_id=await booked(city.id, at(today, 12)),
        offered_id=await booked(city.id, at(today, 10), ivanov),
        tomorrow_id=await booked(city.id, at(today + dt.timedelta(days=1), 11), petrov),
        foreign_id=await booked(other.id, at(today, 10)),
        today=today,
    )


async def stored(w: World, rid: int) -> dict[str, object]:
    response = await w.api.get(url(rid))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_director_sees_lanes_tray_and_the_days_jobs(h: Harness) -> None:
    w = await world(h)
    client = await page_client(h, w.director)
    response = await client.get("/board")
    assert response.status_code == 200, response.text
    html = response.text
    assert "Dispatch board" in html and 'sse-connect="/api/v1/stream"' in html
    tray = section(html, 'class="tray"', "</section>")
    lanes = section(html, 'class="lanes"', '<div class="now-line') if "now-line" in html else html
    assert card_ids(tray) == [w.tray_id]
    # One lane per active master of the city, by name; the blocked master and another city's have none.
    assert re.findall(r'<h3 id="lane-(\d+)">', html) == [str(w.ivanov.id), str(w.petrov.id)]
    assert "Блокин" not in lanes.split("Assign to")[0] and f'data-master="{w.blocked.id}"' not in html
    assert str(w.foreign_master.id) not in re.findall(r'data-master="(\d+)"', html)
    assert f'data-id="{w.foreign_id}"' not in html
    # Today's offered job is in Ivanov's lane, shown as waiting for his answer; tomorrow's is not on today's board.
    ivanov_lane = section(html, f'id="lane-{w.ivanov.id}"', "</section>")
    assert card_ids(ivanov_lane) == [w.offered_id]
    assert re.search(
        rf'class="job job-awaiting_acceptance job-pending[^"]*"\s+data-row tabindex="0" data-id="{w.offered_id}"', html
    )
    assert "jobs: 1" in ivanov_lane
    assert f'data-id="{w.tomorrow_id}"' not in html
    # The card's slot: 10:00 is the 8th quarter hour after 08:00.
    assert re.search(rf'at-8[^"]*"\s+data-row tabindex="0" data-id="{w.offered_id}"', html)
    # The menus: "Assign to…" lists the active masters least loaded first; the offered job may go back to the tray.
    tray_menu = section(html, f'hx-post="/board/jobs/{w.tray_id}/assign"', "</form>")
    assert re.findall(r'name="master_id" value="(\d+)"', tray_menu) == [str(w.petrov.id), str(w.ivanov.id)]
    offered_menu = section(html, f'hx-post="/board/jobs/{w.offered_id}/assign"', "</form>")
    assert re.findall(r'name="master_id" value="(\d+)"', offered_menu) == [str(w.petrov.id)]  # another master only
    assert f'hx-post="/board/jobs/{w.offered_id}/return"' in html
    assert f'hx-post="/board/jobs/{w.tray_id}/return"' not in html
    tomorrow = await client.get("/board", params={"day": "tomorrow", "city_id": w.city_id})
    assert tomorrow.status_code == 200
    petrov_lane = section(tomorrow.text, f'id="lane-{w.petrov.id}"', "</section>")
    assert card_ids(petrov_lane) == [w.tomorrow_id]
    assert "now-line" not in tomorrow.text
    fragment = await client.get("/board/view", params={"city_id": w.city_id, "day": "today"}, headers=HX)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="board-view"')


async def test_another_citys_board_is_the_404_page_and_roles_get_403(h: Harness) -> None:
    w = await world(h)
    client = await page_client(h, w.director)
    for params in ({"city_id": w.other_city_id}, {"city_id": "x"}, {"day": "yesterday"}):
        response = await client.get("/board", params=params)
        assert response.status_code == 404 and "Not found" in response.text, params
        assert response.headers["content-type"].startswith("text/html")
    for role, extra in (
        ("operator", {"cities": [w.city_id]}),
        ("marketer", {}),
        ("master", {"master_city": w.city_id}),
    ):
        user = await h.user(role, **extra)  # type: ignore[arg-type]
        response = await (await page_client(h, user)).get("/board")
        assert response.status_code == 403 and "No access" in response.text, role
    # An admin may open it and switch between every city; a director of two cities gets the city switch.
    admin = await page_client(h, await h.user(Role.admin))
    both = (await admin.get("/board")).text
    assert f'href="/board?city_id={w.other_city_id}&amp;day=today"' in both
    assert 'aria-label="City"' not in (await client.get("/board")).text
    signed_out = await h.new_client().get("/board?day=tomorrow")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login?next=/board%3Fday%3Dtomorrow"


async def test_assign_reassign_move_and_return_through_the_menu(h: Harness) -> None:
    w = await world(h)
    client = await page_client(h, w.director)
    form = {"city_id": str(w.city_id), "day": "today"}
    version = (await stored(w, w.tray_id))["version"]
    response = await client.post(
        f"/board/jobs/{w.tray_id}/assign",
        data=form | {"master_id": str(w.petrov.id), "version": str(version)},
        headers=csrf(client),
    )
    assert response.status_code == 200, response.text
    after = await stored(w, w.tray_id)
    assert (after["status"], after["master_id"]) == ("awaiting_acceptance", w.petrov.id)
    assert card_ids(section(response.text, f'id="lane-{w.petrov.id}"', "</section>")) == [w.tray_id]
    assert card_ids(section(response.text, 'class="tray"', "</section>")) == []
    # Reassign: from Petrov's lane to Ivanov's.
    response = await client.post(
        f"/board/jobs/{w.tray_id}/assign",
        data=form | {"master_id": str(w.ivanov.id), "version": str(after["version"])},
        headers=csrf(client),
    )
    assert response.status_code == 200, response.text
    after = await stored(w, w.tray_id)
    assert (after["status"], after["master_id"]) == ("awaiting_acceptance", w.ivanov.id)
    # Move to a time: the city's 15:30 on the board's day.
    response = await client.post(
        f"/board/jobs/{w.tray_id}/time",
        data=form | {"time": "15:30", "version": str(after["version"])},
        headers=csrf(client),
    )
    assert response.status_code == 200, response.text
    after = await stored(w, w.tray_id)
    visit = dt.datetime.fromisoformat(str(after["visit_at"])).astimezone(ZoneInfo(ZONE))
    assert (visit.date(), visit.time()) == (w.today, dt.time(15, 30))
    assert re.search(rf'at-30[^"]*"\s+data-row tabindex="0" data-id="{w.tray_id}"', response.text)
    # Return to the tray: the offer is taken back, the master cleared.
    response = await client.post(
        f"/board/jobs/{w.tray_id}/return", data=form | {"version": str(after["version"])}, headers=csrf(client)
    )
    assert response.status_code == 200, response.text
    after = await stored(w, w.tray_id)
    assert (after["status"], after["master_id"]) == ("awaiting_dispatch", None)
    assert w.tray_id in card_ids(section(response.text, 'class="tray"', "</section>"))


async def test_stale_version_is_a_conflict_on_the_card_and_changes_nothing(h: Harness) -> None:
    w = await world(h)
    client = await page_client(h, w.director, lang="ru")
    before = await stored(w, w.offered_id)
    await w.api.patch(url(w.offered_id), json={"problem": "Течёт", "version": before["version"]})  # someone else
    response = await client.post(
        f"/board/jobs/{w.offered_id}/assign",
        data={"master_id": str(w.petrov.id), "version": str(before["version"]), "city_id": str(w.city_id)},
        headers=csrf(client),
    )
    assert response.status_code == 409
    assert (
        "Кто-то уже изменил заявку" in response.text and 'class="job-notice job-conflict" role="alert"' in response.text
    )
    after = await stored(w, w.offered_id)
    assert after["master_id"] == w.ivanov.id and after["version"] == before["version"] + 1
    # The board re-read: the card carries the new version to try again with.
    assert re.search(rf'data-id="{w.offered_id}" data-version="{after["version"]}"', response.text)
    moved = await client.post(
        f"/board/jobs/{w.offered_id}/time",
        data={"time": "11:00", "version": str(before["version"]), "city_id": str(w.city_id)},
        headers=csrf(client),
    )
    assert moved.status_code == 409
    assert (await stored(w, w.offered_id))["visit_at"] == after["visit_at"]


async def test_bad_input_is_shown_on_the_card_and_changes_nothing(h: Harness) -> None:
    w = await world(h)
    client = await page_client(h, w.director, lang="ru")
    version = str((await stored(w, w.tray_id))["version"])
    form = {"city_id": str(w.city_id), "version": version}
    response = await client.post(f"/board/jobs/{w.tray_id}/time", data=form | {"time": "25:99"}, headers=csrf(client))
    assert response.status_code == 422 and "Укажите время в формате ЧЧ:ММ." in response.text
    response = await client.post(
        f"/board/jobs/{w.tray_id}/assign", data=form | {"master_id": str(w.blocked.id)}, headers=csrf(client)
    )
    assert response.status_code == 422 and "Мастер не найден, заблокирован или из другого города." in response.text
    response = await client.post(f"/board/jobs/{w.tray_id}/return", data=form, headers=csrf(client))
    assert response.status_code == 409  # the tray's job has no offer to take back (the workflow says no)
    assert "cannot move to awaiting_dispatch" in response.text and "Кто-то уже изменил" not in response.text
    assert (await stored(w, w.tray_id))["status"] == "awaiting_dispatch"
    # Another city's job is the same 404 as a missing one; no CSRF header is a 403; an operator may not dispatch.
    foreign = await client.post(
        f"/board/jobs/{w.foreign_id}/assign", data=form | {"master_id": str(w.ivanov.id)}, headers=csrf(client)
    )
    assert foreign.status_code == 404
    no_csrf = await client.post(f"/board/jobs/{w.tray_id}/assign", data=form | {"master_id": str(w.ivanov.id)})
    assert no_csrf.status_code == 403
    operator = await page_client(h, await h.user("operator", cities=[w.city_id]))
    refused = await operator.post(
        f"/board/jobs/{w.tray_id}/assign", data=form | {"master_id": str(w.ivanov.id)}, headers=csrf(operator)
    )
    assert refused.status_code == 403
    assert (await stored(w, w.tray_id))["status"] == "awaiting_dispatch"


async def test_both_languages(h: Harness) -> None:
    w = await world(h)
    ru = (await (await page_client(h, w.director, lang="ru")).get("/board")).text
    en = (await (await page_client(h, w.director, lang="en")).get("/board")).text
    for text in (
        "Диспетчерская",
        "Не назначены",
        "Назначить мастеру…",
        "Перенести на время…",
        "Вернуть в лоток",
        "Ожидает принятия",
    ):
        assert text in ru, text
    for text in (
        "Dispatch board",
        "Unassigned",
        "Assign to…",
        "Move to time…",
        "Return to tray",
        "Awaiting acceptance",
    ):
        assert text in en, text


def test_the_stylesheet_has_a_class_for_every_slot() -> None:
    css = (Path(board.__file__).parent / "static" / "css" / "board.css").read_text(encoding="utf-8")
    assert board.SLOTS == (board.LAST_HOUR - board.FIRST_HOUR) * 60 // board.SLOT_MINUTES == 56
    for n in range(board.SLOTS):
        assert f".at-{n} {{ grid-column: {n + 1} / span {board.CARD_SLOTS}; }}" in css
    for n in range(board.SLOTS + 1):
        assert f".now-{n} {{ left: calc(var(--label) + (100% - var(--label)) * {n} / {board.SLOTS}); }}" in css
    assert f"repeat({board.SLOTS}, minmax(0, 1fr))" in css


async def test_the_page_keeps_to_the_csp(h: Harness) -> None:
    w = await world(h)
    response = await (await page_client(h, w.director)).get("/board")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    html = response.text
    assert "style=" not in html and "hx-on" not in html and "js:" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert not re.search(r"\son[a-z]+=", html), "an inline handler"


async def test_every_open_board_of_the_city_shows_a_change_at_once(h: Harness) -> None:
    """The board fragment is kept per scope and city (decision 0017): a second director's next refetch, and the
    first's, show an assignment made a moment ago, and a master's new name."""
    w = await world(h)
    first = await page_client(h, w.director)
    second = await page_client(h, await h.user("director", cities=[w.city_id]))
    view = {"city_id": str(w.city_id), "day": "today"}
    for client in (first, second):
        html = (await client.get("/board/view", params=view)).text
        assert w.tray_id in card_ids(section(html, 'class="tray"', "</section>"))
    version = (await stored(w, w.tray_id))["version"]
    assigned = await first.post(
        f"/board/jobs/{w.tray_id}/assign",
        data=view | {"master_id": str(w.petrov.id), "version": str(version)},
        headers=csrf(first),
    )
    assert assigned.status_code == 200, assigned.text
    for client in (first, second):
        html = (await client.get("/board/view", params=view)).text
        assert card_ids(section(html, f'id="lane-{w.petrov.id}"', "</section>")) == [w.tray_id]
        assert w.tray_id not in card_ids(section(html, 'class="tray"', "</section>"))
    renamed = await w.api.patch(f"/api/v1/users/{w.petrov.id}", json={"full_name": "Петров Пётр"})
    assert renamed.status_code == 200, renamed.text
    assert "Петров Пётр" in (await second.get("/board/view", params=view)).text
