"""Call recordings: the list, a manual link, and "sync the mailbox now"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from leadflow.accounts.policies import AdminOnly, Principal, require_roles
from leadflow.platform.api import API_PREFIX
from leadflow.platform.dependencies import JobsDep, ListExport, Paging, Session
from leadflow.platform.export import CSV_RESPONSES, csv_response
from leadflow.platform.params import IdPath, IdQuery
from leadflow.platform.problems import PROBLEM_RESPONSES
from leadflow.platform.schemas import Page
from leadflow.recordings import service
from leadflow.recordings.schemas import CSV_COLUMNS, LinkIn, LinkState, RecordingOut, SyncQueued, csv_item
from leadflow.recordings.tasks import SYNC_JOB

router = APIRouter(prefix=API_PREFIX, tags=["call recordings"], responses=PROBLEM_RESPONSES)
Reader = Annotated[Principal, Depends(require_roles(*service.READERS))]


@router.get(
    "/call-recordings",
    response_model=Page[RecordingOut],
    responses=CSV_RESPONSES,
    summary="List call recordings (newest call first; format=csv for all of them)",
)
async def list_recordings(
    principal: Reader,
    session: Session,
    paging: Paging,
    export: ListExport,
    link_state: LinkState | None = None,
    request_id: IdQuery = None,
    city_id: IdQuery = None,
) -> Any:
    filters: dict[str, Any] = {"link_state": link_state, "request_id": request_id, "city_id": city_id}
    if export.csv:
        batches = service.export_recordings(session, principal, **filters)
        return csv_response("call-recordings", CSV_COLUMNS, export.lang, batches, csv_item)
    rows, files, total = await service.list_recordings(session, principal, paging, **filters)
    return paging.envelope([RecordingOut.build(r, files.get(r.id)) for r in rows], total)


@router.post(
    "/call-recordings/{recording_id}/link",
    response_model=RecordingOut,
    summary="Link a recording to a request by hand (any link state)",
)
async def link_recording(recording_id: IdPath, body: LinkIn, principal: Reader, session: Session) -> RecordingOut:
    row, file = await service.link_manually(session, principal, recording_id, body.request_id)
    return RecordingOut.build(row, file)


@router.post(
    "/call-recordings/sync",
    response_model=SyncQueued,
    status_code=202,
    summary="Read the recordings mailbox now (admin); the run is queued as a background job",
    description="The job runs on a worker (or in-process on the embedded default), never inside this request. "
    "Follow it in the worker's logs and metrics; new recordings appear in `GET /call-recordings`.",
)
async def sync_now(principal: AdminOnly, jobs: JobsDep) -> SyncQueued:
    run_id = await jobs.enqueue(SYNC_JOB, requested_by=principal.id)
    return SyncQueued(job=SYNC_JOB, run_id=run_id, status="queued")
