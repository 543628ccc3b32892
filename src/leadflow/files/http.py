"""The HTTP side of files, shared by the files routes and the owners' upload routes: byte ranges, the headers a file
is sent with, the multipart body, the access log of every refusal, and the one upload flow. No domain imports: who
may upload is the owner's ``may_upload``, who is calling is the registered ``authenticate`` (``files.access``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from leadflow.files import service
from leadflow.files.access import Caller
from leadflow.files.models import StoredFile
from leadflow.files.schemas import FileOut
from leadflow.platform.client import client_info
from leadflow.platform.problems import FieldError, Problem, ValidationProblem
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage, StorageError

C = TypeVar("C", bound=Caller)
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


def multipart_doc(kinds: list[str]) -> dict[str, Any]:
    """The upload routes' request body for the OpenAPI document (the route parses the form itself)."""
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

    async def caller(self, file_id: str | None, attempted: str) -> Any:
        """The registered ``authenticate``'s caller (typed by the owner that reads it); a refusal is logged."""
        try:
            caller: Caller = await self.request.app.state.file_rules.authenticate(self.request, self.session)
        except Problem as problem:
            await service.refuse(self.session, self.actor, file_id, attempted, problem.status)
            raise
        self.actor = service.Actor(user_id=caller.id, ip=self.actor.ip, user_agent=self.actor.user_agent)
        return caller

    async def guarded(self, file_id: str | None, attempted: str, work: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await work()
        except Problem as problem:
            await service.refuse(self.session, self.actor, file_id, attempted, problem.status)
            raise


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
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


def disposition(inline: bool, name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"{'inline' if inline else 'attachment'}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


async def form_file(request: Request, kinds: tuple[str, ...]) -> tuple[UploadFile, str]:
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
    request: Request,
    session: AsyncSession,
    actor: service.Actor,
    owner: service.Owner,
    kinds: tuple[str, ...],
    also: Callable[[StoredFile], None] | None,
) -> tuple[StoredFile, bool]:
    settings: Settings = request.app.state.settings
    storage: Storage = request.app.state.storage
    upload, kind = await form_file(request, kinds)
    limit = service.limit_for(kind, settings.upload_max_bytes, settings.audio_max_bytes)
    staged = await service.stage(_chunks(upload), upload.filename or "", kind, limit, settings.data_dir / "tmp")
    try:
        return await service.save(session, storage, staged, kind=kind, owner=owner, actor=actor, also=also)
    except StorageError as exc:
        raise StorageUnavailable("The file store cannot be reached; try again shortly.") from exc
    finally:
        staged.discard()


async def accept_upload(
    request: Request,
    session: AsyncSession,
    response: Response,
    owner: service.Owner,
    kinds: tuple[str, ...],
    may_upload: Callable[[C], Awaitable[None]],
    on_stored: Callable[[C, StoredFile], None] | None = None,
) -> FileOut:
    """Sign-in, the owner's rule, the upload; 201 for a new file, 200 for bytes already there; every refusal logged.
    ``on_stored`` adds the owner's record of a new file (a request event) to the upload's transaction."""
    access = Access(request, session)
    caller: C = await access.caller(None, "upload")

    def also(row: StoredFile) -> None:
        assert on_stored is not None
        on_stored(caller, row)

    async def work() -> FileOut:
        await may_upload(caller)
        row, created = await _upload(request, session, access.actor, owner, kinds, also if on_stored else None)
        if not created:
            response.status_code = 200
        return FileOut.model_validate(row)

    result: FileOut = await access.guarded(None, "upload", work)
    return result
