"""The request card in a real browser against a real ``leadflow serve``: a director opens a job in progress from the
work list with the keyboard, completes it with key 1 (the money previewed by the server before saving), and sees the
history update; the call recording plays from a source that answers Range requests; the card passes an axe check.

Headless Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright; missing, the test is skipped locally and
fails on the CI run with services (``LEADFLOW_TEST_REQUIRE_SERVICES``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from leadflow.files import service as files
from leadflow.recordings import service as recordings
from tests.cli.servers import Server
from tests.conftest import PASSWORD, Harness
from tests.console.browser.support import axe_check
from tests.requests.helpers import API, make_campaign, reach, team
from tests.support.mango_mail import attachment_name, mp3_bytes

pytestmark = pytest.mark.slow

WAIT_MS = 20_000
LINE = "79584440022"


@pytest.fixture
def server(h: Harness, serve: Any) -> Server:
    # The harness's data directory: the recording stored through it is read by the server.
    assert h.settings.data_dir.name == "data"
    return serve()  # type: ignore[no-any-return]


async def add_recording(h: Harness, caller: str, request_id: int) -> None:
    """A call recording stored and linked as the mailbox sync does it (by hand when the linker did not)."""
    started = dt.datetime.now(ZoneInfo("Europe/Moscow")).replace(tzinfo=None, microsecond=0)
    name = attachment_name(started, caller, LINE)

    async def chunks() -> AsyncIterator[bytes]:
        yield mp3_bytes(frames=400)

    staged = await files.stage(chunks(), name, "recording", 10_000_000, h.settings.data_dir / "tmp")
    async with h.database.session() as session:
        windows = recordings.Windows(link=dt.timedelta(hours=2), retry=dt.timedelta(days=1))
        done = await recordings.ingest(
            session, h.app.state.storage, staged, zone="Europe/Moscow", windows=windows, source="upload"
        )
    assert done.recording is not None
    admin = await h.as_user(await h.user("admin"))
    linked = await admin.post(f"{API}/call-recordings/{done.recording.id}/link", json={"request_id": request_id})
    # the linker has usually found it by the caller's phone already
    assert linked.status_code == 200 or linked.json()["type"].endswith("/already-linked"), linked.text


async def test_complete_a_job_from_the_card_with_the_keyboard(h: Harness, server: Server, browser: Any) -> None:
    from playwright.async_api import expect

    t = await team(h)
    await make_campaign(t.admin, t.city.id, phone=LINE)
    req = await reach(t, "in_progress", client_name="Ольга Белова", address="ул. Ленина, 1")
    await add_recording(h, req["client_phone"], req["id"])
    director = await h.user("director", cities=[t.city.id])

    context = await browser.new_context(viewport={"width": 1366, "height": 900}, locale="en-GB")
    await context.add_cookies([{"name": "lang", "value": "en", "url": server.url}])
    page = await context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda e: failures.append(str(e)))
    page.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    await page.goto(f"{server.url}/login?next=/requests")
    await page.fill("#login", director.login)
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/requests", timeout=WAIT_MS)

    # the work list passes axe too; j focuses the first row, Enter opens it
    await axe_check(page)
    await page.keyboard.press("j")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/requests/{req['id']}", timeout=WAIT_MS)
    assert await page.locator("[data-status]").inner_text() == "In progress"

    # the recording plays from a source that honours Range (seeking)
    audio = page.locator("audio[controls]")
    assert await audio.count() == 1
    src = await audio.get_attribute("src")
    assert src and src.endswith("?inline=1")
    ranged = await page.request.get(f"{server.url}{src}", headers={"Range": "bytes=100-199"})
    assert ranged.status == 206
    assert ranged.headers["content-range"].startswith("bytes 100-199/")
    assert len(await ranged.body()) == 100

    await axe_check(page)  # axe on the card

    # A slow answer to an early preview (the result typed, no expenses yet) must not land over a later one: the
    # previews of both fields replace each other (hx-sync), so the last typed values win.
    async def slow_early_preview(route: Any) -> None:
        if not parse_qs(urlsplit(route.request.url).query).get("expenses"):
            await page.wait_for_timeout(1500)
        await route.continue_()

    await page.route(re.compile(r"/money\?"), slow_early_preview)

    # key 1: the first move (done) opens its form; the server previews the money before saving
    await page.keyboard.press("1")
    dialog = page.locator("#move-dialog[open]")
    await dialog.wait_for(timeout=WAIT_MS)
    await page.keyboard.type("5000")  # the first field has the focus
    await page.wait_for_timeout(400)  # a pause: the result alone is previewed (slowly, above)
    await page.keyboard.press("Tab")
    await page.keyboard.type("1234.57")
    # (5000 − 1234.57) × 0.5 = 1882.715, half-up; the preview follows the typing, so wait for the final value
    await expect(page.locator("#move-money [data-handover]")).to_have_text("1,882.72\u00a0₽", timeout=WAIT_MS)
    await expect(page.locator("#move-money [data-net]")).to_have_text("3,765.43\u00a0₽", timeout=WAIT_MS)
    await page.wait_for_timeout(1700)  # the slow early preview would have landed by now
    assert await page.locator("#move-money [data-handover]").text_content() == "1,882.72\u00a0₽"
    await page.keyboard.press("Enter")
    await page.locator('[data-status="done"]').wait_for(timeout=WAIT_MS)  # the card reloaded after the move
    first_event = page.locator("#history [data-event]").first
    assert "In progress → Done" in await first_event.inner_text()
    assert "1,882.72" in await first_event.inner_text()
    body = (await t.director.get(f"{API}/requests/{req['id']}")).json()
    assert (body["status"], body["master_handover"]) == ("done", "1882.72")
    assert failures == []
    await context.close()
