"""File routes: uploads to a request or a transaction, download and view (with HTTP ranges), delete, and the access
log. Every upload, view, download, delete and denial, anonymous ones included, writes ``file_access_log``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from leadflow.accounts.models import Role
from leadflow.accounts.policies import AdminOnly, Principal, current_principal
from leadflow.administration.dependencies import Runtime
from leadflow.cash import service as cash
from leadflow.files import service
from leadflow.files.models import StoredFile
from leadflow.files.schemas import Action, FileAccessOut, FileOut
from leadflow.platform.api import API_PREFIX
from leadflow.platform.client import client_info
from leadflow.platform.dependencies import Paging, Session, get_settings, get_signer, get_storage
from leadflow.platform.params import IdPath, IdQuery
from leadflow.platform.problems import (
    PROBLEM_RESPONSES,
    FieldError,
    Forbidden,
    NotFound,
    Problem,
    ValidationProblem,
)
from leadflow.platform.schemas import Page
from leadflow.platform.storage import StorageError
from leadflow.recordings import service as recordings
from leadflow.requests import hooks, queries

log = structlog.get_logger("leadflow.files")

router = APIRouter(prefix=API_PREFIX, tags=["files"], responses=PROBLEM_RESPONSES)
FileId = Annotated[str, Path(max_length=64, description="The file's UUID.")]
REQUEST_UPLOADERS = frozenset({Role.admin, Role.director, Role.master})
# Shown on its own, a file can do nothing: no scripts, no frames, no forms. PDFs are not sandboxed, because browsers'
# built-in PDF viewers refuse to run in a sandboxed document; the viewer runs no document scripts of its own accord.
FILE_CSP = "default-src 'none'; media-src 'self'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
PDF_CSP = "default-src 'none'; object-src 'self'; frame-ancestors 'self'"
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
HUGE = 10**18  # any position with more digits than this is past the end of any file we store
CHUNK = 1024 * 1024


class RangeNotSatisfiable(Problem):
    status = 416
    type = "range-not-satisfiable"


class StorageUnavailable(Problem):
    status = 503
    type = "storage-unavailable"


def _multipart_doc(kinds: list[str]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file", "kind"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "kind": {"type": "string", "enum": kinds},
                        },
                    }
                }
            },
        }
    }


class Access:
    """Who is calling, for the access log; every refusal of this call is logged through ``files.service``."""

    def __init__(self, request: Request, session: AsyncSession) -> None:
        self.request = request
        self.session = session
        client = client_info(request)
        self.actor = service.Actor(user_id=None, ip=client.ip, user_agent=client.user_agent)

    async def principal(self, file_id: str | None, attempted: str) -> Principal:
        try:
            principal = await current_principal(
                self.request, self.session, get_signer(self.request), get_settings(self.request)
            )
        except Problem as problem:
            await service.refuse(self.session, self.actor, file_id, attempted, problem.status)
            raise
        self.actor = service.Actor(user_id=principal.id, ip=self.actor.ip, user_agent=self.actor.user_agent)
        return principal

    async def guarded(self, file_id: str | None, attempted: str, work: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await work()
        except Problem as problem:
            await service.refuse(self.session, self.actor, file_id, attempted, problem.status)
            raise


async def _form_file(request: Request, kinds: tuple[str, ...]) -> tuple[UploadFile, str]:
    """The multipart body, parsed here (not by a dependency) so that a refusal while it streams is logged too."""
    try:
        form = await request.form(max_files=1, max_fields=5)
    except HTTPException as exc:  # the body limit, or a body that is not multipart
        if exc.status_code == 413:
            raise service.FileTooLarge(str(exc.detail)) from exc
        raise ValidationProblem.field("file", "Send the file as multipart/form-data.") from exc
    upload = form.get("file")
    kind = form.get("kind", kinds[0] if len(kinds) == 1 else None)
    errors = []
    if not isinstance(upload, UploadFile):
        errors.append(("file", "Attach the file in the 'file' field."))
    if not isinstance(kind, str) or kind not in kinds:
        errors.append(("kind", f"One of: {', '.join(kinds)}."))
    if errors:
        raise ValidationProblem("The upload is not valid; see errors.", [FieldError(f, m) for f, m in errors])
    assert isinstance(upload, UploadFile)
    assert isinstance(kind, str)
    return upload, kind


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


async def _upload(
    request: Request, session: AsyncSession, access: Access, owner: service.Owner, kinds: tuple[str, ...]
) -> tuple[StoredFile, bool]:
    settings = get_settings(request)
    storage = get_storage(request)
    upload, kind = await _form_file(request, kinds)
    limit = service.limit_for(kind, settings.upload_max_bytes, settings.audio_max_bytes)
    staged = await service.stage(_chunks(upload), upload.filename or "", kind, limit, settings.data_dir / "tmp")
    actor = access.actor
    note = None
    if owner.request_id is not None:
        request_id, user_id = owner.request_id, actor.user_id or 0

        def note(row: StoredFile) -> None:
            hooks.note_file(session, request_id, row.id, row.kind, user_id)

    try:
        return await service.save(session, storage, staged, kind=kind, owner=owner, actor=actor, also=note)
    except StorageError as exc:
        raise StorageUnavailable("The file store cannot be reached; try again shortly.") from exc
    finally:
        staged.discard()


async def _accept(
    request: Request,
    session: AsyncSession,
    response: Response,
    owner: service.Owner,
    kinds: tuple[str, ...],
    may_upload: Callable[[Principal], Awaitable[None]],
) -> FileOut:
    """Sign-in, the owner's rule, the upload; 201 for a new file, 200 for bytes already there; every refusal logged."""
    access = Access(request, session)
    principal = await access.principal(None, "upload")

    async def work() -> FileOut:
        await may_upload(principal)
        row, created = await _upload(request, session, access, owner, kinds)
        if not created:
            response.status_code = 200
        return FileOut.model_validate(row)

    result: FileOut = await access.guarded(None, "upload", work)
    return result


