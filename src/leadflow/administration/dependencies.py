"""The runtime settings as a route dependency: remembered in the process until an administrator changes them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from leadflow.administration.schemas import RuntimeSettings
from leadflow.administration.service import current_settings
from leadflow.platform.dependencies import AppSettings, CacheDep, Session


async def current_runtime(session: Session, settings: AppSettings, cache: CacheDep) -> RuntimeSettings:
    return await current_settings(session, settings, cache)


Runtime = Annotated[RuntimeSettings, Depends(current_runtime)]
