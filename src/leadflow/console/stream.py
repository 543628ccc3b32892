"""``GET /api/v1/stream``: server-sent notifications of what changed, for the open pages.

Notifications only, never data: ``request.changed {id, version, city_id, status}``, ``call.received {id, request_id,
city_id, outcome}``. A page that hears one re-fetches the fragment it shows, through the same services and scope as
everything else, so nothing of another scope can reach it by this way: a notification is sent only to a principal who
may see its city (a master: only about their own jobs, including one just taken from them). A comment every
``KEEPALIVE_S`` keeps proxies from closing the connection; the session is checked again then, and the stream ends
(``event: session.ended``) once the session is revoked, the account blocked or its password changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import StreamingResponse

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal, load_principal, may_see_city
from leadflow.platform.api import API_PREFIX
from leadflow.platform.db import Database
from leadflow.platform.dependencies import DatabaseDep, SignerDep
from leadflow.platform.events import CLOSING, EventBus, Notification
from leadflow.platform.middleware import bearer_or_cookie_token
from leadflow.platform.problems import PROBLEM_RESPONSES, Unauthenticated
from leadflow.platform.security import AccessClaims, TokenError

KEEPALIVE_S = 15.0
RETRY_MS = 2000  # how soon a browser reconnects after the stream drops

router = APIRouter(prefix=API_PREFIX, tags=["console"], responses=PROBLEM_RESPONSES)


def visible_to(principal: Principal, item: Notification) -> bool:
    if principal.role is Role.master:
        return principal.id in item.master_ids
    return item.city_id is not None and may_see_city(principal, item.city_id)


async def _principal(database: Database, claims: AccessClaims) -> Principal | None:
    async with database.session() as session:  # a short session: the stream holds no connection while it waits
        return await load_principal(session, claims)


def _frame(kind: str, data: dict[str, object]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@router.get(
    "/stream",
    summary="Live notifications (server-sent events)",
    description=(
        "`text/event-stream` of notifications scoped to the caller: `request.changed` `{id, version, city_id, "
        "status}` and `call.received` `{id, request_id, city_id, outcome}`. A comment every 15 s keeps the "
        "connection open; `session.ended` is sent and the stream closes when the session ends. Cookie session or "
        "Bearer token."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The stream"}},
)
async def stream(request: Request, database: DatabaseDep, signer: SignerDep) -> StreamingResponse:
    token = bearer_or_cookie_token(request.scope)
    try:
        claims = signer.read_access_token(token) if token else None
    except TokenError:
        claims = None
    principal = await _principal(database, claims) if claims is not None else None
    if claims is None or principal is None:
        raise Unauthenticated("The access token is invalid or has expired.", type="invalid-token")
    request.state.user_id = principal.id
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    if getattr(request.state, "method", "GET") == "HEAD":  # the stream's headers, without waiting for its end
        return StreamingResponse(iter(()), media_type="text/event-stream", headers=headers)
    events: EventBus = request.app.state.events

    async def frames() -> AsyncIterator[bytes]:
        yield f"retry: {RETRY_MS}\n: connected\n\n".encode()
        async with events.subscribe() as queue:
            while not events.closing:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if await _principal(database, claims) is None:
                        yield _frame("session.ended", {})
                        return
                    yield b": keep-alive\n\n"
                    continue
                if item.kind == CLOSING:
                    return
                if visible_to(principal, item):
                    yield _frame(item.kind, item.data)

    return StreamingResponse(frames(), media_type="text/event-stream", headers=headers)
