"""The HTTP edge, as plain ASGI middleware (no per-request task switching, streaming bodies stay streaming).

Outermost first: :class:`EdgeMiddleware` (request id, client address, security headers, ``no-store``, the access log and
the last-resort 500), then CORS, :class:`BodyLimitMiddleware`, :class:`RateLimitMiddleware`, idempotency, the app.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import unquote_to_bytes

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware as StarletteCORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadflow.platform.cache import request_scope as cache_request_scope
from leadflow.platform.metrics import IN_PROGRESS, observe_request
from leadflow.platform.problems import (
    DATABASE_DOWN,
    PROBLEM_CONTENT_TYPE,
    FieldError,
    Problem,
    RateLimited,
    database_problem,
    problem_response,
)
from leadflow.platform.ratelimit import RateLimiter, per_minute
from leadflow.platform.security import Signer, client_ip, in_networks
from leadflow.platform.settings import Settings

log = structlog.get_logger("leadflow.http")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
API_CSP = "default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")
# The console's pages: scripts and styles only from this server's own files (no inline script or style), media and
# pictures also from blob: (a photo resized in the browser before upload, a recording being played); frames and
# objects only from this server (a stored PDF previewed on the request card, served with frame-ancestors 'self').
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; frame-src 'self'; object-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
NOT_PAGES = ("/api/", "/metrics", "/health")


def csp_for(path: str) -> str:
    if path.startswith(DOCS_PATHS):
        return DOCS_CSP
    if path.startswith(NOT_PAGES):
        return API_CSP
    return PAGE_CSP


def _state(scope: Scope) -> dict[str, Any]:
    return scope.setdefault("state", {})


async def _send_problem(send: Send, problem: Problem, request_path: str | None = None) -> None:
    import json

    body = json.dumps(problem.body(instance=request_path), ensure_ascii=False).encode()
    headers = [(b"content-type", PROBLEM_CONTENT_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def nul_location(scope: Scope) -> str | None:
    """Where a NUL character is in the request line or the headers: no database column or log line takes one, so it
    is refused here, once, before routing and authentication (and so before anything is written with it)."""
    if "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope.get("raw_path") or b""):
        return "path"
    if b"\x00" in unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" ")):
        return "query"
    for name, value in scope.get("headers", ()):
        if b"\x00" in name or b"\x00" in value:
            return "header"
    return None


def invalid_characters(where: str) -> Problem:
    message = "NUL characters are not allowed."
    return Problem(
        f"The request {where} contains a NUL character.",
        status=422,
        type="validation-error",
        title="Invalid input",
        errors=[FieldError(where, message)],
    )


class EdgeMiddleware:
    """Also answers HEAD on every GET route, as that GET without its body (FastAPI's routes list only GET)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if REQUEST_ID.fullmatch(incoming) else str(uuid.uuid4())
        client = scope.get("client")
        peer = client[0] if client else None
        ip = client_ip(peer, headers.get("x-forwarded-for"), self.settings.trusted_proxies)
        state = _state(scope)
        state["request_id"] = request_id
        state["client_ip"] = ip
        state["method"] = scope["method"]  # as received: HEAD is answered by the GET route below
        structlog.contextvars.bind_contextvars(request_id=request_id)
        cache_request_scope()  # one read of each cache generation per request
        path: str = scope["path"]
        https = scope.get("scheme") == "https" or (
            # TLS ended at a trusted proxy
            peer is not None
            and in_networks(peer, self.settings.trusted_proxies)
            and headers.get("x-forwarded-proto", "").lower() == "https"
        )
        status_holder = {"status": 500, "started": False}
        method: str = scope["method"]
        in_progress = IN_PROGRESS.labels(method)
        in_progress.inc()
        if method == "HEAD":
            scope["method"] = "GET"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.body" and method == "HEAD":
                message = {**message, "body": b""}
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = request_id
                out.setdefault("Cache-Control", "no-store")
                out.setdefault("X-Content-Type-Options", "nosniff")
                out.setdefault("X-Frame-Options", "DENY")
                out.setdefault("Referrer-Policy", "no-referrer")
                out.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
                out.setdefault("Content-Security-Policy", csp_for(path))
                out.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if https:
                    out.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
            await send(message)

        try:
            where = nul_location(scope)
            if where is not None:
                await _send_problem(send_wrapper, invalid_characters(where))
            else:
                await self.app(scope, receive, send_wrapper)
        except DATABASE_DOWN as exc:  # raised outside the routes (e.g. the idempotency store)
            problem = database_problem(exc)
            log.error(problem.slug.replace("-", "_"), error=type(exc).__name__, path=path)
            if not status_holder["started"]:
                await _send_problem(send_wrapper, problem, path)
        except Exception as exc:
            log.error("unhandled_error", exc_info=exc, path=path, method=method)
            if not status_holder["started"]:
                await _send_problem(
                    send_wrapper,
                    Problem("Something went wrong on our side; the error was logged.", status=500),
                    path,
                )
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            in_progress.dec()
            observe_request(method, template, int(status_holder["status"]), elapsed)
            log.info(
                "request",
                method=method,
                route=template,
                status=status_holder["status"],
                latency_ms=round(elapsed * 1000, 2),
                user_id=state.get("user_id"),
                client_ip=ip,
            )
            structlog.contextvars.clear_contextvars()


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body is larger than the limit of {limit} bytes.")


class BodyLimitMiddleware:
    """Refuses bodies over the limit, counting while streaming (chunked bodies included)."""

    def __init__(
        self,
        app: ASGIApp,
        limit_for: Callable[[str], int],
        on_refused: Callable[[Scope], Awaitable[None]] | None = None,
        type_for: Callable[[str], str | None] | None = None,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.on_refused = on_refused
        self.type_for = type_for

    async def _refused(self, scope: Scope) -> None:
        """Tell the app (it may keep a record, e.g. the file access log); never let that fail the answer."""
        if self.on_refused is None:
            return
        try:
            await self.on_refused(scope)
        except Exception as exc:
            log.warning("body_refusal_hook_failed", error=type(exc).__name__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        kind = self.type_for(scope["path"]) if self.type_for else None
        too_large = Problem(BodyTooLarge(limit).detail, status=413, type=kind)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False
            if too_big:
                await self._refused(scope)
                await _send_problem(send, too_large, scope["path"])
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            # Raised while a middleware (idempotency) read the body, outside the app's exception handlers.
            if started:
                raise
            await self._refused(scope)
            await _send_problem(send, too_large, scope["path"])


def is_bearer(authorization: str) -> bool:
    return authorization[:7].lower() == "bearer "


def bearer_or_cookie_token(scope: Scope) -> str | None:
    headers = Headers(scope=scope)
    auth = headers.get("authorization", "")
    if is_bearer(auth):
        return auth[7:].strip() or None
    cookie_header = headers.get("cookie")
    if cookie_header:
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(cookie_header)
        except Exception:
            return None
        morsel = cookie.get("access_token")
        return morsel.value if morsel else None
    return None


class RateLimitMiddleware:
    """The general limit: per user when the request carries a valid access token, else per client address.
    Health and metrics endpoints and the console's static files are not limited; sign-in adds its own stricter
    limit."""

    EXEMPT_PREFIXES = ("/health", "/metrics", "/static/")

    WEBHOOK_PREFIX = "/api/v1/telephony/"

    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, signer: Signer, per_minute_amount: int, webhook_per_minute: int
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.signer = signer
        self.item = per_minute(per_minute_amount)
        self.webhook_item = per_minute(webhook_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.EXEMPT_PREFIXES) or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        state = _state(scope)
        if scope["path"].startswith(self.WEBHOOK_PREFIX):
            # The provider's deliveries come in bursts from a few addresses: their own, larger budget.
            decision = await self.limiter.hit(self.webhook_item, "webhook", state.get("client_ip", "unknown"))
            if not decision.allowed:
                log.warning("rate_limited", key="webhook")
                await _send_problem(send, RateLimited(decision.retry_after), scope["path"])
                return
            await self.app(scope, receive, send)
            return
        token = bearer_or_cookie_token(scope)
        claims = self.signer.peek_claims(token) if token else None
        if claims is not None and claims.get("rlx"):
            await self.app(scope, receive, send)
            return
        key = f"user:{claims['sub']}" if claims is not None else f"ip:{state.get('client_ip', 'unknown')}"
        decision = await self.limiter.hit(self.item, "api", key)
        if not decision.allowed:
            log.warning("rate_limited", key=key.split(":")[0])
            await _send_problem(send, RateLimited(decision.retry_after), scope["path"])
            return
        await self.app(scope, receive, send)


class CORSMiddleware(StarletteCORSMiddleware):
    """Starlette's CORS, with a refused preflight answered as problem+json like every other error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        reason = bytes(response.body).decode("utf-8", errors="replace")
        problem = Problem(
            f"{reason}: this origin, method or header is not allowed to call the API.", status=400, type="cors-refused"
        )
        return problem_response(problem)
