"""Files (SPEC §7): staging an upload while it streams in (size limit, SHA-256, the type sniffed from the bytes),
storing it under a generated key, listing an owner's files, deleting, and the access log.

Who may read or change a file follows its owner (a request, a transaction, a recording); the owners register that
rule (``files.access``) and the routes apply it. This module never sees HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import tempfile
import unicodedata
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filetype
import structlog
from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.files.models import LIVE, FileAccess, StoredFile
from leadflow.platform.db import dialect_insert, paginate, stream, utcnow, within
from leadflow.platform.periods import utc_bounds
from leadflow.platform.problems import Problem, ValidationProblem
from leadflow.platform.schemas import PageParams
from leadflow.platform.storage import Storage

log = structlog.get_logger("leadflow.files")

DOCUMENTS = {
    "image/jpeg": frozenset({"jpg", "jpeg"}),
    "image/png": frozenset({"png"}),
    "image/webp": frozenset({"webp"}),
    "application/pdf": frozenset({"pdf"}),
}
AUDIO = {
    "audio/mpeg": frozenset({"mp3"}),
    "audio/x-wav": frozenset({"wav"}),
    "audio/ogg": frozenset({"ogg", "oga"}),
    "audio/mp4": frozenset({"m4a"}),
    "audio/amr": frozenset({"amr"}),
}
ALLOWED = {"bso": DOCUMENTS, "expense_receipt": DOCUMENTS, "transaction_receipt": DOCUMENTS, "recording": AUDIO}
SNIFF_BYTES = 8192
MAX_NAME = 200


class UnsupportedFile(Problem):
    status = 415
    type = "unsupported-file-type"


class FileTooLarge(Problem):
    status = 413
    type = "file-too-large"


@dataclass(frozen=True)
class Staged:
    """An upload written to a private temporary file, checked, not yet stored."""

    path: Path
    original_name: str
    content_type: str
    size: int
    sha256: str

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True)
class Owner:
    request_id: int | None = None
    transaction_id: int | None = None
    recording_id: int | None = None


def clean_name(raw: str | None) -> str:
    """The client's file name as metadata: a bare name, no path, no control characters."""
    name = unicodedata.normalize("NFC", (raw or "").strip())
    if not name:
        raise ValidationProblem.field("file", "The file needs a name.")
    if "/" in name or "\\" in name or name in {".", ".."} or "\x00" in name:
        raise ValidationProblem.field("file", "A file name must not contain a path.")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ValidationProblem.field("file", "A file name must not contain control characters.")
    if len(name) > MAX_NAME:
        raise ValidationProblem.field("file", f"A file name has at most {MAX_NAME} characters.")
    return name


def limit_for(kind: str, document_bytes: int, audio_bytes: int) -> int:
    return audio_bytes if kind == "recording" else document_bytes


def sniff(head: bytes, name: str, kind: str) -> str:
    """The content type the bytes show, if this kind takes it and the name's extension agrees; else 415."""
    allowed = ALLOWED[kind]
    guess = filetype.guess(head)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if guess is None or guess.mime not in allowed:
        kinds = ", ".join(sorted({e for exts in allowed.values() for e in exts}))
        raise UnsupportedFile(f"The content is not one of the types a {kind} takes ({kinds}).")
    if extension not in allowed[guess.mime]:
        raise UnsupportedFile(
            f"The file's content is {guess.mime}, but its name ends in .{extension or '(nothing)'}; they must agree."
        )
    return str(guess.mime)


async def stage(chunks: AsyncIterator[bytes], name: str, kind: str, limit: int, tmp_dir: Path) -> Staged:
    """Write the upload to a temporary file as it arrives, counting (413 past ``limit``) and hashing; then sniff."""
    name = clean_name(name)
    await asyncio.to_thread(tmp_dir.mkdir, parents=True, exist_ok=True)
    fd, raw_path = await asyncio.to_thread(tempfile.mkstemp, dir=tmp_dir, prefix="upload-")
    path = Path(raw_path)
    digest = hashlib.sha256()
    head = b""
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise FileTooLarge(f"The file is larger than the {limit // (1024 * 1024)} MB a {kind} may have.")
                digest.update(chunk)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                await asyncio.to_thread(out.write, chunk)
        if size == 0:
            raise ValidationProblem.field("file", "The file is empty.")
        content_type = sniff(head, name, kind)
    except BaseException:
        await asyncio.to_thread(path.unlink, True)
        raise
    return Staged(path, name, content_type, size, digest.hexdigest())


def _same_file(kind: str, sha256: str, owner: Owner) -> Any:
    return select(StoredFile).where(
        StoredFile.deleted_at.is_(None),
        StoredFile.kind == kind,
        StoredFile.sha256 == sha256,
        StoredFile.request_id.is_(None) if owner.request_id is None else StoredFile.request_id == owner.request_id,
        StoredFile.transaction_id.is_(None)
        if owner.transaction_id is None
        else StoredFile.transaction_id == owner.transaction_id,
        StoredFile.recording_id.is_(None)
        if owner.recording_id is None
        else StoredFile.recording_id == owner.recording_id,
    )


