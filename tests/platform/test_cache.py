"""The cache (SPEC §9): tags, generations, one computation per key, Redis shared by processes, the in-process
fallback while Redis is away and the hand-back (with the invalidations made meanwhile) when it returns."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio import Redis

from leadflow.platform import cache as cache_module
from leadflow.platform.cache import Cache
from leadflow.platform.redis import create_redis
from leadflow.platform.settings import Settings
from tests.support.redis_server import PrivateRedis


def counter() -> tuple[list[int], Any]:
    calls: list[int] = []

    async def compute() -> dict[str, int]:
        calls.append(1)
        await asyncio.sleep(0.01)
        return {"n": len(calls)}

    return calls, compute


async def test_hit_miss_and_tag_invalidation_in_memory() -> None:
    cache = Cache(None, "t", 60)
    _calls, compute = counter()
    first = await cache.get_or_compute("reports", {"a": 1}, ["city:1"], compute)
    again = await cache.get_or_compute("reports", {"a": 1}, ["city:1"], compute)
    assert first == again == {"n": 1}
    other = await cache.get_or_compute("reports", {"a": 2}, ["city:2"], compute)
    assert other == {"n": 2}  # another key is another entry

    await cache.invalidate(["city:1"])
    assert await cache.get_or_compute("reports", {"a": 1}, ["city:1"], compute) == {"n": 3}
    assert await cache.get_or_compute("reports", {"a": 2}, ["city:2"], compute) == {"n": 2}  # untouched
    stats = await cache.describe()
    assert stats["backend"] == "memory"
    assert (stats["hits"], stats["misses"]) == (2, 3)
    assert stats["hit_rate"] == "40.00"


async def test_concurrent_misses_of_one_key_compute_once() -> None:
    cache = Cache(None, "t", 60)
    calls, compute = counter()
    results = await asyncio.gather(*(cache.get_or_compute("m", {"k": 1}, [], compute) for _ in range(20)))
    assert len(calls) == 1
    assert all(r == {"n": 1} for r in results)


async def test_a_refused_value_is_not_stored_and_a_failure_is_not_cached() -> None:
    cache = Cache(None, "t", 60)
    calls, compute = counter()
    await cache.get_or_compute("m", {"k": 1}, [], compute, store=lambda _: False)
    await cache.get_or_compute("m", {"k": 1}, [], compute, store=lambda _: False)
    assert len(calls) == 2

    async def broken() -> Any:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await cache.get_or_compute("m", {"k": 2}, [], broken)
    assert await cache.get_or_compute("m", {"k": 2}, [], compute) == {"n": 3}


async def test_a_write_during_the_computation_makes_its_result_stale() -> None:
    """The entry is stored under the generations read before computing: an invalidation that lands meanwhile
    makes the next read a miss instead of serving what the write changed."""
    cache = Cache(None, "t", 60)
    calls: list[int] = []

    async def slow() -> int:
        calls.append(1)
        if len(calls) == 1:
            await cache.invalidate(["city:1"])  # a write commits while the report is being computed
        return len(calls)

    assert await cache.get_or_compute("r", {}, ["city:1"], slow) == 1
    assert await cache.get_or_compute("r", {}, ["city:1"], slow) == 2


async def test_redis_is_shared_and_invalidation_reaches_every_process(redis_url: str) -> None:
    prefix = f"t{id(object())}"
    one_redis, two_redis = Redis.from_url(redis_url), Redis.from_url(redis_url)
    one, two = Cache(one_redis, prefix, 60), Cache(two_redis, prefix, 60)
    await one.start()
    await two.start()
    try:
        await asyncio.sleep(0.2)  # both listening
        calls, compute = counter()
        assert await one.get_or_compute("r", {"x": 1}, ["city:5"], compute) == {"n": 1}
        assert await two.get_or_compute("r", {"x": 1}, ["city:5"], compute) == {"n": 1}  # the other process's entry
        assert len(calls) == 1
        assert (await two.describe())["backend"] == "redis"

        await one.invalidate(["city:5"])
        assert await two.get_or_compute("r", {"x": 1}, ["city:5"], compute) == {"n": 2}
        # The published bump also reached the other process's in-process generations (its fallback store).
        for _ in range(50):
            if two._memory.generations(["city:5"]) == [1]:
                break
            await asyncio.sleep(0.02)
        assert two._memory.generations(["city:5"]) == [1]
    finally:
        await one.stop()
        await two.stop()
        await one_redis.aclose()
        await two_redis.aclose()


async def test_falls_back_while_redis_is_down_and_hands_back_with_the_missed_invalidations(
    private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "RETRY_REDIS_AFTER_S", 0.2)
    writer_redis = Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    reader_redis = Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    writer, reader = Cache(writer_redis, "t", 60), Cache(reader_redis, "t", 60)
    try:
        _calls, compute = counter()
        assert await reader.get_or_compute("r", {}, ["city:1"], compute) == {"n": 1}  # stored in Redis

        private_redis.stop()
        before = cache_module.FALLBACKS._value.get()
        # Redis is gone: both keep answering from their own memory, counted.
        assert await reader.get_or_compute("r", {}, ["city:1"], compute) == {"n": 2}
        assert await reader.get_or_compute("r", {}, ["city:1"], compute) == {"n": 2}
        await writer.invalidate(["city:1"])  # a write while Redis is away
        stats = await reader.describe()
        assert stats["backend"] == "memory (Redis unavailable)"
        assert stats["fallbacks"] >= 2
        assert cache_module.FALLBACKS._value.get() > before

        private_redis.start()  # an empty Redis on the same port ... or the old one back with the old entry:
        await writer_redis.set("t:cache:probe", "1")  # the writer's client reconnects
        await asyncio.sleep(0.3)
        # The writer hands back on its next operation and replays the invalidation it made meanwhile.
        await writer.get_or_compute("other", {}, [], compute)
        assert (await writer.describe())["backend"] == "redis"
        generation = await writer_redis.get(writer._generation_key("city:1"))
        assert generation is not None and int(generation) >= 1
    finally:
        await writer_redis.aclose()
        await reader_redis.aclose()


def test_keys_never_come_from_a_url_alone() -> None:
    cache = Cache(None, "t", 60)
    assert cache.key("reports", {"report": "cities", "cities": [1]}) != cache.key(
        "reports", {"report": "cities", "cities": [2]}
    )
    assert cache.key("reports", {"b": 1, "a": 2}) == cache.key("reports", {"a": 2, "b": 1})


async def test_a_read_after_a_write_does_not_join_a_computation_that_started_before_it() -> None:
    cache = Cache(None, "t", 60)
    release = asyncio.Event()
    state = {"value": "old"}

    async def slow() -> str:
        seen = state["value"]
        await release.wait()
        return seen

    leader = asyncio.create_task(cache.get_or_compute("r", {}, ["city:1"], slow))
    await asyncio.sleep(0.01)  # the leader is computing with the old data
    state["value"] = "new"
    await cache.invalidate(["city:1"])  # the write commits

    async def fresh() -> str:
        return state["value"]

    assert await cache.get_or_compute("r", {}, ["city:1"], fresh) == "new"
    release.set()
    assert await leader == "old"


async def test_a_cancelled_computation_does_not_fail_the_callers_waiting_for_it() -> None:
    cache = Cache(None, "t", 60)
    started = asyncio.Event()

    async def slow() -> int:
        started.set()
        await asyncio.sleep(10)
        return 1

    leader = asyncio.create_task(cache.get_or_compute("r", {}, [], slow))
    await started.wait()

    async def quick() -> int:
        return 2

    follower = asyncio.create_task(cache.get_or_compute("r", {}, [], quick))
    await asyncio.sleep(0.01)
    leader.cancel()  # a shutdown or a timeout cancels the computing request
    assert await follower == 2  # the waiting caller computes it itself
    with pytest.raises(asyncio.CancelledError):
        await leader


async def test_right_after_a_write_the_computation_prefers_the_primary() -> None:
    cache = Cache(None, "t", 60)
    seen: list[bool] = []

    async def compute() -> int:
        seen.append(cache_module.PREFER_PRIMARY.get())
        return len(seen)

    await cache.get_or_compute("r", {"a": 1}, ["city:1"], compute)
    await cache.invalidate(["city:1"])
    await cache.get_or_compute("r", {"a": 1}, ["city:1"], compute)
    assert seen == [False, True]
    assert cache_module.PREFER_PRIMARY.get() is False


async def test_redis_up_returns_to_one_without_any_write_during_the_outage(
    private_redis: PrivateRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache_module, "RETRY_REDIS_AFTER_S", 0.2)
    redis = Redis.from_url(private_redis.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    cache = Cache(redis, "t", 60)
    try:
        _, compute = counter()
        await cache.get_or_compute("r", {}, [], compute)
        private_redis.stop()
        await cache.get_or_compute("r", {}, [], compute)
        assert cache_module.REDIS_UP._value.get() == 0
        private_redis.start()
        await asyncio.sleep(0.3)
        for _ in range(20):
            await cache.get_or_compute("r", {}, [], compute)
            if cache_module.REDIS_UP._value.get() == 1:
                break
            await asyncio.sleep(0.1)
        assert cache_module.REDIS_UP._value.get() == 1
        assert (await cache.describe())["backend"] == "redis"
    finally:
        await redis.aclose()


async def test_a_request_reads_each_generation_once_and_sees_its_own_writes(redis_url: str) -> None:
    """Within one HTTP request (request_scope) a tag's generation comes from Redis once; the request's own
    invalidation is seen at once, another process's from the next request on."""
    from leadflow.platform.cache import request_scope

    prefix = f"t{id(object())}"
    one_redis, two_redis = Redis.from_url(redis_url), Redis.from_url(redis_url)
    one, two = Cache(one_redis, prefix, 60), Cache(two_redis, prefix, 60)

    async def in_a_request() -> None:
        request_scope()
        assert await one.generations(["a"], ahead=["b"]) == [0]
        for tag in ("a", "b"):  # another process writes meanwhile (its bump, as Cache.invalidate makes it in Redis)
            await two_redis.incr(two._generation_key(tag))
        assert await one.generations(["a", "b"]) == [0, 0]  # as the request first saw them
        await one.invalidate(["b"])  # this request's own write
        assert await one.generations(["a", "b"]) == [0, 2]

    async def next_request() -> None:
        request_scope()
        assert await one.generations(["a", "b"]) == [1, 2]

    try:
        await asyncio.create_task(in_a_request())  # each task has its own context, as each request has
        await asyncio.create_task(next_request())
        assert await one.generations(["a"]) == [1]  # outside any request: read every time
    finally:
        await one_redis.aclose()
        await two_redis.aclose()


async def test_a_restarted_redis_costs_no_command_on_the_pools_stale_connections(private_redis: PrivateRedis) -> None:
    """The shared client (platform.redis) resends a command once when its pooled connection turns out to be closed,
    so a Redis restart does not fail one command per stale connection (each would put the cache back on its fallback
    for another rest period)."""
    redis = create_redis(Settings(redis_url=private_redis.url))
    assert redis is not None
    try:
        await asyncio.gather(*(redis.set(f"k{i}", i) for i in range(8)))  # eight pooled connections
        private_redis.stop()
        private_redis.start()

        async def one(i: int) -> object:
            if i % 2:
                return await redis.set(f"v{i}", "x" * 50_000, ex=60)
            async with redis.pipeline(transaction=False) as pipe:
                pipe.incr("generation")
                pipe.expire("generation", 60)
                return (await pipe.execute())[1]

        assert await asyncio.gather(*(one(i) for i in range(16))) == [True] * 16
    finally:
        await redis.aclose()
