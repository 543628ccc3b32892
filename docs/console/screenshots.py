"""Takes the console screenshots of this folder from a running `make run` (demo data), in Debian's chromium.

    uv run python docs/console/screenshots.py --url http://127.0.0.1:8000

Each page at desktop (1366×900) and phone (390×844) size, signed in as the demo user whose page it is, in Russian
(the default); `--lang en` takes the English ones (suffix `-en`). Traffic goes only to the given URL.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from playwright.async_api import async_playwright

HERE = Path(__file__).parent
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
SIZES = {"desktop": {"width": 1366, "height": 900}, "phone": {"width": 390, "height": 844}}
PAGES = (  # (file name, login or None, path)
    ("login", None, "/login"),
    ("intake", "operator.1", "/intake"),
    ("requests", "director.msk", "/requests"),
    ("card", "director.msk", "first-request"),
    ("board", "director.msk", "/board"),
    ("my", "master.ivanov", "/my"),
)


async def shoot(url: str, password: str, lang: str) -> list[Path]:
    taken: list[Path] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, login, path in PAGES:
            for size, viewport in SIZES.items():
                context = await browser.new_context(viewport=viewport, locale="ru-RU" if lang == "ru" else "en-GB")
                page = await context.new_page()
                await page.goto(f"{url}/lang/{lang}?next=/login")
                if login is not None:
                    await page.fill("input[name=login]", login)
                    await page.fill("input[name=password]", password)
                    await page.click("button[type=submit]")
                    await page.wait_for_load_state("networkidle")
                if path == "first-request":
                    await page.goto(f"{url}/requests")
                    await page.locator("[data-open]").first.click()
                else:
                    await page.goto(f"{url}{path}")
                await page.wait_for_load_state("networkidle")
                suffix = "" if lang == "ru" else "-en"
                target = HERE / f"{name}-{size}{suffix}.png"
                await page.screenshot(path=str(target), full_page=size == "desktop")
                taken.append(target)
                await context.close()
        await browser.close()
    return taken


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--password", default="demo-Leadflow-2026")
    parser.add_argument("--lang", choices=("ru", "en"), default="ru")
    args = parser.parse_args()
    for path in asyncio.run(shoot(args.url, args.password, args.lang)):
        print(path.relative_to(HERE.parent.parent))


if __name__ == "__main__":
    main()
