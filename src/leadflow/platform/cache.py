"""One cache (SPEC §9): Redis when configured, an in-process store otherwise or while Redis is failing.

- **Keys** are a namespace plus a digest of everything the answer depends on (the report, its period, the cities of
  the caller's scope, ...), never a URL. Values are JSON; nothing is unpickled.
- **Invalidation by tags.** An entry records the generation of each tag it depends on (``city:7``, ``reports``,
  ``ref:cities``); a write bumps the generations of its tags, and an entry whose recorded generations differ is a
  miss. With Redis the generations live in Redis, so a bump is seen by every process at once; each bump is also
  published (pub/sub) so that every process drops what its in-process store holds for those tags.
- **Which writes bump which tags** is declared by the domains that cache (:func:`invalidated_by`): a committed write
  to a table names its tags from the rows it touched, and :class:`TrackedSession` bumps them before ``commit()``
  returns, so the writer's next read never sees the old answer.
- **Fallback.** A Redis error switches this process to its in-process store (logged, counted) and Redis is tried
  again after a few seconds. Tags bumped meanwhile are replayed to Redis when it is back, so no process is left
  reading an entry that a write made stale during the outage.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import structlog
from prometheus_client import Counter, Gauge
from redis.asyncio import Redis

from leadflow import __version__
from leadflow.platform.redis import Listener

log = structlog.get_logger("leadflow.cache")

HITS = Counter("leadflow_cache_hits_total", "Cache hits.", ["namespace"])
MISSES = Counter("leadflow_cache_misses_total", "Cache misses (computed and stored).", ["namespace"])
FALLBACKS = Counter("leadflow_cache_fallbacks_total", "Cache operations Redis failed and the in-process cache served.")
INVALIDATIONS = Counter("leadflow_cache_invalidations_total", "Cache tags invalidated by writes.")
# Labelled so that a deployment without Redis exports no sample at all (rather than a 0 an alert would page on).
REDIS_UP = Gauge(
    "leadflow_redis_up",
    "1 while the cache reaches Redis, 0 while it runs on its in-process fallback.",
    ["client"],
    multiprocess_mode="livemin",
).labels("cache")

RETRY_REDIS_AFTER_S = 5.0
GENERATION_TTL_S = 7 * 24 * 3600  # far longer than any entry lives
MEMORY_MAX_ENTRIES = 10_000
REMEMBER_S = 600  # how long Cache.remember keeps an object at most
RECENT_S = 10  # how long after a write its tags count as "just written": answers are then read from the primary
M = TypeVar("M")
# The generations one HTTP request has read (Cache.generations), set up by request_scope(); None outside a request.
SEEN: ContextVar[dict[str, int] | None] = ContextVar("cache_generations_seen", default=None)


def request_scope() -> None:
    """Start a request's own view of the generations (called by the HTTP edge for each request)."""
    SEEN.set({})


PREFER_PRIMARY: ContextVar[bool] = ContextVar("prefer_primary", default=False)


# Which writes invalidate what -------------------------------------------------------------------------------------
Tagger = Callable[[Any], Iterable[str]]
_TAGGERS: dict[str, dict[Tagger, None]] = {}  # per table, its taggers in declaration order (a dict as an ordered set)


def invalidated_by(table: str, tagger: Tagger) -> None:
    """Declare that a committed write to ``table`` invalidates ``tagger(row)``. For a bulk statement (an
    ``INSERT … ON CONFLICT`` or ``UPDATE … WHERE`` without ORM rows) ``row`` is None: name the coarse tags.
    Declaring the same tagger (the same function object) for a table again changes nothing."""
    _TAGGERS.setdefault(table, {})[tagger] = None


def tags_of(table: str, row: Any) -> set[str]:
    return {tag for tagger in _TAGGERS.get(table, ()) for tag in tagger(row)}


# Entries ----------------------------------------------------------------------------------------------------------
TEXT_MARK = "\x1e"  # a text value (a page as sent) is stored as it is after its generations: no escaping, no parsing


def _encode(entry: dict[str, Any]) -> str:
    """An entry as stored: ``{"g": [...], "v": value}`` as JSON, or for a text value ``[...]<mark>text``."""
    if isinstance(entry["v"], str):
        return json.dumps(entry["g"], separators=(",", ":")) + TEXT_MARK + entry["v"]
    return json.dumps(entry, separators=(",", ":"))


