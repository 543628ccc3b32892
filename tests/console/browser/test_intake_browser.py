"""The intake page in a real browser against a real ``leadflow serve``: a signed Mango call appears live without a
reload (and is announced), then the operator books it with the keyboard only; the page passes the axe check."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import PASSWORD, Harness
from tests.console.browser.support import API_KEY, API_SALT, FORM, axe_check, mango_call
from tests.requests.helpers import url

# Resolves once htmx has settled no swap for 300 ms (a refetch still on its way restarts the wait).
SETTLED = """() => new Promise((resolve) => {
  let timer;
  const quiet = () => { clearTimeout(timer); timer = setTimeout(() => resolve(true), 300); };
  document.body.addEventListener("htmx:afterSettle", quiet);
  quiet();
})"""

LINE = "79584440077"


@pytest.fixture
def server(serve: Any) -> Any:
    return serve(mango_api_key=API_KEY, mango_api_salt=API_SALT)


async def test_a_call_appears_live_and_is_booked_with_the_keyboard(h: Harness, server: Any, browser: Any) -> None:

    admin = await h.as_user(await h.user("admin"))
    city = await h.city("Москва")
    made = await admin.post("/api/v1/campaigns", json={"city_id": city.id, "name": "Avito", "phone": LINE})
    assert made.status_code == 201, made.text
    operator = await h.user("operator", cities=[city.id])
    await h.user("master", master_city=city.id)

    page = await browser.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    await page.goto(f"{server.url}/intake")
    await page.fill("#login", operator.login)
    await page.fill("#password", PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"^[^?]*/intake$"))
    assert await page.locator("[data-row]").count() == 0
    # the live stream is open before the call comes (the SSE extension's EventSource on <main>)
    await page.wait_for_function(
        "() => { const d = document.querySelector('main')['htmx-internal-data'];"
        " return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); }",
        timeout=10_000,
    )

    async def call(caller: str) -> None:
        path, body = mango_call(caller, LINE)
        async with httpx.AsyncClient(base_url=server.url) as client:
            answer = await client.post(path, content=body, headers=FORM)
        assert answer.status_code == 200, answer.text

    await call("79161234567")
    row = page.locator("[data-row]", has_text="+7 916 123-45-67")
    await row.wait_for(timeout=10_000)
    # live, without a reload (the page was never navigated again); the latency itself is bench/intake_latency.py's
    assert page.url.endswith("/intake")
    await page.wait_for_function("() => document.querySelector('#announce').textContent.length > 0")
    assert await page.locator("#announce").text_content() == "Новый звонок: +7 916 123-45-67, Москва"
    await expect(page.locator("[data-counter=new]")).to_have_text("1")
    await axe_check(page)

    # keyboard only: j focuses the row; a refresh of the list (another call) keeps that row focused
    await page.keyboard.press("j")
    first_id = await page.evaluate("document.activeElement.dataset.id")
    assert first_id is not None
    await call("79035550001")
    await page.locator("[data-row]", has_text="+7 903 555-00-01").wait_for()
    # A call announces itself twice (the call, then its request); when the two arrive more than the refetch's delay
    # apart, the queue is fetched twice. Wait until it has been quiet, so the focus is checked on the settled list
    # (a key pressed meanwhile is not lost: the test below).
    await page.wait_for_function(SETTLED)
    assert await page.evaluate("document.activeElement.dataset.id") == first_id
    # 1 opens the focused row's booking form, the fields are typed, Enter books it
    await page.keyboard.press("1")
    await page.locator("#panel form").wait_for()
    assert await page.locator("#panel h2").text_content() == f"Оформление #{first_id} · +7 916 123-45-67"
    assert await page.evaluate("document.activeElement.id") == "f-client_name"
    await page.keyboard.type("Иван Петров")
    await page.keyboard.press("Tab")
    await page.keyboard.type("ул. Ленина, 1")
    # a call arriving while the operator types changes the list, not the form nor the focus
    await call("79035550002")
    await page.locator("[data-row]", has_text="+7 903 555-00-02").wait_for()
    assert await page.evaluate("document.activeElement.id") == "f-address"
    await page.keyboard.type(", кв. 5")
    assert await page.locator("#f-client_name").input_value() == "Иван Петров"
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "f-visit_at"
    visit = (dt.datetime.now(ZoneInfo("Europe/Moscow")) + dt.timedelta(days=1)).replace(hour=11, minute=30)
    await page.locator("#f-visit_at").fill(visit.strftime("%Y-%m-%dT%H:%M"))  # a datetime-local takes no typing
    await page.locator("#load").get_by_text("Test Master").wait_for()
    await axe_check(page)
    await page.locator("#f-address").focus()
    await page.keyboard.press("Enter")
    await page.locator("#panel [data-done]").wait_for()
    await page.locator(f"[data-row][data-id='{first_id}']").wait_for(state="detached")
    await expect(page.locator("[data-counter=new]")).to_have_text("2")

    # the phone size: nothing scrolls sideways
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.reload()
    await page.locator("[data-row]").first.wait_for()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await axe_check(page)

    [lead] = (await admin.get("/api/v1/requests", params={"q": "79161234567"})).json()["items"]
    stored = (await admin.get(url(lead["id"]))).json()
    assert stored["status"] == "awaiting_dispatch"
    assert (stored["client_name"], stored["address"], stored["source"]) == (
        "Иван Петров",
        "ул. Ленина, 1, кв. 5",
        "telephony",
    )
    local = dt.datetime.fromisoformat(stored["visit_at"].replace("Z", "+00:00")).astimezone(ZoneInfo("Europe/Moscow"))
    assert (local.date(), local.hour, local.minute) == (visit.date(), 11, 30)


async def test_a_key_pressed_while_the_queue_is_being_refreshed_is_not_lost(
    h: Harness, server: Any, browser: Any
) -> None:
    """The row's actions are not queued behind the queue's own refetches (its hx-sync is not inherited): "1" pressed
    while two refreshes are on their way (a call announces itself twice) still opens the booking form."""
    admin = await h.as_user(await h.user("admin"))
    city = await h.city("Москва")
    made = await admin.post("/api/v1/campaigns", json={"city_id": city.id, "name": "Avito", "phone": LINE})
    assert made.status_code == 201, made.text
    operator = await h.user("operator", cities=[city.id])
    path, body = mango_call("79161234567", LINE)
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.post(path, content=body, headers=FORM)).status_code == 200

    page = await browser.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    await page.goto(f"{server.url}/intake")
    await page.fill("#login", operator.login)
    await page.fill("#password", PASSWORD)
    await page.keyboard.press("Enter")
    await page.locator("[data-row]").first.wait_for()
    await page.keyboard.press("j")
    row_id = await page.evaluate("document.activeElement.dataset.id")
    assert row_id is not None

    async def slow_rows(route: Any) -> None:  # a busy network: each refetch of the queue takes 800 ms
        await page.wait_for_timeout(800)
        await route.continue_()

    await page.route(re.compile(r"/intake/rows"), slow_rows)
    await page.evaluate(
        "() => { document.body.dispatchEvent(new Event('intake-refresh'));"
        " setTimeout(() => document.body.dispatchEvent(new Event('intake-refresh')), 50); }"
    )
    await page.wait_for_timeout(150)  # the first refetch is on its way, the second waits for it
    await page.keyboard.press("1")
    await page.locator("#panel form").wait_for(timeout=5_000)
    assert await page.locator("#panel h2").text_content() == f"Оформление #{row_id} · +7 916 123-45-67"
    await page.wait_for_function(SETTLED)
    assert await page.locator("#panel form").count() == 1, "the queue's refresh left the form alone"
