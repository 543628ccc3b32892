"""A client's personal data in requests and their history (SPEC §11): what is stored about a phone, and its erasure.

The personal fields are the ones a marketer never reads (``MARKETER_HIDDEN``: the phone, the name, the address and
the free texts that may carry them) and, in the history, the caller's number, the reason and note of a move and the
edits of those fields (``MARKETER_HIDDEN_EVENT_DATA``). Erasure replaces them with fixed markers and keeps every
status, amount, date, type and reference, so that the reports give the same figures before and after.

``privacy.service`` calls these inside its one unit of work; nothing here commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import Principal
from leadflow.platform.db import utcnow
from leadflow.requests.events import new_event
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.schemas import MARKETER_HIDDEN, MARKETER_HIDDEN_EVENT_DATA

# The phone an erased request keeps: eleven zeros fill the NOT NULL column in the stored digits format, but
# ``normalize_phone`` refuses an all-zeros number, so no typed phone, search or call ever matches it, and a client
# calling again after the erasure is a first-time client (``intake.type_for_phone`` finds no request of their phone).
ERASED_PHONE = "00000000000"
# What an erased name, address, problem or note reads (kept only where a value was set, so that a move that needs an
# address still finds one).
ERASED_TEXT = "[erased]"
PHONE_FIELDS = frozenset({"client_phone", "caller"})


@dataclass(frozen=True)
class ClientRequests:
    """The requests with the client's phone (soft-deleted ones too) and the history lines that hold it: every event
    of those requests, and the events of other requests that name the phone (a call, or a phone edited away)."""

    requests: Sequence[Request]
    events: Sequence[RequestEvent]

    @property
    def request_ids(self) -> list[int]:
        return [r.id for r in self.requests]


def _names(data: dict[str, Any] | None, phone: str) -> bool:
    """The event's data holds ``phone`` as a caller's number or as an edited phone's old or new value."""
    if not data:
        return False
    if data.get("caller") == phone:
        return True
    changes = data.get("changes")
    change = changes.get("client_phone") if isinstance(changes, dict) else None
    return isinstance(change, dict) and phone in (change.get("from"), change.get("to"))


async def find_client_data(session: AsyncSession, phone: str) -> ClientRequests:
    """Everything the requests domain stores about ``phone`` (normalized), oldest first."""
    requests = (await session.scalars(select(Request).where(Request.client_phone == phone).order_by(Request.id))).all()
    ids = [r.id for r in requests]
    # The history of other requests is searched by text first (the JSON as stored, on both databases), then exactly.
    mention = cast(RequestEvent.data, Text).contains(phone, autoescape=True)
    condition = or_(RequestEvent.request_id.in_(ids), mention) if ids else mention
    rows = (await session.scalars(select(RequestEvent).where(condition).order_by(RequestEvent.id))).all()
    events = [e for e in rows if e.request_id in ids or _names(e.data, phone)]
    return ClientRequests(requests=requests, events=events)


def _erased(field: str, value: Any) -> Any:
    if value is None:
        return None
    return ERASED_PHONE if field in PHONE_FIELDS else ERASED_TEXT


def _scrub(data: dict[str, Any], phone: str, *, whole: bool) -> dict[str, Any]:
    """The event data without the personal values: all of them (``whole``, an event of an erased request), or only
    the erased phone (an event of another request that names it)."""
    clean = dict(data)
    for key in MARKETER_HIDDEN_EVENT_DATA & clean.keys():
        if whole or clean[key] == phone:
            clean[key] = _erased(key, clean[key])
    changes = clean.get("changes")
    if isinstance(changes, dict):
        fixed = dict(changes)
        for field in MARKETER_HIDDEN & fixed.keys():
            change = fixed[field]
            if not isinstance(change, dict):
                continue
            fixed[field] = {
                side: _erased(field, value) if whole or value == phone else value for side, value in change.items()
            }
        clean["changes"] = fixed
    return clean


@dataclass(frozen=True)
class ErasedRequests:
    requests: int
    events: int


async def erase_client(
    session: AsyncSession, principal: Principal, phone: str, found: ClientRequests
) -> ErasedRequests:
    """Anonymize what :func:`find_client_data` found (flushed, not committed): the requests' personal fields, the
    personal values in their history and the phone where other requests' history names it. Each erased request
    gets an ``erased`` history line; its version moves on, so an edit made from a copy read before fails as stale."""
    now = utcnow()
    for request in found.requests:
        for field in MARKETER_HIDDEN:
            setattr(request, field, _erased(field, getattr(request, field)))
        request.updated_at = now
    changed = 0
    ids = set(found.request_ids)
    for event in found.events:
        if not event.data:
            continue
        clean = _scrub(event.data, phone, whole=event.request_id in ids)
        if clean != event.data:
            event.data = clean  # a new object: the JSON column sees the change
            changed += 1
    await session.flush()
    for request in found.requests:
        session.add(new_event(request, principal, "erased"))
    return ErasedRequests(requests=len(found.requests), events=changed)
