"""What other domains call on a request they found or hold: telephony notes a repeated call, recordings find the
request a recording belongs to and note it, files note an upload or deletion and ask whether the caller may see the
owning request. Each adds to the caller's transaction and never commits.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import Principal
from leadflow.requests.events import new_event
from leadflow.requests.models import Request, RequestEvent
from leadflow.requests.queries import scoped


def note_call(session: AsyncSession, request: Request, *, entry_id: str, caller: str, line: str) -> None:
    """A repeated call about this request goes into its history."""
    session.add(new_event(request, None, "call", entry_id=entry_id, caller=caller, line=line))


def note_recording(session: AsyncSession, request_id: int, recording_id: int, actor_id: int | None) -> None:
    """A call recording linked to this request goes into its history."""
    session.add(
        RequestEvent(request_id=request_id, actor_id=actor_id, kind="recording", data={"recording_id": recording_id})
    )


def note_file(
    session: AsyncSession, request_id: int, file_id: str, kind: str, actor_id: int, *, deleted: bool = False
) -> None:
    """An uploaded (or deleted) file goes into the request's history."""
    session.add(
        RequestEvent(
            request_id=request_id,
            actor_id=actor_id,
            kind="file_deleted" if deleted else "file_added",
            data={"file_id": file_id, "kind": kind},
        )
    )


async def find_for_recording(
    session: AsyncSession, phone: str, around: dt.datetime, window: dt.timedelta, campaign_id: int | None
) -> Request | None:
    """The request a recording belongs to (SPEC §6.2): the newest live request of this caller created within
    ``window`` of the call start, preferring the campaign whose number is the line."""
    query = select(Request).where(
        Request.deleted_at.is_(None),
        Request.client_phone == phone,
        Request.created_at >= around - window,
        Request.created_at <= around + window,
    )
    if campaign_id is not None:
        query = query.order_by(case((Request.campaign_id == campaign_id, 0), else_=1))
    row: Request | None = await session.scalar(query.order_by(Request.created_at.desc(), Request.id.desc()).limit(1))
    return row


async def visible_request_id(session: AsyncSession, principal: Principal, request_id: int) -> int | None:
    """The id when the principal may see this request, else ``None`` (files and recordings follow their owner)."""
    found: int | None = await session.scalar(
        scoped(principal).with_only_columns(Request.id).where(Request.id == request_id)
    )
    return found
