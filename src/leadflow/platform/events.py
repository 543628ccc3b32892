"""Notifications after commit: what changed, never the data itself.

A domain declares which rows make which notification (:func:`notifies_on`), the same way it declares cache tags. Each
flush of a tracked session collects the notifications of the rows it wrote; ``commit()`` hands them to the
:class:`EventBus` after the transaction is durable, and a rollback forgets them. So a listener never hears of a write
that did not happen, and it re-reads what it shows through the services (where scope is checked once).

The bus fans out in process on the embedded default; with Redis, every process publishes to one channel and each
process fans out what it hears, so every open page hears every write wherever it was made. A Redis failure falls back
to the in-process fan-out (logged); the listener reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from leadflow.platform.redis import Listener

log = structlog.get_logger("leadflow.events")

QUEUE_SIZE = 256  # a listener that falls this far behind loses the oldest notifications (it re-fetches anyway)
CLOSING = "stream.closing"  # what a subscriber receives when the process is shutting down


@dataclass(frozen=True)
class Notification:
    """``kind`` (``request.changed``, ``call.received``, ...), the public ``data`` a page needs to decide whether to
    re-fetch, and the scope keys the stream filters on (never sent)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    city_id: int | None = None
    master_ids: tuple[int, ...] = ()  # the masters concerned: the one assigned now and the one it was taken from

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Notification:
        fields = json.loads(raw)
        fields["master_ids"] = tuple(fields.get("master_ids") or ())
        return cls(**fields)


Notifier = Callable[[Any], Iterable[Notification]]
_NOTIFIERS: dict[str, Notifier] = {}


def notifies_on(table: str, notifier: Notifier) -> None:
    """Declare that a write of a row of ``table`` makes the notifications ``notifier(row)`` returns (idempotent)."""
    _NOTIFIERS[table] = notifier


def notifications_of(table: str, row: Any) -> list[Notification]:
    notifier = _NOTIFIERS.get(table)
    return list(notifier(row)) if notifier is not None and row is not None else []


def announce(session: Any, *notifications: Notification) -> None:
    """For writes no flush sees (an ``INSERT … ON CONFLICT`` statement): sent with the session's next commit."""
    session.info.setdefault("notifications", []).extend(notifications)


def latest(notifications: Iterable[Notification]) -> list[Notification]:
    """One notification per object: a row written by several flushes of one transaction is announced once, as it
    was last written (a notification without an ``id`` is kept as it is)."""
    kept: dict[tuple[str, Any], Notification] = {}
    for position, item in enumerate(notifications):
        kept[(item.kind, item.data.get("id", f"#{position}"))] = item
    return list(kept.values())


class EventBus:
    """In-process subscribers, fed directly or through one Redis channel."""

    def __init__(self, redis: Redis | None, prefix: str) -> None:
        self._redis = redis
        self._channel = f"{prefix}:events"
        self._queues: set[asyncio.Queue[Notification]] = set()
        self._listener = Listener(redis, self._channel, lambda data: self._fan_out([Notification.from_json(data)]))
        self.closing = False

    async def start(self) -> None:
        self._listener.start()

    async def stop(self) -> None:
        await self._listener.stop()

    async def publish(self, notifications: Iterable[Notification]) -> None:
        items = list(notifications)
        if not items:
            return
        if self._redis is not None:  # every process publishes (a worker too); each web process listens
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for item in items:
                        pipe.publish(self._channel, item.to_json())
                    await pipe.execute()
                return
            except (RedisError, OSError) as exc:
                log.warning("events_publish_failed", error=type(exc).__name__)
        self._fan_out(items)  # no Redis, or it failed: this process's listeners still hear

    def _fan_out(self, items: Iterable[Notification]) -> None:
        for item in items:
            for queue in self._queues:
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()
                queue.put_nowait(item)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Notification]]:
        queue: asyncio.Queue[Notification] = asyncio.Queue(QUEUE_SIZE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    def close_streams(self) -> None:
        """Tell every subscriber the process is going away, so that open streams end and the server can drain."""
        self.closing = True
        self._fan_out([Notification(CLOSING)])


def close_streams_on_server_exit(bus: EventBus) -> None:
    """Open event streams never end by themselves, and uvicorn drains open requests on SIGTERM/SIGINT before the
    app's shutdown runs: chain the server's own signal handler so that streams are told to close first and the drain
    waits only for real requests. Only the server's handler is chained (a test process's handlers are left alone).
    Called from the app's start-up, in its event loop; the signal handler hands the closing to that loop."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(signum)
        owner = getattr(previous, "__self__", None)
        if owner is None or type(owner).__module__ != "uvicorn.server":
            continue

        def handler(sig: int, frame: Any, previous: Any = previous) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(bus.close_streams)
            previous(sig, frame)

        signal.signal(signum, handler)
