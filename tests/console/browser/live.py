"""Helpers of the console's browser tests: Debian's chromium (never downloaded), a real ``leadflow serve`` with
Mango signing set, signed Mango call events, the axe check."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
AXE = Path(__file__).parents[2] / "support" / "vendor" / "axe-4.11.0.min.js"
MANGO_KEY = "browser-mango-key"
MANGO_SALT = "browser-mango-salt"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def require_chromium() -> str:
    """The browser's path; a skip locally when it is missing, a failure on the CI run with services."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return CHROMIUM
    if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
        pytest.fail(f"{CHROMIUM} is missing; the CI run installs it (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is missing")


def mango_call(caller: str, line: str, *, key: str = MANGO_KEY, salt: str = MANGO_SALT) -> tuple[str, str]:
    """The path and signed form body of a new inbound call's first event (as the provider sends it)."""
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
    text = json.dumps(payload, separators=(",", ":"))
    sign = hashlib.sha256((key + text + salt).encode()).hexdigest()
    return "/api/v1/telephony/mango/events/call", urlencode({"vpbx_api_key": key, "sign": sign, "json": text})


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe violations of the page (axe injected by evaluate: the page CSP allows no inline
    script tag)."""
    await page.evaluate(AXE.read_text(encoding="utf-8"))
    result = await page.evaluate("axe.run()")
    return [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]