def _decode(raw: str | bytes) -> tuple[list[int], Any]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    if text.startswith("["):
        head, _, value = text.partition(TEXT_MARK)
        return list(json.loads(head)), value
    entry = json.loads(text)
    return list(entry["g"]), entry["v"]


# Stores -----------------------------------------------------------------------------------------------------------
class MemoryStore:
    """A bounded in-process store with per-entry expiry (least recently used out first)."""

    def __init__(self, max_entries: int = MEMORY_MAX_ENTRIES) -> None:
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._bumped_at: dict[str, float] = {}
        self._max = max_entries

    def get(self, key: str) -> str | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] < time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return found[1]

    def set(self, key: str, value: str, ttl_s: float) -> None:
        self._entries[key] = (time.monotonic() + ttl_s, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def generations(self, tags: list[str]) -> list[int]:
        return [self._generations.get(tag, 0) for tag in tags]

    def bump(self, tags: Iterable[str]) -> None:
        now = time.monotonic()
        for tag in tags:
            self._generations[tag] = self._generations.get(tag, 0) + 1
            self._bumped_at[tag] = now

    def recently_bumped(self, tags: list[str]) -> bool:
        horizon = time.monotonic() - RECENT_S
        return any(self._bumped_at.get(tag, 0.0) > horizon for tag in tags)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


@dataclass
class Stats:
    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    invalidations: int = 0


class Cache:
    def __init__(self, redis: Redis | None, prefix: str, ttl_s: int) -> None:
        self._redis = redis
        # The version is part of every key: a deploy that changes an answer's shape never reads the old shape.
        self._prefix = f"{prefix}:cache:{__version__}"
        self._channel = f"{prefix}:cache:invalidate"
        self.ttl_s = ttl_s
        self._memory = MemoryStore()
        self._down_until = 0.0
        self._dirty: set[str] = set()  # tags bumped while Redis was away, replayed when it is back
        self._flights: dict[str, asyncio.Future[Any]] = {}
        self._objects: OrderedDict[Hashable, tuple[list[int], float, Any]] = OrderedDict()  # see remember()
        # Whatever was published while this process was not listening is lost: start clean at each subscription.
        self._listener = Listener(
            redis, self._channel, lambda data: self._memory.bump(json.loads(data)), on_subscribed=self._memory.clear
        )
        self.stats = Stats()
        if redis is not None:
            REDIS_UP.set(1)

    # State ------------------------------------------------------------------------------------------------------
    @property
    def backend(self) -> str:
        if self._redis is None:
            return "memory"
        return "redis" if self._redis_usable() else "memory (Redis unavailable)"

    def _redis_usable(self) -> bool:
        return self._redis is not None and time.monotonic() >= self._down_until

    def _failed(self, operation: str, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            log.warning("cache_fallback", operation=operation, error=type(exc).__name__)
        self._down_until = time.monotonic() + RETRY_REDIS_AFTER_S
        self.stats.fallbacks += 1
        FALLBACKS.inc()
        REDIS_UP.set(0)

    async def _redis_call(self, operation: str, call: Callable[[Redis], Awaitable[Any]]) -> tuple[bool, Any]:
        """``(True, result)`` from Redis, or ``(False, None)`` when Redis is not configured, resting or failing."""
        if self._redis is None or not self._redis_usable():
            if self._redis is not None:
                self.stats.fallbacks += 1
                FALLBACKS.inc()
            return False, None
        try:
            if self._dirty:
                await self._replay()
            result = await call(self._redis)
            REDIS_UP.set(1)
            return True, result
        except Exception as exc:  # Redis away: answer from the in-process store rather than fail the request
            self._failed(operation, exc)
            return False, None

    async def _replay(self) -> None:
        assert self._redis is not None
        tags, self._dirty = sorted(self._dirty), set()
        try:
            await self._bump_redis(self._redis, tags)
        except Exception:
            self._dirty.update(tags)
            raise
        REDIS_UP.set(1)
        log.info("cache_redis_restored", replayed_tags=len(tags))

    # Keys -------------------------------------------------------------------------------------------------------
    def key(self, namespace: str, parts: dict[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:40]
        return f"{self._prefix}:{namespace}:{digest}"

    def _generation_key(self, tag: str) -> str:
        return f"{self._prefix}:gen:{tag}"

    def _recent_key(self, tag: str) -> str:
        return f"{self._prefix}:recent:{tag}"

    # Reading and writing ----------------------------------------------------------------------------------------
    async def get_or_compute(
        self,
        namespace: str,
        parts: dict[str, Any],
        tags: Iterable[str],
        compute: Callable[[], Awaitable[Any]],
        *,
        ttl_s: int | None = None,
        store: Callable[[Any], bool] = lambda _: True,
    ) -> Any:
        """The cached JSON value for ``parts``, or ``compute()`` stored under the current generations of ``tags``
        (unless ``store(value)`` says no, e.g. for a partial answer). Concurrent misses of one key in this process
        compute once."""
        key, tag_list = self.key(namespace, parts), sorted(set(tags))
        value, generations, recent = await self._read(key, tag_list)
        if value is not None:
            self.stats.hits[namespace] = self.stats.hits.get(namespace, 0) + 1
            HITS.labels(namespace).inc()
            return value
        self.stats.misses[namespace] = self.stats.misses.get(namespace, 0) + 1
        MISSES.labels(namespace).inc()
        # A caller joins a computation of the same key only if it started after the same writes (same generations):
        # one that started before a write would hand the writer the old answer.
        flight_key = f"{key}:{generations}"
        flight = self._flights.get(flight_key)
        if flight is not None:
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # this caller was cancelled
                # The computing caller was cancelled (a timeout, a shutdown), not this one: compute it here.
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flights.setdefault(flight_key, future)
        # Right after a write a replica may not have it yet: read from the primary then (Database.read_session).
        token = PREFER_PRIMARY.set(recent)
        try:
            value = await compute()
            future.set_result(value)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a flight nobody else joined must not warn
            raise
        finally:
            PREFER_PRIMARY.reset(token)
            if self._flights.get(flight_key) is future:
                del self._flights[flight_key]
        if store(value):
            await self._write(key, {"g": generations, "v": value}, ttl_s or self.ttl_s)
        return value

    async def generations(self, tags: list[str], *, ahead: Iterable[str] = ()) -> list[int] | None:
        """The current generations of ``tags``: from Redis when it is configured (every process's writes), from this
        process otherwise; None while a configured Redis is failing, when another process's write may be unseen.

        Within one HTTP request (see :func:`request_scope`) a tag's generation is read from Redis once: the request
        sees the generations as they were when it first asked, and its own writes (:meth:`invalidate`) drop what they
        bump. ``ahead`` names tags the request will ask for next, read in the same round trip."""
        if self._redis is None:
            return self._memory.generations(tags)
        seen = SEEN.get()
        wanted = [t for t in dict.fromkeys([*tags, *ahead]) if seen is None or t not in seen]
        if wanted:
            ok, found = await self._redis_call("read", lambda r: r.mget([self._generation_key(t) for t in wanted]))
            if not ok:
                return None
            read = dict(zip(wanted, (int(g) if g is not None else 0 for g in found), strict=True))
            if seen is None:
                return [read[t] for t in tags]
            seen.update(read)
        assert seen is not None
        return [seen[t] for t in tags]

    async def remember(
        self, key: Hashable, tags: list[str], load: Callable[[], Awaitable[M]], *, ahead: Iterable[str] = ()
    ) -> M:
        """An immutable object ``load()`` made, kept in this process (not serialized) while the generations of
        ``tags`` stay the same: the signed-in user, the runtime settings. Each call reads the generations (one Redis
        round trip, or none without Redis), so a write in any process is seen by the next call; while a configured
        Redis is failing, every call loads afresh."""
        generations = await self.generations(tags, ahead=ahead)
        if generations is not None:
            found = self._objects.get(key)
            if found is not None and found[0] == generations and found[1] > time.monotonic():
                self._objects.move_to_end(key)
                return cast(M, found[2])
        value = await load()  # generations were read first: a write meanwhile makes this entry stale, never fresh
        if generations is not None:
            # Kept at most a while: a generation Redis forgot (GENERATION_TTL_S) starts again from 0.
            self._objects[key] = (generations, time.monotonic() + REMEMBER_S, value)
            self._objects.move_to_end(key)
            while len(self._objects) > MEMORY_MAX_ENTRIES:
                self._objects.popitem(last=False)
        return value

    def forget(self, key: Hashable) -> None:
        """Drop a remembered object (its loader found it gone)."""
        self._objects.pop(key, None)

    async def peek(self, namespace: str, parts: dict[str, Any]) -> Any:
        """The cached value for ``parts`` (stored without tags), or None; never computes."""
        value, _, _ = await self._read(self.key(namespace, parts), [])
        return value

    async def put(
        self, namespace: str, parts: dict[str, Any], tags: Iterable[str], value: Any, *, ttl_s: int | None = None
    ) -> None:
        """Store ``value`` for ``parts`` now (a job refreshing what readers will ask for)."""
        tag_list = sorted(set(tags))
        key = self.key(namespace, parts)
        _, generations, _ = await self._read(key, tag_list)
        await self._write(key, {"g": generations, "v": value}, ttl_s or self.ttl_s)

    async def _read(self, key: str, tags: list[str]) -> tuple[Any, list[int], bool]:
        """The entry's value if its generations are current, the current generations, and whether any of the tags
        was bumped in the last :data:`RECENT_S` seconds."""
        names = [self._generation_key(t) for t in tags]
        recent_names = [self._recent_key(t) for t in tags]
        ok, found = await self._redis_call("read", lambda r: r.mget([key, *names, *recent_names]))
        if ok:
            raw = found[0]
            generations = [int(g) if g is not None else 0 for g in found[1 : 1 + len(tags)]]
            recent = any(r is not None for r in found[1 + len(tags) :])
        else:
            raw, generations = self._memory.get(key), self._memory.generations(tags)
            recent = self._memory.recently_bumped(tags)
        if raw is None:
            return None, generations, recent
        stored, value = _decode(raw)
        return (value if stored == generations else None), generations, recent

    async def _write(self, key: str, entry: dict[str, Any], ttl_s: int) -> None:
        raw = _encode(entry)
        ok, _ = await self._redis_call("write", lambda r: r.set(key, raw, ex=ttl_s))
        if not ok:
            self._memory.set(key, raw, ttl_s)

    # Invalidation -----------------------------------------------------------------------------------------------
    async def invalidate(self, tags: Iterable[str]) -> None:
        """Bump ``tags`` everywhere: this process's store, Redis (every process reads generations there) and, by
        pub/sub, every other process's in-process store. Never raises: a failed Redis keeps the tags for replay."""
        tag_list = sorted(set(tags))
        if not tag_list:
            return
        self.stats.invalidations += len(tag_list)
        INVALIDATIONS.inc(len(tag_list))
        self._memory.bump(tag_list)
        seen = SEEN.get()
        if seen is not None:
            for tag in tag_list:
                seen.pop(tag, None)
        if self._redis is None:
            return
        ok, _ = await self._redis_call("invalidate", lambda r: self._bump_redis(r, tag_list))
        if not ok:
            self._dirty.update(tag_list)

    async def _bump_redis(self, redis: Redis, tags: list[str]) -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for tag in tags:
                pipe.incr(self._generation_key(tag))
                pipe.expire(self._generation_key(tag), GENERATION_TTL_S)
                pipe.set(self._recent_key(tag), 1, ex=RECENT_S)
            pipe.publish(self._channel, json.dumps(tags))
            await pipe.execute()

    async def start(self) -> None:
        """Listen for other processes' invalidations (with Redis)."""
        self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()

    # Stats ------------------------------------------------------------------------------------------------------
    async def describe(self) -> dict[str, Any]:
        """What ``GET /admin/cache`` shows: this process's hits and misses, the entries stored, the backend."""
        hits, misses = sum(self.stats.hits.values()), sum(self.stats.misses.values())
        keys: int | None = len(self._memory)
        if self._redis_usable():

            async def count(redis: Redis) -> int:
                total = 0
                async for name in redis.scan_iter(match=f"{self._prefix}:*", count=1000):
                    total += not name.startswith((f"{self._prefix}:gen:".encode(), f"{self._prefix}:recent:".encode()))
                return total

            ok, counted = await self._redis_call("stats", count)
            keys = counted if ok else keys
        namespaces = sorted(set(self.stats.hits) | set(self.stats.misses))
        return {
            "backend": self.backend,
            "redis_configured": self._redis is not None,
            "hits": hits,
            "misses": misses,
            "hit_rate": f"{hits * 100 / (hits + misses):.2f}" if hits + misses else None,
            "keys": keys,
            "fallbacks": self.stats.fallbacks,
            "invalidations": self.stats.invalidations,
            "ttl_s": self.ttl_s,
            "namespaces": [
                {"namespace": n, "hits": self.stats.hits.get(n, 0), "misses": self.stats.misses.get(n, 0)}
                for n in namespaces
            ],
        }