@router.post(
    "/requests/{request_id}/files",
    response_model=FileOut,
    status_code=201,
    summary="Upload a BSO form or an expense receipt to a request (multipart: file, kind)",
    responses={200: {"model": FileOut, "description": "The same bytes were uploaded before: the first file."}},
    description="JPEG, PNG, WebP or PDF, 10 MB at most; the type is sniffed from the bytes and the name's extension "
    "must agree (else 415). Directors and admins in scope, and the request's master. The same bytes uploaded again "
    "return the first file (200).",
    openapi_extra=_multipart_doc(["bso", "expense_receipt"]),
)
async def upload_request_file(request_id: IdPath, request: Request, session: Session, response: Response) -> FileOut:
    async def may_upload(principal: Principal) -> None:
        if principal.role not in REQUEST_UPLOADERS:
            raise Forbidden("Files of a request are uploaded by its master, directors and admins.")
        await queries.get_request(session, principal, request_id)

    return await _accept(
        request, session, response, service.Owner(request_id=request_id), ("bso", "expense_receipt"), may_upload
    )


@router.post(
    "/transactions/{transaction_id}/files",
    response_model=FileOut,
    status_code=201,
    summary="Upload a receipt to a cash-desk transaction (multipart: file, kind=transaction_receipt)",
    responses={200: {"model": FileOut, "description": "The same bytes were uploaded before: the first file."}},
    openapi_extra=_multipart_doc(["transaction_receipt"]),
)
async def upload_transaction_file(
    transaction_id: IdPath, request: Request, session: Session, response: Response
) -> FileOut:
    async def may_upload(principal: Principal) -> None:
        await cash.get_transaction(session, principal, transaction_id)

    return await _accept(
        request, session, response, service.Owner(transaction_id=transaction_id), ("transaction_receipt",), may_upload
    )


