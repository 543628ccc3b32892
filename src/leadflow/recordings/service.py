"""Call recordings (SPEC §6.2): storing what the mailbox brings, linking recordings to requests, the list.

A recording is stored once: its audio's SHA-256 is unique, so a message read twice, or mailed twice, adds nothing.
Linking looks for the newest request of the caller created within the link window of the call start, preferring the
campaign whose number is the line; a recording that finds none stays ``pending`` and is tried again on later runs
until it is older than the retry period, then ``gave_up``. An operator can link one by hand.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import anyio
import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import INTAKE_WRITERS
from leadflow.accounts.policies import Principal, scoped_to_known_cities
from leadflow.campaigns import service as campaigns
from leadflow.files import service as files
from leadflow.files.models import StoredFile
from leadflow.platform.db import matching, paginate, stream, utcnow
from leadflow.platform.problems import Conflict, Forbidden, NotFound, Problem, ValidationProblem
from leadflow.platform.schemas import PageParams
from leadflow.platform.storage import Storage
from leadflow.recordings import names
from leadflow.recordings.models import CallRecording
from leadflow.requests import hooks as request_hooks
from leadflow.requests import queries as request_queries
from leadflow.telephony import service as telephony

log = structlog.get_logger("leadflow.recordings")

READERS = INTAKE_WRITERS  # who takes the calls listens to them


@dataclass(frozen=True)
class Windows:
    """The runtime settings the linker works with."""

    link: dt.timedelta
    retry: dt.timedelta


@dataclass
class Ingested:
    recording: CallRecording | None
    outcome: str  # stored, duplicate, misnamed, unsupported, too_large


async def _link(session: AsyncSession, recording: CallRecording, windows: Windows, now: dt.datetime) -> str:
    """One linking attempt (the caller commits): ``linked``, ``pending``, ``gave_up``, or ``moved`` when the row
    was no longer pending (linked by hand meanwhile). The row is changed only if it is still pending, so an attempt
    never undoes a manual link and two attempts never both write a history event."""
    changes: dict[str, Any] = {"link_attempts": CallRecording.link_attempts + 1, "last_attempt_at": now}
    if recording.caller is not None:
        if recording.call_id is None:
            call = await telephony.find_call(session, recording.caller, recording.started_at, windows.link)
            if call is not None:
                changes["call_id"] = call.id
                if recording.duration_s is None:
                    changes["duration_s"] = call.duration_s
        campaign = await campaigns.active_by_line(session, recording.line) if recording.line else None
        request = await request_hooks.find_for_recording(
            session, recording.caller, recording.started_at, windows.link, campaign.id if campaign else None
        )
    else:
        request = None
    if request is not None:
        changes.update(request_id=request.id, city_id=request.city_id, link_state="linked")
        state = "linked"
    elif now - recording.created_at > windows.retry:
        changes["link_state"] = state = "gave_up"
    else:
        state = "pending"
    result = await session.execute(
        update(CallRecording)
        .where(CallRecording.id == recording.id, CallRecording.link_state == "pending")
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    if (result.rowcount or 0) != 1:  # type: ignore[attr-defined]
        return "moved"
    if request is not None:
        request_hooks.note_recording(session, request.id, recording.id, None)
    return state


async def ingest(
    session: AsyncSession,
    storage: Storage,
    staged: files.Staged,
    *,
    zone: str,
    windows: Windows,
    source: str = "mailbox",
) -> Ingested:
    """Store one recording file (already staged and sniffed) and try to link it; commits. The staged file is the
    caller's to discard."""
    parsed = names.parse(staged.original_name, zone)
    if parsed is None:
        return Ingested(None, "misnamed")
    existing = await session.scalar(
        select(CallRecording).where(
            CallRecording.content_sha256 == staged.sha256, CallRecording.original_name == staged.original_name
        )
    )
    if existing is not None:
        return Ingested(existing, "duplicate")
    campaign = await campaigns.active_by_line(session, parsed.line) if parsed.line else None
    now = utcnow()
    recording = CallRecording(
        caller=parsed.caller,
        line=parsed.line,
        started_at=parsed.started_at,
        source=source,
        original_name=staged.original_name,
        content_sha256=staged.sha256,
        link_state="pending",
        link_attempts=0,
        city_id=campaign.city_id if campaign else None,
        created_at=now,
        updated_at=now,
    )
    session.add(recording)
    stored: StoredFile | None = None
    try:
        await session.flush()
        stored, _ = await files.store(
            session, storage, staged, kind="recording", owner=files.Owner(recording_id=recording.id), uploaded_by=None
        )
        await _link(session, recording, windows, now)
        await session.commit()
    except BaseException as exc:
        await session.rollback()
        if stored is not None:  # the content went to storage, its row did not: take it back
            await files.discard_content(storage, stored.storage_key)
        if isinstance(exc, IntegrityError):  # the same file stored by a concurrent run
            return Ingested(None, "duplicate")
        raise
    return Ingested(recording, "stored")


async def retry_pending(
    session: AsyncSession, windows: Windows, tried_before: dt.datetime, limit: int = 500
) -> dict[str, int]:
    """Another linking attempt for every pending recording not tried since ``tried_before`` (oldest first)."""
    now = utcnow()
    rows = (
        await session.scalars(
            select(CallRecording)
            .where(
                CallRecording.link_state == "pending",
                or_(CallRecording.last_attempt_at.is_(None), CallRecording.last_attempt_at < tried_before),
            )
            .order_by(CallRecording.started_at)
            .limit(limit)
        )
    ).all()
    linked = gave_up = 0
    for recording in rows:
        state = await _link(session, recording, windows, now)
        linked += state == "linked"
        gave_up += state == "gave_up"
    await session.commit()
    return {"retried": len(rows), "linked": linked, "gave_up": gave_up}


