"""``Idempotency-Key`` for creating POSTs, kept in the database so that every process sees it.

A key is scoped to the user and the route. A repeat with the same body replays the first response; the same key with
another body is 422; a repeat while the first is still running is 409. Responses of 5xx, 401 and 403 are not kept, so
a retry after a server error or a refused credential runs again. Entries live ``IDEMPOTENCY_TTL_S`` (24 h by default);
a ``running`` entry older than :data:`ABANDONED_AFTER` is treated as abandoned by a crashed process and taken over.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Awaitable, Callable

from sqlalchemy import Integer, LargeBinary, String, Text, delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow.platform.db import Base, Database, UTCDateTime, utcnow
from leadflow.platform.middleware import _send_problem, _state, bearer_or_cookie_token
from leadflow.platform.problems import Conflict, ValidationProblem

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
ABANDONED_AFTER = dt.timedelta(seconds=120)
REPLAYED_HEADERS = {"content-type", "etag", "location"}
# A refusal of the caller (expired token, missing CSRF token) says nothing about the request: a retry runs again.
NOT_KEPT = {401, 403}


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the path
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    body_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # running | done
    status: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[str | None] = mapped_column(Text)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class IdempotencyMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        database: Database,
        authenticate: Callable[[str], Awaitable[int | None]],
        ttl_s: int,
        exempt: tuple[str, ...],
    ) -> None:
        self.app = app
        self.database = database
        self.authenticate = authenticate
        self.ttl = dt.timedelta(seconds=ttl_s)
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        key = Headers(scope=scope).get("idempotency-key")
        path: str = scope["path"]
        if key is None or path.startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        if not KEY_PATTERN.fullmatch(key):
            await _send_problem(
                send, ValidationProblem.field("Idempotency-Key", "Use 1-255 printable ASCII characters."), path
            )
            return
        token = bearer_or_cookie_token(scope)
        # The full check (live session, active account): a blocked user's token must not replay stored answers.
        user_id = await self.authenticate(token) if token else None
        if user_id is None:  # refused further in; nothing to remember
            await self.app(scope, receive, send)
            return
        route = _route_key(path)

        # Buffer the body (already bounded by the size limit) to fingerprint it, then replay it to the app.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        digest = fingerprint(body, Headers(scope=scope).get("content-type", ""))

        outcome = await self._claim(user_id, route, key, digest)
        if isinstance(outcome, IdempotencyKey):
            await self._replay(send, outcome)
            return
        if outcome is not None:
            await _send_problem(send, outcome, path)
            return

        sent = False

        async def replay_receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        captured: dict[str, object] = {"status": 500, "headers": [], "body": []}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))  # type: ignore[attr-defined]
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        except BaseException:
            await self._forget(user_id, route, key)
            raise
        status = int(captured["status"])  # type: ignore[call-overload]
        if status >= 500 or status in NOT_KEPT:
            await self._forget(user_id, route, key)
            return
        kept = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in captured["headers"]  # type: ignore[attr-defined]
            if k.decode("latin-1").lower() in REPLAYED_HEADERS
        }
        async with self.database.session() as session:
            row = await session.get(IdempotencyKey, (user_id, route, key))
            if row is not None:
                row.state = "done"
                row.status = status
                row.headers = json.dumps(kept)
                row.body = b"".join(captured["body"])  # type: ignore[arg-type]
                await session.commit()
        _state(scope)["idempotency"] = "stored"

    async def _claim(
        self, user_id: int, route: str, key: str, digest: str
    ) -> IdempotencyKey | Conflict | ValidationProblem | None:
        """Insert a running entry (None: go ahead), or say what the existing entry means."""
        now = utcnow()
        for _attempt in range(3):
            async with self.database.session() as session:
                session.add(
                    IdempotencyKey(
                        user_id=user_id,
                        route=route,
                        key=key,
                        body_sha256=digest,
                        state="running",
                        created_at=now,
                        expires_at=now + self.ttl,
                    )
                )
                try:
                    await session.commit()
                    return None
                except IntegrityError:
                    await session.rollback()
                existing = await session.get(IdempotencyKey, (user_id, route, key))
                if existing is None:
                    continue
                stale = existing.state == "running" and now - existing.created_at > ABANDONED_AFTER
                if existing.expires_at <= now or stale:
                    await session.delete(existing)
                    await session.commit()
                    continue
                if existing.body_sha256 != digest:
                    return ValidationProblem.field(
                        "Idempotency-Key", "This key was already used with a different request body."
                    )
                if existing.state == "running":
                    return Conflict("A request with this Idempotency-Key is still being processed; retry shortly.")
                return existing
        return Conflict("Could not reserve the Idempotency-Key; retry.")

    async def _forget(self, user_id: int, route: str, key: str) -> None:
        async with self.database.session() as session:
            await session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.user_id == user_id, IdempotencyKey.route == route, IdempotencyKey.key == key
                )
            )
            await session.commit()

    @staticmethod
    async def _replay(send: Send, row: IdempotencyKey) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in json.loads(row.headers or "{}").items()]
        headers.append((b"idempotent-replayed", b"true"))
        body = row.body or b""
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": row.status or 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def fingerprint(body: bytes, content_type: str) -> str:
    """The body's SHA-256, with a multipart boundary replaced by a fixed token: every client draws a new boundary
    for each request, so a retried upload of the same file is the same request."""
    mime, _, params = content_type.partition(";")
    if mime.strip().lower() == "multipart/form-data":
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "boundary" and value.strip('"'):
                body = body.replace(value.strip('"').encode("latin-1", "replace"), b"<boundary>")
    return hashlib.sha256(body).hexdigest()


def _route_key(path: str) -> str:
    """Keys are scoped to the exact path; stored as a digest so that any path (long, odd characters) fits."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


async def purge_expired(database: Database) -> int:
    async with database.session() as session:
        result = await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= utcnow()))
        await session.commit()
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
