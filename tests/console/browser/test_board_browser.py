"""The dispatch board in a real browser against a real ``leadflow serve``: two directors have the same board open;
one drags a job from the tray onto a master's lane and the other's board follows live, without a reload; the
keyboard (the card's menu) does the same; the page passes an axe check.

Headless Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright; missing, the test is skipped locally and
fails on the CI run with services (``LEADFLOW_TEST_REQUIRE_SERVICES``)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import expect
from sqlalchemy import update

from leadflow.accounts.models import User
from tests.cli.servers import Server
from tests.conftest import PASSWORD, Harness
from tests.console.browser.support import axe_check
from tests.requests.helpers import create, move

pytestmark = pytest.mark.slow

ZONE = "Europe/Moscow"
WAIT_MS = 20_000


@pytest.fixture
def server(h: Harness, serve: Any) -> Server:
    return serve()  # type: ignore[no-any-return]


async def signed_in(browser: object, server: Server, login: str) -> object:
    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")  # type: ignore[attr-defined]
    await context.add_cookies([{"name": "lang", "value": "en", "url": server.url}])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    page.errors = errors
    await page.goto(f"{server.url}/login?next=/board")
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/board", timeout=WAIT_MS)
    # The live stream is open before anyone moves anything.
    await page.wait_for_function("document.querySelector('#offline').hidden", timeout=WAIT_MS)
    return page


async def drag(page: object, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A pointer drag in small steps (SortableJS's pointer fallback follows the moves)."""
    await page.mouse.move(*start)  # type: ignore[attr-defined]
    await page.mouse.down()  # type: ignore[attr-defined]
    for step in range(1, 11):
        x = start[0] + (end[0] - start[0]) * step / 10
        y = start[1] + (end[1] - start[1]) * step / 10
        await page.mouse.move(x, y)  # type: ignore[attr-defined]
        await page.wait_for_timeout(40)  # type: ignore[attr-defined]
    await page.mouse.up()  # type: ignore[attr-defined]


