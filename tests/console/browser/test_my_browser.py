"""The master's phone view in a real browser (Debian's chromium driven by Playwright) against a real ``leadflow serve``,
at 390×844: accept, on my way, start, a BSO photo from the "camera" (resized and re-encoded to JPEG in the browser),
the money preview equal to the domain's, complete; no sideways scrolling; axe finds nothing serious."""

from __future__ import annotations

import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadflow.console.i18n import Translator
from leadflow.requests import money
from tests.conftest import PASSWORD, Harness
from tests.console.browser.support import ARGS, PHONE, axe_check, no_sideways_scrolling
from tests.console.test_my import soon
from tests.files.helpers import png
from tests.requests.helpers import Team, reach, team, url


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame segment."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    at = 2
    while at < len(data):
        marker, length = data[at + 1], struct.unpack(">H", data[at + 2 : at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    raise AssertionError("no frame header in the JPEG")


@pytest.fixture
async def scene(h: Harness) -> tuple[Team, dict[str, Any]]:
    t = await team(h)
    visit = soon(0.5)  # on today's date in the city, whatever the hour
    job = await reach(t, "awaiting_acceptance", visit_at=visit, problem="Не сливает воду стиральная машина")
    return t, job


async def test_the_master_takes_a_job_from_offer_to_done_on_a_phone(
    h: Harness, chromium: Path, serve: Any, scene: tuple[Team, dict[str, Any]]
) -> None:
    from playwright.async_api import async_playwright, expect

    t, job = scene
    server = serve()
    rid = job["id"]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(chromium), args=ARGS)
        context = await browser.new_context(viewport=PHONE, locale="ru-RU", has_touch=True, is_mobile=True)
        page = await context.new_page()
        await page.goto(f"{server.url}/my")
        await page.fill("input[name=login]", t.master_user.login)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        card = page.locator(f"#job-{rid}")
        await expect(card).to_be_visible()
        await no_sideways_scrolling(page)
        await axe_check(page)

        # Live: a job the director offers through the server appears without a reload.
        offered = await reach(t, "awaiting_dispatch", visit_at=soon(1))
        async with httpx.AsyncClient(base_url=server.url, headers=dict(t.director.headers)) as office:
            body = {"to": "awaiting_acceptance", "version": offered["version"], "master_id": t.master_id}
            assert (await office.post(url(offered["id"], "/transitions"), json=body)).status_code == 200
        await expect(page.locator(f"#job-{offered['id']}[data-status=awaiting_acceptance]")).to_be_visible()

        # The next step is always the one big button.
        for label, status in (("Принять", "accepted"), ("Выехал", "en_route"), ("Начать работу", "in_progress")):
            await card.locator("button.primary.big").filter(has_text=label).click()
            await expect(page.locator(f"#job-{rid}[data-status={status}]")).to_be_visible()
        assert (await t.director.get(url(rid))).json()["status"] == "in_progress"

        await page.locator(f"#job-{rid} a[data-kind=complete]").click()
        await expect(page.locator("h1")).to_contain_text(f"№{rid}")
        submit = page.locator("#complete-submit")
        await expect(submit).to_be_disabled()

        # The money preview is the requests domain's, in the page's language.
        await page.fill("#f-result", "5000")
        await page.fill("#f-expenses", "1000.01")
        expected = money.compute(Decimal("5000"), Decimal("1000.01"), Decimal("0.50"))
        await expect(page.locator("[data-handover]")).to_have_text(Translator("ru").money(expected.master_handover))
        await expect(page.locator("[data-net]")).to_have_text(Translator("ru").money(expected.net_amount))

        # A big photo from the "camera": resized to 1600 px at most and re-encoded to JPEG before it is sent. The
        # connection is lost as it is taken: the banner shows, and the upload goes by itself once it is back.
        await context.set_offline(True)
        await page.set_input_files(
            "#pick-bso", files=[{"name": "IMG_0001.png", "mimeType": "image/png", "buffer": png(2400, 1800, seed=9)}]
        )
        await expect(page.locator("#offline")).to_be_visible()
        await expect(page.locator("[data-status-for=bso] [data-retry]")).to_be_visible()
        assert (await t.director.get(url(rid))).json()["files"] == []
        await context.set_offline(False)
        await expect(submit).to_be_enabled(timeout=15000)
        await expect(page.locator("#attachments .files li")).to_have_count(1)
        files = (await t.director.get(url(rid))).json()["files"]
        assert [(f["kind"], f["content_type"]) for f in files] == [("bso", "image/jpeg")]
        content = await t.director.get(f"/api/v1/files/{files[0]['id']}")
        assert content.status_code == 200
        width, height = jpeg_size(content.content)
        assert max(width, height) <= 1600 and (width, height) == (1600, 1200)
        await no_sideways_scrolling(page)
        await axe_check(page)

        await submit.click()
        await page.wait_for_url(f"{server.url}/my?tab=done")
        await expect(page.locator(f"#job-{rid}[data-status=done]")).to_be_visible()
        stored = (await t.director.get(url(rid))).json()
        assert stored["status"] == "done"
        assert Decimal(stored["master_handover"]) == expected.master_handover
        await browser.close()
