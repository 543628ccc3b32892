"""The runtime settings as a route dependency: read once per HTTP request, on the request's own session."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.administration.schemas import RuntimeSettings
from leadflow.administration.service import get_settings
from leadflow.platform.db import get_session


async def current_runtime(request: Request, session: Annotated[AsyncSession, Depends(get_session)]) -> RuntimeSettings:
    return await get_settings(session, request.app.state.settings)


Runtime = Annotated[RuntimeSettings, Depends(current_runtime)]
