"""How long a call takes from the telephony webhook to its row on the operator's screen (issue 14: "within a second").

A real ``leadflow serve`` (its own data directory: migrated, demo data, Mango signing set) and Debian's chromium driven
by Playwright: the operator ``operator.1`` opens ``/intake``; then, one after another, ``--calls`` signed Mango call
events from new callers arrive on a demo campaign's line. For each, the time from just before the webhook POST to the
moment the page's DOM holds the new row (a MutationObserver in the page notes ``Date.now()``; the same machine's clock
as the POST's) is measured; p50, p90, p99 and the maximum are printed.

    uv run python bench/intake_latency.py --calls 50 --port 8100

Nothing is mocked: the path measured is the webhook's transaction, the notification after commit, the SSE frame, the
htmx re-fetch of the queue fragment (the scoped list service) and its swap.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from benchkit.calls import first_call_event
from playwright.async_api import async_playwright

from leadflow.telephony.mango import MangoProvider

KEY, SALT = "bench-mango-key", "bench-mango-salt"
LINE = "78005550000"  # the demo's first campaign line (Москва)
PASSWORD = "demo-Leadflow-2026"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WATCH = """() => {
  window.__seen = {};
  const note = () => {
    for (const row of document.querySelectorAll("#queue [data-row]")) {
      const key = row.dataset.announce;
      if (!(key in window.__seen)) window.__seen[key] = Date.now();
    }
  };
  note();
  new MutationObserver(note).observe(document.querySelector("#queue"), { childList: true, subtree: true });
}"""


def signed_call(caller: str) -> str:
    return MangoProvider(KEY, SALT).delivery(first_call_event(caller, LINE))


def phone_text(digits: str) -> str:
    return f"+7 {digits[1:4]} {digits[4:7]}-{digits[7:9]}-{digits[9:]}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def start(data_dir: Path, port: int, database_url: str | None) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env |= {"LEADFLOW_DATA_DIR": str(data_dir), "LEADFLOW_MANGO_API_KEY": KEY, "LEADFLOW_MANGO_API_SALT": SALT}
    env |= {"LEADFLOW_LOG_LEVEL": "WARNING", "LEADFLOW_SECRET_KEY": "bench-secret-" + "x" * 40}
    if database_url:
        env["LEADFLOW_DATABASE_URL"] = database_url
    run = [sys.executable, "-m", "leadflow"]
    subprocess.run([*run, "migrate", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([*run, "seed-demo"], env=env, check=True, capture_output=True)
    server = subprocess.Popen([*run, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    found = re.match(r"^listening on (\S+)$", server.stdout.readline().strip())
    if not found:
        server.kill()
        raise SystemExit("the server did not start")
    base = found.group(1)
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    return server, base


async def measure(base: str, calls: int, gap_s: float, chromium: str) -> list[float]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=ARGS)
        page = await browser.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
        await page.goto(f"{base}/login?next=/intake")
        await page.fill("#login", "operator.1")
        await page.fill("#password", PASSWORD)
        await page.keyboard.press("Enter")
        await page.wait_for_url(re.compile(r"^[^?]*/intake$"))
        await page.wait_for_function(  # the live stream is connected (the SSE extension's EventSource on <main>)
            "() => { const d = document.querySelector('main')['htmx-internal-data'];"
            " return !!(d && d.sseEventSource && d.sseEventSource.readyState === 1); }"
        )
        await page.evaluate(WATCH)
        latencies: list[float] = []
        fetches: list[int] = []
        async with httpx.AsyncClient(base_url=base) as client:
            for n in range(calls):
                caller = f"7917{uuid.uuid4().int % 10_000_000:07d}"
                key = f"Новый звонок: {phone_text(caller)}, Москва"
                body = signed_call(caller)
                sent_ms = time.time() * 1000
                answer = await client.post(
                    "/api/v1/telephony/mango/events/call",
                    content=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
                answer.raise_for_status()
                seen = await page.wait_for_function(f"() => window.__seen[{json.dumps(key)}]", timeout=10_000)
                latencies.append(float(await seen.json_value()) - sent_ms)
                fetches.append(
                    await page.evaluate(
                        "performance.getEntriesByType('resource').filter(e => e.name.includes('/intake/rows')).length"
                    )
                )
                print(f"call {n + 1:3d}: {latencies[-1]:7.1f} ms", file=sys.stderr)
                await asyncio.sleep(gap_s)
        await browser.close()
    print(f"queue fragment fetches: {fetches[-1]} for {calls} calls", file=sys.stderr)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between calls")
    parser.add_argument("--database-url", help="default: SQLite in a temporary data directory")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadflow-intake-bench-") as tmp:
        server, base = start(Path(tmp), args.port, args.database_url)
        try:
            latencies = asyncio.run(measure(base, args.calls, args.gap, args.chromium))
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(
        f"webhook → row on screen over {len(latencies)} calls: p50 {statistics.median(latencies):.0f} ms, "
        f"p90 {percentile(latencies, 0.90):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
        f"max {max(latencies):.0f} ms"
    )


if __name__ == "__main__":
    main()
