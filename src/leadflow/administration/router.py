from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from leadflow.accounts.policies import AdminOnly
from leadflow.administration import service
from leadflow.administration.schemas import RuntimeSettings, RuntimeSettingsUpdate
from leadflow.platform.api import API_PREFIX
from leadflow.platform.client import Client
from leadflow.platform.dependencies import AppSettings, CacheDep, Session
from leadflow.platform.problems import PROBLEM_RESPONSES

router = APIRouter(prefix=API_PREFIX, tags=["administration"], responses=PROBLEM_RESPONSES)


@router.get("/settings", response_model=RuntimeSettings, summary="Runtime settings")
async def get_settings(_: AdminOnly, session: Session, settings: AppSettings) -> RuntimeSettings:
    return await service.get_settings(session, settings)


@router.patch("/settings", response_model=RuntimeSettings, summary="Change runtime settings (audited)")
async def update_settings(
    body: RuntimeSettingsUpdate, principal: AdminOnly, session: Session, settings: AppSettings, client: Client
) -> RuntimeSettings:
    return await service.update_settings(session, settings, principal.id, body, client)


@router.get(
    "/admin/cache",
    summary="Cache statistics (admin): hits, misses, hit rate, keys, backend in use",
    description="Hits and misses are this process's since it started; `keys` counts the entries of the backend in use.",
)
async def cache_stats(_: AdminOnly, cache: CacheDep) -> dict[str, Any]:
    return await cache.describe()
