"""What the cash desk lets callers do with a transaction's receipts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import MANAGERS
from leadflow.accounts.policies import Principal
from leadflow.cash import service
from leadflow.files.access import OwnerRule
from leadflow.files.models import StoredFile
from leadflow.platform.problems import Problem


async def may_upload(session: AsyncSession, principal: Principal, transaction_id: int) -> None:
    """403 for a role outside the cash desk, 404 for a transaction out of the caller's scope."""
    await service.get_transaction(session, principal, transaction_id)


async def may_read(session: AsyncSession, principal: Principal, transaction_id: int) -> bool:
    try:  # 403 for a role outside the cash desk, 404 out of scope: either way, not readable
        await service.get_transaction(session, principal, transaction_id)
    except Problem:
        return False
    return True


async def may_delete(session: AsyncSession, principal: Principal, row: StoredFile) -> bool:
    return principal.role in MANAGERS or row.uploaded_by_id == principal.id


RULE = OwnerRule[Principal](may_read=may_read, may_delete=may_delete)
