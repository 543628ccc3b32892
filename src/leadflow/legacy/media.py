"""The files a LeadSchem database names (request scans and recordings, transaction receipts, the rows of its
``files`` table), found under ``--media DIR`` and stored through ``files.service`` and the storage interface.

A path is looked up under the media directory as it is written, then with its leading directories dropped one by
one (``/app/media/bso/1.jpg`` is found as ``DIR/app/media/bso/1.jpg``, ``DIR/media/bso/1.jpg``, ``DIR/bso/1.jpg`` or
``DIR/1.jpg``); nothing outside the directory is ever read. Each file is its own unit of work (its content is in
storage before its row commits; a failed row takes its content back). A file that is not found is listed as missing
and not remembered, so a later run with the file in place imports it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.files import service as files
from leadflow.legacy.writer import Context, remember
from leadflow.platform.problems import Problem
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage
from leadflow.recordings.models import CallRecording
from leadflow.requests.models import Request

REQUEST_COLUMNS = {"bso_file_path": "bso", "expense_file_path": "expense_receipt", "recording_file_path": "recording"}
TRANSACTION_COLUMNS = ("expense_receipt_path", "file_path")
LEGACY_KINDS = {
    "bso": "bso",
    "expense": "expense_receipt",
    "expense_receipt": "expense_receipt",
    "recording": "recording",
    "transaction": "transaction_receipt",
}
CHUNK = 256 * 1024


def locate(media: Path, raw: str) -> Path | None:
    """The file a legacy path names under ``media``, or None."""
    parts = [p for p in raw.strip().replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    root = media.resolve()
    for start in range(len(parts)):
        candidate = root.joinpath(*parts[start:])
        try:
            resolved = candidate.resolve()
        except OSError:
            continue
        if resolved.is_file() and resolved.is_relative_to(root):
            return resolved
    return None


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(handle.close)


@dataclass(frozen=True)
class Wanted:
    key: str  # the map's legacy table: "requests.bso_file_path", "transactions.file_path", "files"
    legacy_id: int
    raw_path: str
    kind: str
    request_id: int | None = None
    transaction_id: int | None = None


class MediaImport:
    def __init__(self, ctx: Context, settings: Settings, storage: Storage, media: Path | None, dry_run: bool) -> None:
        self.ctx, self.settings, self.storage, self.media, self.dry_run = ctx, settings, storage, media, dry_run

    async def run(self, session: AsyncSession) -> None:
        table = "files"
        count = self.ctx.report.table(table)
        reader = self.ctx.reader
        self.transaction_columns = reader.available("transactions", TRANSACTION_COLUMNS)
        planned = await reader.count("requests", _any_set(REQUEST_COLUMNS)) + await reader.count("files")
        if self.transaction_columns:
            planned += await reader.count("transactions", _any_set(self.transaction_columns))
        async for wanted, seen in self._wanted():
            for item in wanted:
                self.ctx.at(item.key, item.legacy_id)
                count.read += 1
                if item.legacy_id in self.ctx.maps.get(item.key, {}):
                    count.already += 1
                    continue
                await self._one(session, item)
            self.ctx.progress(table, seen, planned)

    async def _wanted(self) -> AsyncIterator[tuple[list[Wanted], int]]:
        requests, transactions = self.ctx.ids("requests"), self.ctx.ids("transactions")
        async for batch in self.ctx.reader.batches("requests", _any_set(REQUEST_COLUMNS)):
            yield (
                [
                    Wanted(f"requests.{column}", row["id"], row[column], kind, request_id=requests[row["id"]])
                    for row in batch
                    if row["id"] in requests
                    for column, kind in REQUEST_COLUMNS.items()
                    if row[column]
                ],
                len(batch),
            )
        columns = self.transaction_columns
        batches = self.ctx.reader.batches("transactions", _any_set(columns)) if columns else _nothing()
        async for batch in batches:
            yield (
                [
                    Wanted(
                        f"transactions.{column}",
                        row["id"],
                        row[column],
                        "transaction_receipt",
                        transaction_id=transactions[row["id"]],
                    )
                    for row in batch
                    if row["id"] in transactions
                    for column in columns
                    if row[column]
                ],
                len(batch),
            )
        async for batch in self.ctx.reader.batches("files"):
            items = []
            for row in batch:
                kind = LEGACY_KINDS.get((row["file_type"] or "").strip().lower())
                if row["transaction_id"] in transactions:
                    owner = transactions[row["transaction_id"]]
                    items.append(
                        Wanted("files", row["id"], row["file_path"], "transaction_receipt", transaction_id=owner)
                    )
                elif row["request_id"] in requests and kind in REQUEST_COLUMNS.values():
                    owner = requests[row["request_id"]]
                    items.append(Wanted("files", row["id"], row["file_path"], str(kind), request_id=owner))
                else:
                    self.ctx.report.table("files").read += 1
                    self.ctx.report.skip("files", row["id"], f"file of type {row['file_type']!r} of no imported owner")
            yield items, len(batch)

    async def _one(self, session: AsyncSession, item: Wanted) -> None:
        report = self.ctx.report
        path = locate(self.media, item.raw_path) if self.media is not None else None
        if path is None:
            report.files_missing.append(
                {"table": item.key, "legacy_id": item.legacy_id, "path": item.raw_path, "kind": item.kind}
            )
            return
        if self.dry_run:
            report.table("files").imported += 1
            return
        limit = files.limit_for(item.kind, self.settings.upload_max_bytes, self.settings.audio_max_bytes)
        try:
            staged = await files.stage(_chunks(path), path.name, item.kind, limit, self.settings.data_dir / "tmp")
        except Problem as exc:
            report.skip("files", item.legacy_id, f"{item.key} {item.raw_path!r}: {exc.detail}")
            return
        stored_key: str | None = None
        try:
            owner = await self._owner(session, item, staged)
            stored, _new = await files.store(
                session, self.storage, staged, kind=item.kind, owner=owner, uploaded_by=None
            )
            stored_key = stored.storage_key if _new else None
            await remember(self.ctx, session, item.key, [(item.legacy_id, stored.id)])
            await session.commit()
        except BaseException:
            await session.rollback()
            if stored_key is not None:
                await files.discard_content(self.storage, stored_key)
            raise
        finally:
            staged.discard()
        report.table("files").imported += 1

    async def _owner(self, session: AsyncSession, item: Wanted, staged: files.Staged) -> files.Owner:
        """The owner of the stored file. A request's recording is a call recording linked to the request (its audio
        is the recording's file), as an upload would make it."""
        if item.kind != "recording" or item.request_id is None:
            return files.Owner(request_id=item.request_id, transaction_id=item.transaction_id)
        same = await session.scalar(
            select(CallRecording.id).where(
                CallRecording.content_sha256 == staged.sha256, CallRecording.original_name == staged.original_name
            )
        )
        if same is not None:  # the same audio under the same name is one recording (its unique constraint)
            return files.Owner(recording_id=same)
        request: Any = await session.get(Request, item.request_id)
        now = self.ctx.now
        recording = CallRecording(
            request_id=item.request_id,
            city_id=request.city_id,
            caller=request.client_phone,
            line=request.ats_number,
            started_at=request.created_at,
            source="upload",
            original_name=staged.original_name,
            content_sha256=staged.sha256,
            link_state="linked",
            link_attempts=0,
            created_at=now,
            updated_at=now,
        )
        session.add(recording)
        await session.flush()
        return files.Owner(recording_id=recording.id)


async def _nothing() -> AsyncIterator[list[dict[str, Any]]]:
    empty: tuple[list[dict[str, Any]], ...] = ()
    for batch in empty:
        yield batch


def _any_set(columns: Any) -> str:
    return " OR ".join(f"{c} IS NOT NULL AND {c} <> ''" for c in columns)