def _owner_column(owner: Owner) -> str:
    if owner.request_id is not None:
        return "request_id"
    return "transaction_id" if owner.transaction_id is not None else "recording_id"


async def store(
    session: AsyncSession, storage: Storage, staged: Staged, *, kind: str, owner: Owner, uploaded_by: int | None
) -> tuple[StoredFile, bool]:
    """Store the staged file for its owner; the row (not committed) and whether it is new. The same bytes uploaded
    again for the same owner and kind return the first file: a retried upload does not duplicate. Concurrent
    uploads of the same bytes are decided by the unique index (``INSERT … ON CONFLICT DO NOTHING``): the ones that
    lose take back the content they stored and answer the first file."""
    same = await session.scalar(_same_file(kind, staged.sha256, owner))
    if same is not None:
        return same, False
    file_id = str(uuid.uuid4())
    now = utcnow()
    key = f"{kind}/{now:%Y/%m}/{file_id}"
    await storage.put(key, staged.path, staged.content_type)
    values = {
        "id": file_id,
        "kind": kind,
        "request_id": owner.request_id,
        "transaction_id": owner.transaction_id,
        "recording_id": owner.recording_id,
        "original_name": staged.original_name,
        "content_type": staged.content_type,
        "size": staged.size,
        "sha256": staged.sha256,
        "storage_key": key,
        "uploaded_by_id": uploaded_by,
        "uploaded_at": now,
    }
    insert = dialect_insert(session.get_bind().dialect.name)
    statement = (
        insert(StoredFile)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[_owner_column(owner), "kind", "sha256"], index_where=LIVE)
        .returning(StoredFile.id)
    )
    try:
        inserted = (await session.execute(statement)).scalar_one_or_none()
    except BaseException:
        await discard_content(storage, key)
        raise
    if inserted is None:  # a concurrent upload of the same bytes committed first
        await discard_content(storage, key)
        first = await session.scalar(_same_file(kind, staged.sha256, owner))
        assert first is not None
        return first, False
    row = await session.get_one(StoredFile, file_id)
    return row, True


async def find(session: AsyncSession, file_id: str) -> StoredFile | None:
    try:
        uuid.UUID(file_id)
    except ValueError:
        return None
    found: StoredFile | None = await session.scalar(
        select(StoredFile).where(StoredFile.id == file_id, StoredFile.deleted_at.is_(None))
    )
    return found


async def files_of(session: AsyncSession, owner: Owner) -> Sequence[StoredFile]:
    query = select(StoredFile).where(StoredFile.deleted_at.is_(None))
    if owner.request_id is not None:
        query = query.where(StoredFile.request_id == owner.request_id)
    elif owner.transaction_id is not None:
        query = query.where(StoredFile.transaction_id == owner.transaction_id)
    else:
        query = query.where(StoredFile.recording_id == owner.recording_id)
    return (await session.scalars(query.order_by(StoredFile.uploaded_at, StoredFile.id))).all()


async def files_of_recordings(session: AsyncSession, recording_ids: Sequence[int]) -> dict[int, StoredFile]:
    if not recording_ids:
        return {}
    rows = await session.scalars(
        select(StoredFile).where(StoredFile.deleted_at.is_(None), StoredFile.recording_id.in_(recording_ids))
    )
    return {row.recording_id: row for row in rows if row.recording_id is not None}


async def discard_content(storage: Storage, key: str) -> None:
    """Remove stored content whose row was not committed (best effort: a leftover is only unreferenced bytes)."""
    try:
        await storage.delete(key)
    except Exception as exc:
        log.warning("file_content_not_discarded", error=type(exc).__name__)


def soft_delete(row: StoredFile) -> None:
    row.deleted_at = utcnow()


@dataclass(frozen=True)
class Actor:
    """Who touches a file, for the access log (routers build it; this module never sees HTTP)."""

    user_id: int | None
    ip: str | None
    user_agent: str | None


async def refuse(session: AsyncSession, actor: Actor, file_id: str | None, attempted: str, status: int) -> None:
    """Throw away whatever the refused call did, and keep its log line: a refusal to act (401, 403, 404) is
    ``denied`` / ``<attempted>:<status>``; anything else (an upload rejected 413/415/422, a range 416, the store away
    503) keeps the attempted action with ``rejected:<status>`` or ``failed:<status>``."""
    await session.rollback()
    denied = status in (401, 403, 404)
    result = f"{attempted}:{status}" if denied else f"{'failed' if status >= 500 else 'rejected'}:{status}"
    _log(session, actor, file_id, "denied" if denied else attempted, result)
    await session.commit()
    log.warning("file_access_refused", attempted=attempted, status=status, user_id=actor.user_id)


