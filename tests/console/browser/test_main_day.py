"""The main day of issue 14, end to end on one real ``leadflow serve`` in Debian's chromium: a signed Mango call
arrives by webhook and appears live in the operator's intake; the operator books it with the keyboard; a director
drags it onto a master's lane on the board and another director's board follows live; the master accepts and
completes it on a 390×844 phone with a BSO photo; the request card shows the money and the history. Every page passes
the axe check (no serious or critical violation)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import update

from leadflow.accounts.models import User
from leadflow.console.i18n import Translator
from leadflow.requests import money
from tests.cli.servers import Server
from tests.conftest import PASSWORD, Harness
from tests.console.browser.support import (
    API_KEY,
    API_SALT,
    DESKTOP,
    FORM,
    PHONE,
    axe_check,
    mango_call,
    no_sideways_scrolling,
)
from tests.files.helpers import png

pytestmark = pytest.mark.slow

ZONE = "Europe/Moscow"
LINE = "79584440099"
CALLER = "79161112233"
WAIT_MS = 20_000
RU = Translator("ru")


async def open_page(browser: Any, server: Server, login: str, path: str, viewport: dict[str, int] = DESKTOP) -> Any:
    """``path`` signed in as ``login`` through the sign-in page it redirects to (which passes the axe check too)."""
    context = await browser.new_context(viewport=viewport, locale="ru-RU", is_mobile=viewport == PHONE)
    page = await context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    page.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    page.failures = failures
    await page.goto(f"{server.url}{path}")
    await page.wait_for_url(re.compile(r"/login\?next="))
    await axe_check(page)
    await page.fill("#login", login)
    await page.fill("#password", PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(rf"^[^?]*{re.escape(path.split('?')[0])}(\?.*)?$"), timeout=WAIT_MS)
    return page


async def stream_open(page: Any) -> None:
    """The page's live stream (the SSE extension's EventSource on <main>) is connected."""
    await page.wait_for_function(
        "() => { const d = document.querySelector('main')['htmx-internal-data'];"
        " return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); }",
        timeout=WAIT_MS,
    )


async def drag(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A pointer drag in small steps (SortableJS follows the pointer moves)."""
    await page.mouse.move(*start)
    await page.mouse.down()
    for step in range(1, 11):
        await page.mouse.move(start[0] + (end[0] - start[0]) * step / 10, start[1] + (end[1] - start[1]) * step / 10)
        await page.wait_for_timeout(40)
    await page.mouse.up()


