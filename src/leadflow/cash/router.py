"""Cash desk endpoints: directors within their cities and admins."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import Principal, require_roles
from leadflow.administration.dependencies import Runtime
from leadflow.cash import files_access, service
from leadflow.cash.schemas import (
    CSV_COLUMNS,
    Balance,
    Kind,
    TransactionCreate,
    TransactionOut,
    TransactionPage,
    TransactionUpdate,
    csv_item,
)
from leadflow.files import service as files
from leadflow.files.http import accept_upload, multipart_doc
from leadflow.files.schemas import FileOut
from leadflow.platform.api import API_PREFIX
from leadflow.platform.concurrency import VERSIONED_RESPONSES, DeleteVersion, IfMatch, etag
from leadflow.platform.dependencies import CacheDep, ListExport, Paging, Session
from leadflow.platform.export import CSV_RESPONSES, csv_response
from leadflow.platform.params import IdPath, IdQuery
from leadflow.platform.problems import PROBLEM_RESPONSES

router = APIRouter(prefix=API_PREFIX, tags=["cash desk"], responses=PROBLEM_RESPONSES)
Cashier = Annotated[Principal, Depends(require_roles(*service.CASHIERS))]
Sort = Literal["occurred_on", "-occurred_on", "amount", "-amount", "created_at", "-created_at"]


async def _out(session: AsyncSession, transaction: Any, response: Response) -> TransactionOut:
    response.headers["ETag"] = etag(transaction.version)
    out = TransactionOut.model_validate(transaction)
    receipts = await files.files_of(session, files.Owner(transaction_id=transaction.id))
    return out.model_copy(update={"files": [FileOut.model_validate(f) for f in receipts]})


@router.get(
    "/transactions",
    response_model=TransactionPage,
    responses=CSV_RESPONSES,
    summary="List cash-desk transactions, with totals (format=csv for all of them)",
)
async def list_transactions(
    principal: Cashier,
    session: Session,
    paging: Paging,
    export: ListExport,
    cache: CacheDep,
    city_id: IdQuery = None,
    type_id: IdQuery = None,
    kind: Kind | None = None,
    date_from: Annotated[dt.date | None, Query(description="From this business date (occurred_on), inclusive.")] = None,
    date_to: Annotated[dt.date | None, Query(description="Up to this business date, inclusive.")] = None,
    request_id: IdQuery = None,
    campaign_id: IdQuery = None,
    master_id: IdQuery = None,
    sort: Sort = "-occurred_on",
) -> Any:
    filters: dict[str, Any] = {
        "city_id": city_id,
        "type_id": type_id,
        "kind": kind,
        "date_from": date_from,
        "date_to": date_to,
        "request_id": request_id,
        "campaign_id": campaign_id,
        "master_id": master_id,
    }
    if export.csv:
        batches = service.export_transactions(session, principal, sort, **filters)
        return csv_response("transactions", CSV_COLUMNS, export.lang, batches, csv_item)
    rows, total, totals = await service.list_transactions(session, principal, paging, sort, cache, **filters)
    return paging.envelope(rows, total, totals=totals)


@router.post("/transactions", response_model=TransactionOut, status_code=201, summary="Book a transaction")
async def create_transaction(
    body: TransactionCreate, principal: Cashier, session: Session, response: Response
) -> TransactionOut:
    return await _out(session, await service.create_transaction(session, principal, body), response)


@router.get("/transactions/{transaction_id}", response_model=TransactionOut, summary="Get a transaction (ETag)")
async def get_transaction(
    transaction_id: IdPath, principal: Cashier, session: Session, response: Response
) -> TransactionOut:
    return await _out(session, await service.get_transaction(session, principal, transaction_id), response)


@router.patch(
    "/transactions/{transaction_id}",
    response_model=TransactionOut,
    responses=VERSIONED_RESPONSES,
    summary="Change a transaction (send the version you read, or If-Match)",
)
async def update_transaction(
    transaction_id: IdPath,
    body: TransactionUpdate,
    principal: Cashier,
    session: Session,
    response: Response,
    if_match: IfMatch = None,
) -> TransactionOut:
    updated = await service.update_transaction(session, principal, transaction_id, body, if_match)
    return await _out(session, updated, response)


@router.delete(
    "/transactions/{transaction_id}",
    status_code=204,
    response_class=Response,
    responses=VERSIONED_RESPONSES,
    summary="Delete a transaction (soft; send the version you read, or If-Match)",
)
async def delete_transaction(
    transaction_id: IdPath,
    principal: Cashier,
    session: Session,
    read: DeleteVersion,
) -> Response:
    await service.delete_transaction(session, principal, transaction_id, read.version, read.if_match)
    return Response(status_code=204)


@router.get("/cash/balance", response_model=Balance, summary="Opening and closing balance per city and type")
async def cash_balance(
    principal: Cashier,
    session: Session,
    runtime: Runtime,
    cache: CacheDep,
    city_id: IdQuery = None,
    date_from: Annotated[dt.date | None, Query(description="Default: the first day of date_to's month.")] = None,
    date_to: Annotated[dt.date | None, Query(description="Default: today in the business time zone.")] = None,
) -> dict[str, Any]:
    zone = runtime.business_timezone
    return await service.balance(
        session, principal, city_id=city_id, date_from=date_from, date_to=date_to, business_zone=zone, cache=cache
    )


# Uploads are documented with the files (tags=["files"] alone, hence their own router), mounted with these routes.
uploads = APIRouter(prefix=API_PREFIX, tags=["files"], responses=PROBLEM_RESPONSES)


@uploads.post(
    "/transactions/{transaction_id}/files",
    response_model=FileOut,
    status_code=201,
    summary="Upload a receipt to a cash-desk transaction (multipart: file, kind=transaction_receipt)",
    responses={200: {"model": FileOut, "description": "The same bytes were uploaded before: the first file."}},
    openapi_extra=multipart_doc(["transaction_receipt"]),
)
async def upload_transaction_file(
    transaction_id: IdPath, request: Request, session: Session, response: Response
) -> FileOut:
    async def may_upload(principal: Principal) -> None:
        await files_access.may_upload(session, principal, transaction_id)

    return await accept_upload(
        request, session, response, files.Owner(transaction_id=transaction_id), ("transaction_receipt",), may_upload
    )


router.routes.extend(uploads.routes)
