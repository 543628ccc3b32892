"""Campaign endpoints: marketers, directors and admins within their cities; operators read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from leadflow.accounts.models import CAMPAIGN_READERS, CAMPAIGN_WRITERS
from leadflow.accounts.policies import Principal, require_roles
from leadflow.campaigns import service
from leadflow.campaigns.schemas import CSV_COLUMNS, CampaignCreate, CampaignOut, CampaignUpdate, csv_item
from leadflow.platform.api import API_PREFIX
from leadflow.platform.dependencies import ListExport, Paging, Session
from leadflow.platform.export import CSV_RESPONSES, csv_response
from leadflow.platform.params import IdPath, IdQuery, SearchQuery
from leadflow.platform.problems import PROBLEM_RESPONSES
from leadflow.platform.schemas import Page

router = APIRouter(prefix=API_PREFIX, tags=["campaigns"], responses=PROBLEM_RESPONSES)
Reader = Annotated[Principal, Depends(require_roles(*CAMPAIGN_READERS))]
Writer = Annotated[Principal, Depends(require_roles(*CAMPAIGN_WRITERS))]


@router.get(
    "/campaigns",
    response_model=Page[CampaignOut],
    responses=CSV_RESPONSES,
    summary="List campaigns in your cities (format=csv for all of them)",
)
async def list_campaigns(
    principal: Reader,
    session: Session,
    paging: Paging,
    export: ListExport,
    city_id: IdQuery = None,
    channel: Annotated[str | None, Query(max_length=50)] = None,
    active: bool | None = None,
    q: SearchQuery = None,
) -> Any:
    filters: dict[str, Any] = {"city_id": city_id, "channel": channel, "active": active, "q": q}
    if export.csv:
        batches = service.export_campaigns(session, principal, **filters)
        return csv_response("campaigns", CSV_COLUMNS, export.lang, batches, csv_item)
    rows, total = await service.list_campaigns(session, principal, paging, **filters)
    return paging.envelope(rows, total)


@router.post("/campaigns", response_model=CampaignOut, status_code=201, summary="Create a campaign")
async def create_campaign(body: CampaignCreate, principal: Writer, session: Session) -> Any:
    return await service.create_campaign(session, principal, body)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, summary="Get a campaign")
async def get_campaign(campaign_id: IdPath, principal: Reader, session: Session) -> Any:
    return await service.get_campaign(session, principal, campaign_id)


@router.patch("/campaigns/{campaign_id}", response_model=CampaignOut, summary="Change a campaign")
async def update_campaign(campaign_id: IdPath, body: CampaignUpdate, principal: Writer, session: Session) -> Any:
    return await service.update_campaign(session, principal, campaign_id, body)


@router.delete(
    "/campaigns/{campaign_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a campaign (soft; its requests keep the link and its number becomes free)",
)
async def delete_campaign(campaign_id: IdPath, principal: Writer, session: Session) -> Response:
    await service.delete_campaign(session, principal, campaign_id)
    return Response(status_code=204)