async def test_the_main_day(h: Harness, serve: Any, browser: Any) -> None:
    city = await h.city("Москва", ZONE)
    admin = await h.as_user(await h.user("admin"))
    made = await admin.post("/api/v1/campaigns", json={"city_id": city.id, "name": "Avito", "phone": LINE})
    assert made.status_code == 201, made.text
    operator = await h.user("operator", cities=[city.id])
    first = await h.user("director", cities=[city.id])
    second = await h.user("director", cities=[city.id])
    master = await h.user("master", master_city=city.id)
    async with h.database.session() as session:
        await session.execute(update(User).where(User.id == master.id).values(full_name="Иванов Пётр"))
        await session.commit()
    server = serve(mango_api_key=API_KEY, mango_api_salt=API_SALT)

    # 1. The operator's intake: the call arrives by the signed webhook and appears without a reload.
    intake = await open_page(browser, server, operator.login, "/intake")
    await stream_open(intake)
    path, body = mango_call(CALLER, LINE)
    async with httpx.AsyncClient(base_url=server.url) as provider:
        delivered = await provider.post(path, content=body, headers=FORM)
    assert delivered.status_code == 200, delivered.text
    row = intake.locator("[data-row]", has_text="+7 916 111-22-33")
    await row.wait_for(timeout=WAIT_MS)
    assert intake.url.endswith("/intake")
    await axe_check(intake)
    [lead] = (await admin.get("/api/v1/requests", params={"q": CALLER})).json()["items"]
    rid = lead["id"]

    # 2. Booked with the keyboard only: j to the row, 1 for "book", the fields typed, Enter.
    await intake.keyboard.press("j")
    assert await intake.evaluate("document.activeElement.dataset.id") == str(rid)
    await intake.keyboard.press("1")
    await intake.locator("#panel form").wait_for()
    await intake.keyboard.type("Анна Соколова")
    await intake.keyboard.press("Tab")
    await intake.keyboard.type("ул. Тверская, 7, кв. 12")
    tomorrow = dt.datetime.now(ZoneInfo(ZONE)).date() + dt.timedelta(days=1)
    await intake.locator("#f-visit_at").fill(f"{tomorrow.isoformat()}T11:30")  # a datetime-local takes no typing
    await intake.locator("#f-address").focus()
    await intake.keyboard.press("Enter")
    await intake.locator(f"[data-row][data-id='{rid}']").wait_for(state="detached", timeout=WAIT_MS)
    assert (await admin.get(f"/api/v1/requests/{rid}")).json()["status"] == "awaiting_dispatch"

    # 3. Two directors have tomorrow's board open; the first drags the job onto the master's lane.
    board_path = f"/board?city_id={city.id}&day=tomorrow"
    one = await open_page(browser, server, first.login, board_path)
    two = await open_page(browser, server, second.login, board_path)
    for board in (one, two):
        await stream_open(board)
        await board.locator(f'.tray [data-id="{rid}"]').wait_for(timeout=WAIT_MS)
    await axe_check(one)
    card = one.locator(f'.tray [data-id="{rid}"] .job-where')
    lane = one.locator(f'.lane-track[data-master="{master.id}"]')
    start, target = await card.bounding_box(), await lane.bounding_box()
    assert start is not None and target is not None
    await drag(one, (start["x"] + 10, start["y"] + 5), (target["x"] + 200, target["y"] + target["height"] / 2))
    in_lane = f'.lane-track[data-master="{master.id}"] [data-id="{rid}"]'
    await one.wait_for_selector(in_lane, timeout=WAIT_MS)
    await two.wait_for_selector(in_lane, timeout=WAIT_MS)  # the other board followed by itself
    assert await two.locator(f'.tray [data-id="{rid}"]').count() == 0
    offered = (await admin.get(f"/api/v1/requests/{rid}")).json()
    assert (offered["status"], offered["master_id"]) == ("awaiting_acceptance", master.id)

    # 4. The master, on a phone: accept, on my way, start, the money, a BSO photo, complete.
    phone = await open_page(browser, server, master.login, "/my?tab=upcoming", PHONE)
    job = phone.locator(f"#job-{rid}")
    await job.wait_for(timeout=WAIT_MS)
    await no_sideways_scrolling(phone)
    await axe_check(phone)
    for label, status in (("Принять", "accepted"), ("Выехал", "en_route"), ("Начать работу", "in_progress")):
        await job.locator("button.primary.big").filter(has_text=label).click()
        await phone.locator(f"#job-{rid}[data-status={status}]").wait_for(timeout=WAIT_MS)
    await job.locator("a[data-kind=complete]").click()
    await phone.locator("#complete-submit").wait_for()
    assert await phone.locator("#complete-submit").is_disabled()  # no BSO photo yet
    await phone.fill("#f-result", "4500")
    await phone.fill("#f-expenses", "800")
    expected = money.compute(Decimal("4500"), Decimal("800"), Decimal("0.50"))
    handover = RU.money(expected.master_handover)
    await phone.locator("[data-handover]", has_text=handover).wait_for(timeout=WAIT_MS)
    await phone.set_input_files(
        "#pick-bso", files=[{"name": "IMG_0042.png", "mimeType": "image/png", "buffer": png(1200, 900, seed=42)}]
    )
    await phone.locator("#complete-submit:enabled").wait_for(timeout=WAIT_MS)
    await no_sideways_scrolling(phone)
    await axe_check(phone)
    await phone.locator("#complete-submit").click()
    await phone.locator(f"#job-{rid}[data-status=done]").wait_for(timeout=WAIT_MS)
    done = (await admin.get(f"/api/v1/requests/{rid}")).json()
    assert done["status"] == "done"
    assert Decimal(done["master_handover"]) == expected.master_handover
    assert [f["kind"] for f in done["files"]] == ["bso"]

    # 5. The request card: the money and the history.
    card_page = one
    await card_page.goto(f"{server.url}/requests/{rid}")
    body_text = await card_page.locator("main").inner_text()
    for figure in (RU.money(expected.net_amount), handover, RU.money(Decimal("4500"))):
        assert figure in body_text, figure
    timeline = card_page.locator("#history .timeline")
    titles = await timeline.locator(".ev-title").all_inner_texts()
    moves = [
        ("Новая", "Ожидает"),
        ("Ожидает", "Ожидает принятия"),
        ("Ожидает принятия", "Принял"),
        ("Принял", "В пути"),
        ("В пути", "В работе"),
        ("В работе", "Готово"),
    ]
    for frm, to in moves:
        assert any(f"{frm} → {to}" in title for title in titles), (frm, to, titles)
    await axe_check(card_page)
    for page in (intake, one, two, phone):
        assert page.failures == [], page.failures
