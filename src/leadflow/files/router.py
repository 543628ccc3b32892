"""File routes: download and view (with HTTP ranges), delete, and the access log. Who may read or delete a file is
its owner's rule, registered in ``files.access``; the uploads live with their owners (requests, cash) and share
``files.http.accept_upload``. Every view, download, delete and denial, anonymous ones included, writes
``file_access_log``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.files import service
from leadflow.files.access import Caller, FileAdmin, FileRules, FileRulesDep, OwnerRule, owner_of
from leadflow.files.http import FILE_CSP, PDF_CSP, Access, StorageUnavailable, byte_range, disposition
from leadflow.files.models import StoredFile
from leadflow.files.schemas import ACCESS_CSV_COLUMNS, Action, FileAccessOut, access_csv_item
from leadflow.platform.api import API_PREFIX
from leadflow.platform.dependencies import ListExport, Paging, Session, StorageDep
from leadflow.platform.export import CSV_RESPONSES, csv_response
from leadflow.platform.params import IdQuery
from leadflow.platform.problems import PROBLEM_RESPONSES, Forbidden, NotFound
from leadflow.platform.schemas import Page
from leadflow.platform.storage import StorageError

log = structlog.get_logger("leadflow.files")

router = APIRouter(prefix=API_PREFIX, tags=["files"], responses=PROBLEM_RESPONSES)
FileId = Annotated[str, Path(max_length=64, description="The file's UUID.")]


async def _readable(
    session: AsyncSession, rules: FileRules[Any], caller: Caller, file_id: str
) -> tuple[StoredFile, OwnerRule[Any]]:
    """The file and its owner's rule, when the owner lets the caller read it; else 404 (no rule: nobody may)."""
    row = await service.find(session, file_id)
    owner = owner_of(row) if row is not None else None
    rule = rules.owners.get(owner[0]) if owner is not None else None
    if row is None or owner is None or rule is None or not await rule.may_read(session, caller, owner[1]):
        raise NotFound("No such file, or not one you can see.")
    return row, rule


@router.get(
    "/files/{file_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "Partial content"}},
    summary="Download a file (?inline=1 to view it in the browser; Range requests for audio)",
)
async def download(
    file_id: FileId,
    request: Request,
    session: Session,
    storage: StorageDep,
    rules: FileRulesDep,
    inline: Annotated[bool, Query(description="View in the browser instead of downloading.")] = False,
) -> Response:
    access = Access(request, session)
    action = "view" if inline else "download"
    caller = await access.caller(file_id, action)

    async def work() -> tuple[StoredFile, tuple[int, int] | None]:
        row, _ = await _readable(session, rules, caller, file_id)
        chosen = byte_range(request.headers.get("range"), row.size)
        try:
            present = await storage.exists(row.storage_key)
        except StorageError as exc:
            raise StorageUnavailable("The file store cannot be reached; try again shortly.") from exc
        if not present:
            log.error("file_content_missing", file_id=row.id)
            raise StorageUnavailable("The file's content cannot be read now; try again shortly.")
        return row, chosen

    row, chosen = await access.guarded(file_id, action, work)
    await service.record_read(
        session, access.actor, row, action, "ok" if chosen is None else f"ok:{chosen[0]}-{chosen[1]}"
    )
    first, last = chosen if chosen is not None else (0, row.size - 1)
    headers = {
        "Content-Disposition": disposition(inline, row.original_name),
        "Content-Length": str(last - first + 1),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": PDF_CSP if row.content_type == "application/pdf" else FILE_CSP,
        "ETag": f'"{row.sha256}"',
    }
    if row.content_type == "application/pdf":  # a page of this site may show it in a frame (the request card)
        headers["X-Frame-Options"] = "SAMEORIGIN"
    if chosen is not None:
        headers["Content-Range"] = f"bytes {first}-{last}/{row.size}"
    return StreamingResponse(
        storage.read(row.storage_key, first, last),
        status_code=206 if chosen is not None else 200,
        media_type=row.content_type,
        headers=headers,
    )


@router.delete(
    "/files/{file_id}", status_code=204, summary="Delete a file (its owner's directors and admins, or the uploader)"
)
async def delete_file(
    file_id: FileId, request: Request, session: Session, storage: StorageDep, rules: FileRulesDep
) -> Response:
    access = Access(request, session)
    caller = await access.caller(file_id, "delete")

    async def work() -> tuple[StoredFile, OwnerRule[Any]]:
        row, rule = await _readable(session, rules, caller, file_id)
        if not await rule.may_delete(session, caller, row):
            raise Forbidden("Only the uploader, the owner's directors and admins delete a file.")
        return row, rule

    row, rule = await access.guarded(file_id, "delete", work)

    def note(deleted: StoredFile) -> None:
        if rule.on_deleted is not None:
            rule.on_deleted(session, caller, deleted)

    await service.remove(session, storage, row, access.actor, also=note)
    return Response(status_code=204)


@router.get(
    "/file-access-log",
    response_model=Page[FileAccessOut],
    responses=CSV_RESPONSES,
    summary="Who did what to which file (admin; format=csv for all of it)",
)
async def file_access_log(
    _: FileAdmin,
    session: Session,
    paging: Paging,
    export: ListExport,
    rules: FileRulesDep,
    file_id: Annotated[str | None, Query(max_length=64)] = None,
    user_id: IdQuery = None,
    action: Action | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Any:
    filters: dict[str, Any] = {
        "file_id": file_id,
        "user_id": user_id,
        "action": action,
        "date_from": date_from,
        "date_to": date_to,
    }
    zone = await rules.business_zone(session)
    if export.csv:
        batches = service.export_access_log(session, zone=zone, **filters)
        return csv_response("file-access-log", ACCESS_CSV_COLUMNS, export.lang, batches, access_csv_item)
    rows, total = await service.access_log(session, paging, zone=zone, **filters)
    return paging.envelope(rows, total)
