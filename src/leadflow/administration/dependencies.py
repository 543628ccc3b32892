"""The runtime settings as a route dependency: read once per HTTP request, on the request's own session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from leadflow.administration.schemas import RuntimeSettings
from leadflow.administration.service import get_settings
from leadflow.platform.dependencies import AppSettings, Session


async def current_runtime(session: Session, settings: AppSettings) -> RuntimeSettings:
    return await get_settings(session, settings)


Runtime = Annotated[RuntimeSettings, Depends(current_runtime)]
