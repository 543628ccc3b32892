"""SIGTERM under load (SPEC §12, §13): ``leadflow serve`` stops accepting, lets every request in flight finish (slow
ones included: bodies still being uploaded), and exits with 0 within its drain time. A call made after the signal
may find the service closed (no answer at all): that is a refusal, counted apart, never a cut-off answer."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from tests.faults.conftest import serving
from tests.faults.load import ADMIN, Load, check_consistency, summary

pytestmark = pytest.mark.slow

GRACE_S = 10  # serve --graceful-timeout
WARM_S = 1.0
SLOW_S = 2.0  # each slow upload takes this long to send its body
SIGNAL_AFTER_S = 0.6  # after the slow uploads began


async def test_sigterm_cuts_no_request_in_flight(database_url: str, tmp_path: Path, harness_factory: Any) -> None:
    async with serving(database_url, tmp_path, args=("--graceful-timeout", str(GRACE_S))) as service:
        load = Load(service.scenario, clients=8, stop_on_refusal=True)
        load.start()
        await asyncio.sleep(WARM_S)
        uploaders = [load.client() for _ in range(4)]
        slow = [asyncio.create_task(load.slow_create(client, SLOW_S)) for client in uploaders]
        await asyncio.sleep(SIGNAL_AFTER_S)
        signalled = time.monotonic()
        service.server.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(service.server.process.wait, GRACE_S + 5)
        exited = time.monotonic()
        await asyncio.gather(*slow)
        for client in uploaders:
            await client.aclose()
        await load.stop()

    assert code == 0
    drain = exited - signalled
    assert drain < GRACE_S
    before = [c for c in load.calls if c.started < signalled]
    in_flight = [c for c in before if c.ended > signalled]
    uploads = [c for c in load.calls if c.name == "slow-create"]
    assert len(uploads) == 4 and all(c.started < signalled < c.ended for c in uploads)
    # Everything the service had when the signal came was answered, whole and as usual: the slow uploads too, which
    # it waited for (the process ended after them).
    assert all(c.ok and c.finished for c in before), summary([c for c in before if not c.ok])
    assert all(c.status == 201 and c.ended <= exited for c in uploads), summary(uploads)
    late = [c for c in load.calls if c.started >= signalled]
    answered = [c for c in late if c.responded]
    refused = [c for c in late if not c.responded]
    assert all(c.ok for c in answered), f"cut off after the signal: {summary([c for c in answered if not c.ok])}"
    assert all(c.error in {"ConnectError", "RemoteProtocolError", "ReadError"} for c in refused), summary(refused)

    # What the service acknowledged before it went is stored (read through another app on the same database).
    h = await harness_factory()
    async with h.new_client(headers={"Authorization": f"Bearer {await h.token(ADMIN)}"}) as admin:
        counts = await check_consistency(load, admin)
    print(
        f"\nsigterm: drain {drain * 1000:.0f} ms (slow uploads ended {max(c.ended for c in uploads) - signalled:.2f} s "
        f"after the signal); in flight at the signal {summary(in_flight)}; after the signal answered {summary(answered)}, refused "
        f"{summary(refused)}; {counts}"
    )