async def save(
    session: AsyncSession,
    storage: Storage,
    staged: Staged,
    *,
    kind: str,
    owner: Owner,
    actor: Actor,
    also: Callable[[StoredFile], None] | None = None,
) -> tuple[StoredFile, bool]:
    """Store an upload for its owner, log it and commit (``also`` adds the owner's own record, such as a request
    event, to the same transaction). Content stored for a row that then fails to commit is taken back."""
    row, created = await store(session, storage, staged, kind=kind, owner=owner, uploaded_by=actor.user_id)
    try:
        if created and also is not None:
            also(row)
        _log(session, actor, row.id, "upload", "ok" if created else "duplicate")
        await session.commit()
    except BaseException:
        await session.rollback()
        if created:
            await discard_content(storage, row.storage_key)
        raise
    return row, created


async def record_read(session: AsyncSession, actor: Actor, row: StoredFile, action: str, result: str) -> None:
    _log(session, actor, row.id, action, result)
    await session.commit()


async def remove(
    session: AsyncSession,
    storage: Storage,
    row: StoredFile,
    actor: Actor,
    also: Callable[[StoredFile], None] | None = None,
) -> None:
    """Soft-delete the row (kept for the audit trail), log, commit, then delete the content from storage."""
    soft_delete(row)
    if also is not None:
        also(row)
    _log(session, actor, row.id, "delete", "ok")
    await session.commit()
    await discard_content(storage, row.storage_key)


def _log(session: AsyncSession, actor: Actor, file_id: str | None, action: str, result: str) -> None:
    session.add(
        FileAccess(
            file_id=file_id[:64] if file_id else None,
            user_id=actor.user_id,
            action=action,
            result=result[:50],
            ip=actor.ip,
            user_agent=actor.user_agent,
        )
    )


ACCESS_ORDER = (FileAccess.at.desc(), FileAccess.id.desc())


async def access_log(
    session: AsyncSession, page: PageParams, *, zone: str, **filters: Any
) -> tuple[Sequence[FileAccess], int]:
    """One page of the file access log (filters: ``_access``), newest first, and its count."""
    return await paginate(session, _access(zone=zone, **filters), page, *ACCESS_ORDER)


def export_access_log(session: AsyncSession, *, zone: str, **filters: Any) -> AsyncIterator[Sequence[FileAccess]]:
    """Every line the list would show, in its order, in batches (the CSV export)."""
    return stream(session, _access(zone=zone, **filters), *ACCESS_ORDER)


def _access(
    *,
    zone: str,
    file_id: str | None = None,
    user_id: int | None = None,
    action: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Select[FileAccess]:
    query = select(FileAccess)
    if file_id is not None:
        query = query.where(FileAccess.file_id == file_id)
    if user_id is not None:
        query = query.where(FileAccess.user_id == user_id)
    if action is not None:
        query = query.where(FileAccess.action == action)
    return within(query, FileAccess.at, *utc_bounds(date_from, date_to, zone))


# Personal data (SPEC §11) -------------------------------------------------------------------------------------------
ERASED_NAME = "erased"
PURGE_ATTEMPTS = 3


async def files_of_owners(
    session: AsyncSession, *, request_ids: Sequence[int], recording_ids: Sequence[int]
) -> Sequence[StoredFile]:
    """Every file row (deleted ones too) of these requests and recordings, oldest first."""
    conditions = []
    if request_ids:
        conditions.append(StoredFile.request_id.in_(request_ids))
    if recording_ids:
        conditions.append(StoredFile.recording_id.in_(recording_ids))
    if not conditions:
        return []
    query = select(StoredFile).where(or_(*conditions)).order_by(StoredFile.uploaded_at, StoredFile.id)
    return (await session.scalars(query)).all()


def erase(session: AsyncSession, rows: Sequence[StoredFile], actor: Actor) -> list[StoredFile]:
    """Soft-delete the live files among ``rows`` and log each deletion; every row's original name (which may name
    the client) becomes a fixed word. Joins the caller's transaction; the rows whose content must leave the storage
    once it commits (:func:`purge`)."""
    now = utcnow()
    live = [row for row in rows if row.deleted_at is None]
    for row in rows:
        row.original_name = ERASED_NAME
    for row in live:
        row.deleted_at = now
        _log(session, actor, row.id, "delete", "erased")
    return live


async def purge(storage: Storage, rows: Sequence[StoredFile], pause_s: float = 0.2) -> list[StoredFile]:
    """Delete the content of committed, deleted rows from the storage, trying each a few times; the rows whose
    content could not be deleted (orphans for the caller to list), each logged."""
    orphans: list[StoredFile] = []
    for row in rows:
        for attempt in range(1, PURGE_ATTEMPTS + 1):
            try:
                await storage.delete(row.storage_key)
                break
            except Exception as exc:
                if attempt == PURGE_ATTEMPTS:
                    log.error("file_content_not_purged", file_id=row.id, error=type(exc).__name__)
                    orphans.append(row)
                else:
                    await asyncio.sleep(pause_s * attempt)
    return orphans
