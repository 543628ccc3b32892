"""PostgreSQL restarted under load (SPEC §13): while the database is down every request fails fast with 503
``database-unavailable``; once it is back the same server process answers 2xx again within seconds; nothing it
acknowledged is lost and nothing it refused is half-written."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.faults.conftest import serving
from tests.faults.load import API, PROBLEM, Load, check_consistency, recovered_after, summary
from tests.support.postgres_server import PrivatePostgres

pytestmark = pytest.mark.slow

WARM_S = 2.5
OUTAGE_S = 3.0
FAST_S = 1.0  # no answer while the database is stopping, down or starting takes longer
RECOVERY_S = 5.0  # from the database's start, every request answers 2xx again within this
AFTER_S = 2.0  # load kept up after the recovery, all of it 2xx
DONE_S = 20.0  # at most this much more load until a request is done
CACHED_READS = {"list", "me", "balance", "get"}  # the load's reads (tests.faults.load.Load._reads)


async def test_requests_fail_fast_during_the_outage_and_recover(
    private_postgres: PrivatePostgres, tmp_path: Path
) -> None:
    async with serving(private_postgres.url, tmp_path) as service:
        server = service.server
        load = Load(service.scenario, clients=8)
        load.start()
        await asyncio.sleep(WARM_S)
        stopping = time.monotonic()
        await asyncio.to_thread(private_postgres.stop)  # pg_ctl stop -m fast: every session is ended
        down = time.monotonic()
        await asyncio.sleep(OUTAGE_S)
        starting = time.monotonic()
        await asyncio.to_thread(private_postgres.start)
        up = time.monotonic()
        for _ in range(int(RECOVERY_S / 0.1)):
            if recovered_after(load.calls, up) is not None:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(AFTER_S)
        # ... and until some request went the whole way to done (its handover transaction), however busy the machine.
        for _ in range(int(DONE_S / 0.1)):
            if any(a.acknowledged == "done" for a in load.attempts):
                break
            await asyncio.sleep(0.1)
        await load.stop()

        # A restart while the service is idle costs no request at all: a pooled connection is tried before use.
        await asyncio.to_thread(private_postgres.stop)
        await asyncio.to_thread(private_postgres.start)
        async with load.client() as client:
            quiet = await asyncio.gather(*(load.call(client, "quiet", "GET", f"{API}/auth/me") for _ in range(8)))
        assert all(answer is not None and answer.status_code == 200 for answer in quiet)
        assert server.process.poll() is None, "the service is the same process throughout"

        uncompleted = [c for c in load.calls if c.status is None]
        assert not uncompleted, f"calls without a complete answer: {summary(uncompleted)}"
        load.calls = [c for c in load.calls if c.name != "quiet"]
        before = [c for c in load.calls if c.ended < stopping]
        assert before and all(c.ok for c in before), summary(before)

        # From the first moment of the shutdown until the server is started again: 2xx (a call the database still
        # answered) or 503 database-unavailable, problem+json, fast; no 500, no hang.
        outage = [c for c in load.calls if c.ended > stopping and c.started < up]
        refused = [c for c in outage if not c.ok]
        assert all(c.status == 503 and c.problem_type == "database-unavailable" for c in refused), summary(refused)
        assert all(c.content_type.startswith(PROBLEM) for c in refused)
        assert max(c.elapsed for c in outage) < FAST_S, summary(outage)
        # While it is down nothing is written, and a read answers 2xx only from the cache (the caller remembered, the
        # page cached since the last write: current, since no write can happen meanwhile); everything else is 503.
        down_calls = load.between(down, starting)
        answered = [c for c in down_calls if c.ok]
        assert len(down_calls) - len(answered) >= 20, summary(down_calls)
        assert {c.name for c in answered} <= CACHED_READS, f"answered without a database: {summary(answered)}"

        recovered = recovered_after(load.calls, up)
        after = [c for c in load.calls if c.started >= up]
        assert recovered is not None, f"no recovery: {summary(after)}"
        assert recovered - up < RECOVERY_S, summary(after)
        assert len([c for c in after if c.ok]) >= 20, summary(after)

        counts = await check_consistency(load)
        assert counts["acknowledged"] > 0 and counts["done"] > 0, counts
        print(
            f"\npostgres restart: before {summary(before)}; outage {summary(outage)}; down {summary(down_calls)} "
            f"(from the cache: {sorted({c.name for c in answered})}); "
            f"recovered {(recovered - up) * 1000:.0f} ms after the start; after {summary(after)}; {counts}"
        )
        assert server.stop() == 0
