"""What the recordings domain lets callers do with a call recording's audio: read it with the recording, and only
admins delete it (the recording itself stays)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import Principal
from leadflow.files.access import OwnerRule
from leadflow.files.models import StoredFile
from leadflow.recordings import service


async def may_delete(session: AsyncSession, principal: Principal, row: StoredFile) -> bool:
    return principal.is_admin


RULE = OwnerRule[Principal](may_read=service.may_read, may_delete=may_delete)
