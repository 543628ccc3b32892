"""User administration endpoints: accounts, master profiles, the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from leadflow.accounts import reads, schemas, service
from leadflow.accounts.models import REQUEST_WORKERS, Role, UserStatus
from leadflow.accounts.policies import AdminOnly, Principal, UserManager, require_roles
from leadflow.accounts.service import UserService
from leadflow.accounts.shaping import master_out, user_out
from leadflow.administration.dependencies import Runtime
from leadflow.audit import service as audit
from leadflow.platform.api import API_PREFIX
from leadflow.platform.client import Client
from leadflow.platform.dependencies import ListExport, Paging, Session, component
from leadflow.platform.export import CSV_RESPONSES, csv_response
from leadflow.platform.params import IdPath, IdQuery, SearchQuery
from leadflow.platform.problems import PROBLEM_RESPONSES
from leadflow.platform.schemas import Page

router = APIRouter(prefix=API_PREFIX, tags=["users"], responses=PROBLEM_RESPONSES)

MasterReaders = Annotated[Principal, Depends(require_roles(*REQUEST_WORKERS))]


Users = Annotated[UserService, Depends(component("users", UserService))]


# Users ----------------------------------------------------------------------------------------------------------
@router.get(
    "/users",
    response_model=Page[schemas.UserListItem],
    responses=CSV_RESPONSES,
    summary="List accounts in your scope (format=csv for all of them)",
)
async def list_users(
    principal: UserManager,
    session: Session,
    paging: Paging,
    export: ListExport,
    role: Role | None = None,
    status: UserStatus | None = None,
    city_id: IdQuery = None,
    q: SearchQuery = None,
) -> Any:
    filters: dict[str, Any] = {"role": role, "status": status, "city_id": city_id, "q": q}
    if export.csv:
        batches = reads.export_users(session, principal, **filters)
        return csv_response("users", schemas.USER_CSV_COLUMNS, export.lang, batches, schemas.user_csv_item)
    rows, total = await reads.list_users(session, principal, paging, **filters)
    return paging.envelope(rows, total)


@router.post("/users", response_model=schemas.UserOut, status_code=201, summary="Create an account")
async def create_user(
    body: schemas.UserCreate, principal: UserManager, session: Session, users: Users, client: Client
) -> schemas.UserOut:
    user = await users.create_user(session, principal, body, client)
    return user_out(user, principal)


@router.get("/users/{user_id}", response_model=schemas.UserOut, summary="Get an account")
async def get_user(user_id: IdPath, principal: UserManager, session: Session) -> schemas.UserOut:
    return user_out(await reads.get_user(session, principal, user_id), principal)


@router.patch("/users/{user_id}", response_model=schemas.UserOut, summary="Change an account")
async def update_user(
    user_id: IdPath, body: schemas.UserUpdate, principal: UserManager, session: Session, client: Client
) -> schemas.UserOut:
    return user_out(await service.update_user(session, principal, user_id, body, client), principal)


@router.delete("/users/{user_id}", status_code=204, response_class=Response, summary="Delete an account")
async def delete_user(user_id: IdPath, principal: UserManager, session: Session, client: Client) -> Response:
    await service.delete_user(session, principal, user_id, client)
    return Response(status_code=204)


@router.post(
    "/users/{user_id}/password",
    status_code=204,
    response_class=Response,
    summary="Reset an account's password (ends its sessions)",
)
async def reset_password(
    user_id: IdPath, body: schemas.PasswordReset, principal: UserManager, session: Session, users: Users, client: Client
) -> Response:
    await users.reset_password(session, principal, user_id, body.password, client)
    return Response(status_code=204)


@router.post("/users/{user_id}/block", response_model=schemas.UserOut, summary="Block an account")
async def block_user(user_id: IdPath, principal: UserManager, session: Session, client: Client) -> schemas.UserOut:
    return user_out(await service.set_status(session, principal, user_id, UserStatus.blocked, client), principal)


@router.post("/users/{user_id}/unblock", response_model=schemas.UserOut, summary="Unblock an account")
async def unblock_user(user_id: IdPath, principal: UserManager, session: Session, client: Client) -> schemas.UserOut:
    return user_out(await service.set_status(session, principal, user_id, UserStatus.active, client), principal)


# Masters --------------------------------------------------------------------------------------------------------
@router.get("/masters", response_model=Page[schemas.MasterListItem], summary="List masters in your scope")
async def list_masters(
    principal: MasterReaders,
    session: Session,
    paging: Paging,
    city_id: IdQuery = None,
    status: UserStatus | None = None,
    q: SearchQuery = None,
) -> dict[str, Any]:
    rows, total = await reads.list_masters(session, principal, paging, city_id=city_id, status=status, q=q)
    return paging.envelope([master_out(u, principal, detail=False) for u in rows], total)


@router.get("/masters/{master_id}", response_model=schemas.MasterOut, summary="Get a master profile")
async def get_master(master_id: IdPath, principal: MasterReaders, session: Session) -> dict[str, Any]:
    return master_out(await service.master_in_scope(session, principal, master_id), principal, detail=True)


@router.patch("/masters/{master_id}", response_model=schemas.MasterOut, summary="Change a master profile")
async def update_master(
    master_id: IdPath,
    body: schemas.MasterUpdate,
    principal: UserManager,
    session: Session,
    client: Client,
) -> dict[str, Any]:
    user = await service.update_master(session, principal, master_id, body, client)
    return master_out(user, principal, detail=True)


@router.get(
    "/audit-log",
    response_model=Page[schemas.AuditEntryOut],
    responses=CSV_RESPONSES,
    summary="Security-relevant actions, newest first (admin; format=csv for all of them)",
    description="Logins (ok, failed, locked), logouts, password and role changes, blocks, 2FA and settings changes.",
)
async def audit_log(
    _: AdminOnly,
    session: Session,
    paging: Paging,
    export: ListExport,
    runtime: Runtime,
    action: Annotated[str | None, Query(max_length=50)] = None,
    actor_id: IdQuery = None,
    result: Annotated[str | None, Query(max_length=20)] = None,
    login: Annotated[str | None, Query(max_length=100)] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Any:
    filters: dict[str, Any] = {
        "action": action,
        "actor_id": actor_id,
        "result": result,
        "login": login,
        "date_from": date_from,
        "date_to": date_to,
    }
    zone = runtime.business_timezone
    if export.csv:
        batches = audit.export_entries(session, zone=zone, **filters)
        return csv_response("audit-log", schemas.AUDIT_CSV_COLUMNS, export.lang, batches, schemas.audit_csv_item)
    rows, total = await audit.list_entries(session, paging, zone=zone, **filters)
    return paging.envelope(rows, total)
