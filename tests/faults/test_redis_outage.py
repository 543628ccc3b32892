"""Redis killed under load (SPEC §9, §13): a real server process on a private ``redis-server`` keeps answering every
request of a concurrent load while Redis is gone (the cache, the rate limits, the lockout and the event bus fall
back), goes on when Redis is back, and returns to it. (tests/observability/test_redis_outage.py is the sequential,
in-process version with the fallback counters.)"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import serving
from tests.faults.load import API, Load, check_consistency, summary
from tests.support.redis_server import PrivateRedis

pytestmark = pytest.mark.slow

WARM_S = 1.5
OUTAGE_S = 2.5
# Redis is tried again 5 s after its last failure (platform.cache, platform.ratelimit), the kill: 2.5 s after the
# restart. A stale pooled connection failing one more command would add another 5 s rest (platform.redis retries).
BACK_S = 6.0
AFTER_S = 1.0


async def test_no_request_fails_while_redis_is_killed_and_restarted(
    database_url: str, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    async with serving(database_url, tmp_path, redis_url=private_redis.url, redis_prefix="faults") as service:
        load = Load(service.scenario, clients=8)
        admin = {"Authorization": f"Bearer {service.scenario.admin}"}
        async with httpx.AsyncClient(base_url=service.server.url, headers=admin, timeout=10) as client:

            async def backend() -> str:
                answer = await client.get(f"{API}/admin/cache")
                assert answer.status_code == 200, answer.text
                return str(answer.json()["backend"])

            assert await backend() == "redis"
            load.start()
            await asyncio.sleep(WARM_S)
            killed = time.monotonic()
            private_redis.stop()  # SIGKILL: no goodbye to the clients
            await asyncio.sleep(OUTAGE_S)
            assert await backend() == "memory (Redis unavailable)"
            restarted = time.monotonic()
            private_redis.start()
            deadline = restarted + BACK_S
            while await backend() != "redis":
                assert time.monotonic() < deadline, "the service did not go back to Redis:\n" + "\n".join(
                    service.log.read_text().splitlines()[-40:]
                )
                await asyncio.sleep(0.25)
            back = time.monotonic()
            await asyncio.sleep(AFTER_S)
            await load.stop()

        failed = [c for c in load.calls if not c.ok]
        assert not failed, f"{summary(failed)}: {[str(c) for c in failed[:10]]}"
        during = load.between(killed, restarted)
        after = [c for c in load.calls if c.started >= restarted]
        assert len(during) >= 20 and len(after) >= 20, (summary(during), summary(after))
        assert any(c.name == "sign-in" for c in during), "sign-ins (the lockout, the sign-in limit) went on too"
        counts = await check_consistency(load)
        assert counts["acknowledged"] == sum(1 for a in load.attempts if a.create_status == 201) > 0
        print(
            f"\nredis outage: {summary(load.calls)}; while down {summary(during)}; after the restart "
            f"{summary(after)}; back on Redis {(back - restarted) * 1000:.0f} ms after its start; {counts}"
        )
