"""What every console browser test shares: Debian's chromium (Playwright never downloads a browser here), its flags,
the axe check, and the phone-size checks."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from tests.telephony.mango import API_KEY, API_SALT, FORM, signed_body

__all__ = ["API_KEY", "API_SALT", "FORM"]

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parents[2] / "support" / "vendor" / "axe-4.11.0.min.js"
# As root in a container with no network but loopback: no sandbox, no GPU, nothing that calls home.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


async def axe_check(page: Any) -> None:
    """No accessibility violation of impact serious or critical on the page as it is now."""
    # The page's CSP forbids inline scripts: evaluate the library instead of adding a script tag.
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate("axe.run()")
    bad = [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, bad


async def no_sideways_scrolling(page: Any, width: int = PHONE["width"]) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= width


def mango_call(caller: str, line: str) -> tuple[str, str]:
    """The path and signed form body of a new inbound call's first event, as the provider sends it (a server started
    with ``mango_api_key=API_KEY, mango_api_salt=API_SALT`` accepts it)."""
    payload = {
        "entry_id": uuid.uuid4().hex,
        "call_id": uuid.uuid4().hex,
        "timestamp": int(time.time()),
        "seq": 1,
        "call_state": "Appeared",
        "location": "ivr",
        "from": {"number": caller},
        "to": {"number": line, "line_number": line},
    }
    return "/api/v1/telephony/mango/events/call", signed_body(payload)