# Reading and manual links -------------------------------------------------------------------------------------------
def _visible(principal: Principal) -> Any:
    if principal.role not in READERS:
        raise Forbidden("Call recordings are for admins, directors and operators.")
    return scoped_to_known_cities(select(CallRecording), CallRecording.city_id, principal)


async def may_read(session: AsyncSession, principal: Principal, recording_id: int) -> bool:
    if principal.role not in READERS:
        return False
    found = await session.scalar(
        _visible(principal).with_only_columns(CallRecording.id).where(CallRecording.id == recording_id)
    )
    return found is not None


RECORDING_ORDER = (CallRecording.started_at.desc(), CallRecording.id.desc())


async def list_recordings(
    session: AsyncSession,
    principal: Principal,
    page: PageParams,
    *,
    link_state: str | None = None,
    request_id: int | None = None,
    city_id: int | None = None,
) -> tuple[Sequence[CallRecording], dict[int, StoredFile], int]:
    query = _recordings(principal, link_state=link_state, request_id=request_id, city_id=city_id)
    rows, total = await paginate(session, query, page, *RECORDING_ORDER)
    return rows, await files.files_of_recordings(session, [r.id for r in rows]), total


def export_recordings(
    session: AsyncSession,
    principal: Principal,
    *,
    link_state: str | None = None,
    request_id: int | None = None,
    city_id: int | None = None,
) -> AsyncIterator[Sequence[tuple[CallRecording, StoredFile | None]]]:
    """Every recording the list would show, in its order, in batches of (recording, its audio file) (the CSV
    export). The caller's role is checked now; the rows and their files are read as the caller iterates."""
    query = _recordings(principal, link_state=link_state, request_id=request_id, city_id=city_id)

    async def batches() -> AsyncIterator[Sequence[tuple[CallRecording, StoredFile | None]]]:
        async with aclosing(stream(session, query, *RECORDING_ORDER)) as recordings:
            async for rows in recordings:
                with anyio.CancelScope(shield=True):  # not cancelled midway, as the batch itself (platform.db.stream)
                    audio = await files.files_of_recordings(session, [r.id for r in rows])
                yield [(r, audio.get(r.id)) for r in rows]

    return batches()


def _recordings(principal: Principal, *, link_state: str | None, request_id: int | None, city_id: int | None) -> Any:
    return matching(
        _visible(principal),
        (CallRecording.link_state, link_state),
        (CallRecording.request_id, request_id),
        (CallRecording.city_id, city_id),
    )


async def recordings_of_request(
    session: AsyncSession, principal: Principal, request_id: int
) -> tuple[Sequence[CallRecording], dict[int, StoredFile]]:
    """The recordings of a request the principal has already been allowed to see; none for roles that may not
    listen to calls (masters, marketers)."""
    if principal.role not in READERS:
        return [], {}
    rows = (
        await session.scalars(
            select(CallRecording).where(CallRecording.request_id == request_id).order_by(CallRecording.started_at)
        )
    ).all()
    return rows, await files.files_of_recordings(session, [r.id for r in rows])


async def link_manually(
    session: AsyncSession, principal: Principal, recording_id: int, request_id: int
) -> tuple[CallRecording, StoredFile | None]:
    """An operator, director or admin links a recording to a request they can see (any link state)."""
    recording = await session.scalar(_visible(principal).where(CallRecording.id == recording_id))
    if recording is None:
        raise NotFound(f"No call recording with id {recording_id}.")
    try:
        request = await request_queries.get_request(session, principal, request_id)
    except NotFound as exc:
        raise ValidationProblem.field("request_id", "Unknown request, or not one you can see.") from exc
    if recording.request_id == request.id:
        raise Conflict("The recording is already linked to this request.", type="already-linked")
    recording.request_id = request.id
    recording.city_id = request.city_id
    recording.link_state = "linked"
    recording.updated_at = utcnow()
    request_hooks.note_recording(session, request.id, recording.id, principal.id)
    await session.commit()
    found = await files.files_of_recordings(session, [recording.id])
    return recording, found.get(recording.id)


def problem_outcome(problem: Problem) -> str:
    return {413: "too_large", 415: "unsupported"}.get(problem.status, "rejected")


# Personal data (SPEC §11) -------------------------------------------------------------------------------------------
async def recordings_of_client(
    session: AsyncSession, phone: str, request_ids: Sequence[int]
) -> Sequence[CallRecording]:
    """The recordings of ``phone`` (normalized) as the caller, or linked to one of the client's requests."""
    condition = CallRecording.caller == phone
    if request_ids:
        condition = or_(condition, CallRecording.request_id.in_(request_ids))
    return (
        await session.scalars(
            select(CallRecording).where(condition).order_by(CallRecording.started_at, CallRecording.id)
        )
    ).all()


def erase_recordings(recordings: Sequence[CallRecording]) -> None:
    """Forget who called on these recordings (their audio goes with their files, ``files.service.erase``): the
    caller's number, and the attachment name that spells it. The row stays, anonymous, with its time, line, link
    and link state, so the call metrics count the same. Joins the caller's transaction."""
    now = utcnow()
    for recording in recordings:
        recording.caller = None
        recording.original_name = f"erased-{recording.id}"  # unique with the content hash, as the constraint wants
        recording.updated_at = now
