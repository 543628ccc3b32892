"""Request endpoints: the lists every queue lives in, intake, edits, the state machine, history, earnings."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import EARNINGS_READERS, INTAKE_WRITERS, REQUEST_WORKERS
from leadflow.accounts.policies import AdminOnly, Principal, SignedIn, require_roles
from leadflow.administration.dependencies import Runtime
from leadflow.files import service as files
from leadflow.files.http import accept_upload, multipart_doc
from leadflow.files.schemas import FileOut
from leadflow.platform.api import API_PREFIX
from leadflow.platform.concurrency import VERSIONED_RESPONSES, DeleteVersion, IfMatch, etag
from leadflow.platform.dependencies import CacheDep, ListExport, Paging, Session
from leadflow.platform.export import CSV_RESPONSES, csv_response
from leadflow.platform.params import IdPath, IdQuery, SearchQuery
from leadflow.platform.problems import PROBLEM_RESPONSES
from leadflow.platform.schemas import Page
from leadflow.recordings import service as recordings
from leadflow.recordings.schemas import RecordingOut
from leadflow.requests import earnings, editing, files_access, intake, queries, transitions, workflow
from leadflow.requests.models import Request as RequestRow
from leadflow.requests.schemas import (
    CSV_COLUMNS,
    Earnings,
    EventOut,
    MoveOut,
    RequestCreate,
    RequestListItem,
    RequestOut,
    RequestUpdate,
    StatusOut,
    TransitionIn,
    csv_item,
    shown_to,
)
from leadflow.requests.workflow import Queue, Status

ListPage = Page[RequestListItem]
router = APIRouter(prefix=API_PREFIX, tags=["requests"], responses=PROBLEM_RESPONSES)
IntakeWriter = Annotated[Principal, Depends(require_roles(*INTAKE_WRITERS))]
# Marketers read requests; every write is for the roles below (the service checks fields and moves).
RequestWriter = Annotated[Principal, Depends(require_roles(*REQUEST_WORKERS))]
EarningsReader = Annotated[Principal, Depends(require_roles(*EARNINGS_READERS))]
Sort = Literal["created_at", "-created_at", "visit_at", "-visit_at", "status", "-status", "callback_at", "-callback_at"]
DateQuery = Annotated[dt.date | None, Query(description="Calendar date in the city's (or business) time zone.")]


async def request_out(
    session: AsyncSession,
    principal: Principal,
    row: RequestRow | dict[str, Any],
    response: Response,
    *,
    new: bool = False,
) -> RequestOut:
    """The full request: the row (or ``queries.get_item``), its files and (for those who may listen to calls) its
    recordings. A request just created has neither (nothing is attached on creation): ``new`` skips the lookups."""
    out = shown_to(principal.role, RequestOut.model_validate(row))
    response.headers["ETag"] = etag(out.version)
    if new:
        return out
    stored = await files.files_of(session, files.Owner(request_id=out.id))
    recorded, audio = await recordings.recordings_of_request(session, principal, out.id)
    return out.model_copy(
        update={
            "files": [FileOut.model_validate(f) for f in stored],
            "recordings": [RecordingOut.build(r, audio.get(r.id)) for r in recorded],
        }
    )


@router.get(
    "/requests",
    response_model=Page[RequestListItem],
    responses=CSV_RESPONSES,
    summary="List requests (every filter applied on the server; format=csv for all of them)",
)
async def list_requests(
    principal: SignedIn,
    session: Session,
    paging: Paging,
    export: ListExport,
    runtime: Runtime,
    cache: CacheDep,
    queue: Annotated[
        Literal["intake", "work"] | None, Query(description="intake or work (refused requests are in both).")
    ] = None,
    status: Annotated[list[Status] | None, Query(description="Repeatable: ?status=new&status=callback")] = None,
    city_id: IdQuery = None,
    master_id: IdQuery = None,
    campaign_id: IdQuery = None,
    request_type_id: IdQuery = None,
    direction_id: IdQuery = None,
    q: SearchQuery = None,
    date_from: DateQuery = None,
    date_to: DateQuery = None,
    date_field: Literal["created_at", "visit_at"] = "created_at",
    sort: Sort = Query("-created_at", description="Newest first by default; the id breaks ties."),
) -> Any:
    zone = runtime.business_timezone
    filters = queries.Filters(
        queue=Queue(queue) if queue else None,
        statuses=tuple(status or ()),
        city_id=city_id,
        master_id=master_id,
        campaign_id=campaign_id,
        request_type_id=request_type_id,
        direction_id=direction_id,
        q=q,
        date_from=date_from,
        date_to=date_to,
        date_field=date_field,
    )
    if export.csv:
        batches = await queries.export_requests(session, principal, filters, sort=sort, business_zone=zone)
        return csv_response(
            "requests", CSV_COLUMNS, export.lang, batches, lambda row: csv_item(principal.role, row, export.lang)
        )

    async def render() -> str:
        rows, total = await queries.list_page(session, cache, principal, paging, filters, sort=sort, business_zone=zone)
        items = [shown_to(principal.role, RequestListItem.model_validate(r)) for r in rows]
        return ListPage.model_validate(paging.envelope(items, total)).model_dump_json()

    body = await queries.cached_page(cache, principal, paging, filters, sort, zone, render)
    return Response(body, media_type="application/json")


@router.post("/requests", response_model=RequestOut, status_code=201, summary="Take a request by hand")
async def create_request(body: RequestCreate, principal: IntakeWriter, session: Session, response: Response) -> Any:
    created = await intake.create_request(session, principal, body)
    return await request_out(session, principal, created, response, new=True)


@router.get("/requests/workflow", response_model=list[MoveOut], summary="The transition table (SPEC §3.2)")
async def transition_table(_: SignedIn) -> list[dict[str, Any]]:
    return [
        {
            "from_statuses": sorted(move.sources, key=list(Status).index),
            "to": move.target,
            "roles": ["admin", *sorted(r.value for r in move.roles)],
            "requires": sorted(n.value for n in move.needs),
            "description": move.description,
        }
        for move in workflow.MOVES
    ]


@router.get("/requests/statuses", response_model=list[StatusOut], summary="Statuses with labels and queues")
async def statuses(_: SignedIn) -> list[dict[str, Any]]:
    return [
        {"code": code, "label": ru, "label_en": en, "queue": queue}
        for code, (ru, en, queue) in workflow.STATUSES.items()
    ]


@router.get("/requests/{request_id}", response_model=RequestOut, summary="Get a request (ETag)")
async def get_request(request_id: IdPath, principal: SignedIn, session: Session, response: Response) -> Any:
    return await request_out(session, principal, await queries.get_item(session, principal, request_id), response)


@router.patch(
    "/requests/{request_id}",
    response_model=RequestOut,
    responses=VERSIONED_RESPONSES,
    summary="Change a request (fields by role and status; send the version you read, or If-Match)",
)
async def update_request(
    request_id: IdPath,
    body: RequestUpdate,
    principal: RequestWriter,
    session: Session,
    runtime: Runtime,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    share = runtime.company_share
    row = await editing.update_request(session, principal, request_id, body, if_match, default_share=share)
    return await request_out(session, principal, row, response)


@router.post(
    "/requests/{request_id}/transitions",
    response_model=RequestOut,
    responses=VERSIONED_RESPONSES,
    summary="Move a request to another status (SPEC §3.2)",
    description="409 `invalid-transition` with `allowed` when the move is not in the table; 403 when your role may "
    "not make it; 422 when what it requires is missing.",
)
async def transition(
    request_id: IdPath,
    body: TransitionIn,
    principal: RequestWriter,
    session: Session,
    runtime: Runtime,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    share = runtime.company_share
    row = await transitions.transition(session, principal, request_id, body, if_match, default_share=share)
    return await request_out(session, principal, row, response)


@router.get("/requests/{request_id}/events", response_model=Page[EventOut], summary="A request's history, oldest first")
async def list_events(request_id: IdPath, principal: SignedIn, session: Session, paging: Paging) -> dict[str, Any]:
    rows, total = await queries.list_events(session, principal, request_id, paging)
    return paging.envelope([EventOut.model_validate(r).shown_to(principal.role) for r in rows], total)


@router.delete(
    "/requests/{request_id}",
    status_code=204,
    response_class=Response,
    responses=VERSIONED_RESPONSES,
    summary="Delete a request (admin; soft; send the version you read, or If-Match)",
)
async def delete_request(
    request_id: IdPath,
    principal: AdminOnly,
    session: Session,
    read: DeleteVersion,
) -> Response:
    await editing.delete_request(session, principal, request_id, read.version, read.if_match)
    return Response(status_code=204)


@router.get("/masters/{master_id}/earnings", response_model=Earnings, summary="A master's earnings for a period")
async def master_earnings(
    master_id: IdPath,
    principal: EarningsReader,
    session: Session,
    date_from: Annotated[dt.date | None, Query(description="Default: the first day of date_to's month.")] = None,
    date_to: Annotated[dt.date | None, Query(description="Default: today in the master's city.")] = None,
) -> dict[str, Any]:
    return await earnings.earnings(session, principal, master_id, date_from, date_to)


# Uploads are documented with the files (tags=["files"] alone, hence their own router), mounted with these routes.
uploads = APIRouter(prefix=API_PREFIX, tags=["files"], responses=PROBLEM_RESPONSES)


@uploads.post(
    "/requests/{request_id}/files",
    response_model=FileOut,
    status_code=201,
    summary="Upload a BSO form or an expense receipt to a request (multipart: file, kind)",
    responses={200: {"model": FileOut, "description": "The same bytes were uploaded before: the first file."}},
    description="JPEG, PNG, WebP or PDF, 10 MB at most; the type is sniffed from the bytes and the name's extension "
    "must agree (else 415). Directors and admins in scope, and the request's master. The same bytes uploaded again "
    "return the first file (200).",
    openapi_extra=multipart_doc(["bso", "expense_receipt"]),
)
async def upload_request_file(request_id: IdPath, request: Request, session: Session, response: Response) -> FileOut:
    async def may_upload(principal: Principal) -> None:
        await files_access.may_upload(session, principal, request_id)

    return await accept_upload(
        request,
        session,
        response,
        files.Owner(request_id=request_id),
        ("bso", "expense_receipt"),
        may_upload,
        lambda principal, row: files_access.note_added(session, principal, row),
    )


router.routes.extend(uploads.routes)
