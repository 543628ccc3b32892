from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import AdminOnly, Client
from leadflow.administration import service
from leadflow.administration.schemas import RuntimeSettings, RuntimeSettingsUpdate
from leadflow.platform.api import API_PREFIX
from leadflow.platform.cache import Cache, get_cache
from leadflow.platform.db import get_session
from leadflow.platform.problems import PROBLEM_RESPONSES

router = APIRouter(prefix=API_PREFIX, tags=["administration"], responses=PROBLEM_RESPONSES)
Session = Annotated[AsyncSession, Depends(get_session)]


@router.get("/settings", response_model=RuntimeSettings, summary="Runtime settings")
async def get_settings(_: AdminOnly, session: Session, request: Request) -> RuntimeSettings:
    return await service.get_settings(session, request.app.state.settings)


@router.patch("/settings", response_model=RuntimeSettings, summary="Change runtime settings (audited)")
async def update_settings(
    body: RuntimeSettingsUpdate, principal: AdminOnly, session: Session, request: Request, client: Client
) -> RuntimeSettings:
    return await service.update_settings(session, request.app.state.settings, principal, body, client)


@router.get(
    "/admin/cache",
    summary="Cache statistics (admin): hits, misses, hit rate, keys, backend in use",
    description="Hits and misses are this process's since it started; `keys` counts the entries of the backend in use.",
)
async def cache_stats(_: AdminOnly, cache: Annotated[Cache, Depends(get_cache)]) -> dict[str, Any]:
    return await cache.describe()