async def test_drag_and_keyboard_assign_update_the_other_board_live(
    h: Harness, server: Server, browser: object
) -> None:
    city = await h.city("Москва", ZONE)
    first = await h.user("director", cities=[city.id], login="director.one")
    second = await h.user("director", cities=[city.id], login="director.two")
    ivanov = await h.user("master", master_city=city.id, login="ivanov")
    petrov = await h.user("master", master_city=city.id, login="petrov")
    async with h.database.session() as session:
        for user, name in ((ivanov, "Иванов Пётр"), (petrov, "Петров Алексей")):
            await session.execute(update(User).where(User.id == user.id).values(full_name=name))
        await session.commit()
    admin = await h.as_user(await h.user("admin"))
    today = dt.datetime.now(ZoneInfo(ZONE)).date()
    jobs = []
    for hour in (12, 16):
        visit = dt.datetime.combine(today, dt.time(hour), ZoneInfo(ZONE)).isoformat()
        req = await create(admin, city.id, address=f"ул. Ленина, {hour}", visit_at=visit)
        await move(admin, req["id"], "awaiting_dispatch")
        jobs.append(req["id"])
    dragged, keyed = jobs

    one = await signed_in(browser, server, first.login)
    two = await signed_in(browser, server, second.login)
    for page in (one, two):
        assert await page.locator(".tray [data-row]").count() == 2  # type: ignore[attr-defined]

    # Director one drags the first job from the tray onto Ivanov's lane (SortableJS, pointer events).
    card = one.locator(f'.tray [data-id="{dragged}"] .job-where')  # type: ignore[attr-defined]
    lane = one.locator(f'.lane-track[data-master="{ivanov.id}"]')  # type: ignore[attr-defined]
    start, target = await card.bounding_box(), await lane.bounding_box()
    assert start is not None and target is not None
    await drag(one, (start["x"] + 10, start["y"] + 5), (target["x"] + 200, target["y"] + target["height"] / 2))
    in_lane = f'.lane-track[data-master="{ivanov.id}"] [data-id="{dragged}"].job-pending'
    await one.wait_for_selector(in_lane, timeout=WAIT_MS)  # type: ignore[attr-defined]
    # Director two's board follows by itself: the job leaves the tray and waits for Ivanov's answer in his lane.
    await two.wait_for_selector(in_lane, timeout=WAIT_MS)  # type: ignore[attr-defined]
    await expect(two.locator(f'.tray [data-id="{dragged}"]')).to_have_count(0)  # type: ignore[attr-defined]
    await expect(two.locator(f"#lane-{ivanov.id} ~ .load")).to_have_text("jobs: 1")  # type: ignore[attr-defined]

    # Director two does the same with the keyboard: j to the card, Tab to its menu, Enter, Tab to a master, Enter.
    await two.locator("body").press("j")  # type: ignore[attr-defined]
    focused = await two.evaluate("document.activeElement.dataset.id")  # type: ignore[attr-defined]
    assert focused == str(keyed)
    await two.keyboard.press("Tab")  # type: ignore[attr-defined]  # the №-link
    await two.keyboard.press("Tab")  # type: ignore[attr-defined]  # the menu
    assert await two.evaluate("document.activeElement.tagName") == "SUMMARY"  # type: ignore[attr-defined]
    await two.keyboard.press("Enter")  # type: ignore[attr-defined]
    await two.keyboard.press("Tab")  # type: ignore[attr-defined]  # the least loaded master first: Petrov
    assert "Петров" in await two.evaluate("document.activeElement.textContent")  # type: ignore[attr-defined]
    await two.keyboard.press("Enter")  # type: ignore[attr-defined]
    in_petrov = f'.lane-track[data-master="{petrov.id}"] [data-id="{keyed}"]'
    await two.wait_for_selector(in_petrov, timeout=WAIT_MS)  # type: ignore[attr-defined]
    await one.wait_for_selector(in_petrov, timeout=WAIT_MS)  # type: ignore[attr-defined]
    await expect(one.locator(".tray [data-row]")).to_have_count(0)  # type: ignore[attr-defined]

    stored = [(await admin.get(f"/api/v1/requests/{rid}")).json() for rid in (dragged, keyed)]
    assert [(r["status"], r["master_id"]) for r in stored] == [
        ("awaiting_acceptance", ivanov.id),
        ("awaiting_acceptance", petrov.id),
    ]

    # Director one drags that job along Petrov's lane to 10:00: a new visit time, on both boards.
    track = one.locator(f'.lane-track[data-master="{petrov.id}"]')  # type: ignore[attr-defined]
    card = one.locator(f'[data-id="{keyed}"] .job-where')  # type: ignore[attr-defined]
    start, lane_box = await card.bounding_box(), await track.bounding_box()
    assert start is not None and lane_box is not None
    ten = lane_box["x"] + lane_box["width"] * 8.5 / 56  # the slot of 10:00 (08:00 + 8 quarters)
    await drag(one, (start["x"] + 10, start["y"] + 5), (ten, start["y"] + 5))
    at_ten = f'.lane-track[data-master="{petrov.id}"] [data-id="{keyed}"].at-8'
    for page in (one, two):
        await page.wait_for_selector(at_ten, timeout=WAIT_MS)  # type: ignore[attr-defined]

    # Ivanov declines his job (through the server, whose stream the pages hear): back in both trays, with a notice.
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as phone:
        token = await phone.post("/api/v1/auth/token", data={"username": ivanov.login, "password": PASSWORD})
        phone.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        await move(phone, dragged, "awaiting_dispatch")
    for page in (one, two):
        await page.wait_for_selector(f'.tray [data-id="{dragged}"] .badge-returned', timeout=WAIT_MS)  # type: ignore[attr-defined]
        notice = page.locator(".toast", has_text="Declined by the master, back in the tray: №")  # type: ignore[attr-defined]
        await notice.wait_for(timeout=WAIT_MS)

    # On director two's board: j focuses the tray's card, 1 offers it to the first master of its list (the least
    # loaded: Ivanov, who has nothing now).
    await two.evaluate("document.activeElement.blur()")  # type: ignore[attr-defined]
    await two.locator("body").press("j")  # type: ignore[attr-defined]
    assert await two.evaluate("document.activeElement.dataset.id") == str(dragged)  # type: ignore[attr-defined]
    await two.keyboard.press("1")  # type: ignore[attr-defined]
    for page in (one, two):
        await page.wait_for_selector(in_lane, timeout=WAIT_MS)  # type: ignore[attr-defined]

    await axe_check(one)
    assert one.errors == [] and two.errors == []  # type: ignore[attr-defined]
