"""The files' owners and their rules, assembled once for ``create_app``: ``files`` imports no domain, so this
composition root tells it who is calling (the accounts' principal), which owner decides about which file, and the
business time zone of the access log."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import Principal, current_principal
from leadflow.administration import service as administration
from leadflow.cash import files_access as cash
from leadflow.files.access import RECORDING, REQUEST, TRANSACTION, FileRules
from leadflow.platform.settings import Settings
from leadflow.recordings import files_access as recordings
from leadflow.requests import files_access as requests


def file_rules(settings: Settings) -> FileRules[Principal]:
    async def authenticate(request: Request, session: AsyncSession) -> Principal:
        return await current_principal(
            request, session, request.app.state.signer, request.app.state.settings, request.app.state.cache
        )

    async def business_zone(session: AsyncSession) -> str:
        return (await administration.get_settings(session, settings)).business_timezone

    return FileRules(
        authenticate=authenticate,
        business_zone=business_zone,
        owners={REQUEST: requests.RULE, TRANSACTION: cash.RULE, RECORDING: recordings.RULE},
    )
