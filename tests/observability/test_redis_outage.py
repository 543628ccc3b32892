"""Redis stopped in the middle of a run (SPEC §9, §11): requests keep succeeding on the in-process fallbacks, the
fallback is counted, and the service goes back to Redis when it returns."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client.parser import text_string_to_metric_families

from leadflow.platform import cache as cache_module
from leadflow.platform import ratelimit
from tests.conftest import Harness
from tests.support.redis_server import PrivateRedis


def sample(text: str, name: str) -> float:
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name)


async def test_requests_keep_succeeding_while_redis_is_down(
    harness_factory: object, private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "RETRY_REDIS_AFTER_S", 0.3)
    monkeypatch.setattr(ratelimit, "RETRY_REDIS_AFTER_S", 0.3)
    h: Harness = await harness_factory(redis_url=private_redis.url)  # type: ignore[operator]
    city = await h.city()
    director = await h.as_user(await h.user("director", cities=[city.id]))
    admin = await h.as_user(await h.user("admin"))

    async def round_of_requests() -> None:
        for path in ("/api/v1/reports/cities", "/api/v1/reports/summary", "/api/v1/metrics/business", "/api/v1/cities"):
            response = await director.get(path)
            assert response.status_code == 200, (path, response.text)
        created = await director.post("/api/v1/requests", json={"city_id": city.id, "client_phone": "+79161112233"})
        assert created.status_code == 201, created.text

    await round_of_requests()
    assert (await admin.get("/api/v1/admin/cache")).json()["backend"] == "redis"
    before = sample((await h.client.get("/metrics")).text, "leadflow_cache_fallbacks_total")

    private_redis.stop()
    for _ in range(3):
        await round_of_requests()
    # What a write changed is visible at once, also on the fallback.
    report = (await director.get("/api/v1/reports/cities")).json()
    assert report["items"][0]["requests_total"] == 4
    stats = (await admin.get("/api/v1/admin/cache")).json()
    assert stats["backend"] == "memory (Redis unavailable)"
    assert stats["fallbacks"] > 0
    scraped = (await h.client.get("/metrics")).text
    assert sample(scraped, "leadflow_cache_fallbacks_total") > before
    assert sample(scraped, "leadflow_redis_up") == 0

    private_redis.start()
    await asyncio.sleep(0.4)
    for _ in range(2):
        await round_of_requests()
    assert (await admin.get("/api/v1/admin/cache")).json()["backend"] == "redis"
    assert (await director.get("/api/v1/reports/cities")).json()["items"][0]["requests_total"] == 6
    assert sample((await h.client.get("/metrics")).text, "leadflow_redis_up") == 1