async def _may_read(session: AsyncSession, principal: Principal, row: StoredFile) -> bool:
    if row.request_id is not None:
        return await hooks.visible_request_id(session, principal, row.request_id) is not None
    if row.transaction_id is not None:
        if principal.role not in cash.CASHIERS:
            return False
        try:
            await cash.get_transaction(session, principal, row.transaction_id)
        except Problem:
            return False
        return True
    return row.recording_id is not None and await recordings.may_read(session, principal, row.recording_id)


async def _may_delete(session: AsyncSession, principal: Principal, row: StoredFile) -> bool:
    if not await _may_read(session, principal, row):
        return False
    if row.recording_id is not None:
        return principal.is_admin
    return principal.role in (Role.admin, Role.director) or row.uploaded_by_id == principal.id


async def _readable(session: AsyncSession, principal: Principal, file_id: str) -> StoredFile:
    row = await service.find(session, file_id)
    if row is None or not await _may_read(session, principal, row):
        raise NotFound("No such file, or not one you can see.")
    return row


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range asked for as (first, last), ``None`` for the whole file; 416 when it cannot be served."""
    if not header:
        return None
    match = RANGE.match(header.strip())
    if match is None or (not match[1] and not match[2]):
        return None  # several ranges or another unit: RFC 9110 lets us send the whole file

    def position(digits: str) -> int:
        return int(digits) if len(digits) <= 18 else HUGE  # no int() of thousands of digits

    if match[1]:
        first = position(match[1])
        last = min(position(match[2]), size - 1) if match[2] else size - 1
    else:
        first, last = max(0, size - position(match[2])), size - 1
    if first >= size or first > last:
        raise RangeNotSatisfiable(
            f"The file has {size} bytes; the range asked for is outside it.",
            headers={"Content-Range": f"bytes */{size}"},
        )
    return first, last


def _disposition(inline: bool, name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{'inline' if inline else 'attachment'}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


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
    inline: Annotated[bool, Query(description="View in the browser instead of downloading.")] = False,
) -> Response:
    access = Access(request, session)
    action = "view" if inline else "download"
    principal = await access.principal(file_id, action)
    storage = get_storage(request)

    async def work() -> tuple[StoredFile, tuple[int, int] | None]:
        row = await _readable(session, principal, file_id)
        chosen = _byte_range(request.headers.get("range"), row.size)
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
        "Content-Disposition": _disposition(inline, row.original_name),
        "Content-Length": str(last - first + 1),
        "Accept-Ranges": "bytes",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": PDF_CSP if row.content_type == "application/pdf" else FILE_CSP,
        "ETag": f'"{row.sha256}"',
    }
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
async def delete_file(file_id: FileId, request: Request, session: Session) -> Response:
    access = Access(request, session)
    principal = await access.principal(file_id, "delete")
    storage = get_storage(request)

    async def work() -> StoredFile:
        row = await _readable(session, principal, file_id)
        if not await _may_delete(session, principal, row):
            raise Forbidden("Only the uploader, the owner's directors and admins delete a file.")
        return row

    row = await access.guarded(file_id, "delete", work)

    def note(deleted: StoredFile) -> None:
        if deleted.request_id is not None:
            hooks.note_file(session, deleted.request_id, deleted.id, deleted.kind, principal.id, deleted=True)

    await service.remove(session, storage, row, access.actor, also=note)
    return Response(status_code=204)


@router.get("/file-access-log", response_model=Page[FileAccessOut], summary="Who did what to which file (admin)")
async def file_access_log(
    principal: AdminOnly,
    session: Session,
    paging: Paging,
    runtime: Runtime,
    file_id: Annotated[str | None, Query(max_length=64)] = None,
    user_id: IdQuery = None,
    action: Action | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    rows, total = await service.access_log(
        session,
        paging,
        zone=runtime.business_timezone,
        file_id=file_id,
        user_id=user_id,
        action=action,
        date_from=date_from,
        date_to=date_to,
    )
    return paging.envelope(rows, total)
