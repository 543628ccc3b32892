"""What the requests domain lets callers do with a request's files (BSO forms, expense receipts)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import EARNINGS_READERS, MANAGERS
from leadflow.accounts.policies import Principal
from leadflow.files.access import OwnerRule
from leadflow.files.models import StoredFile
from leadflow.platform.problems import Forbidden
from leadflow.requests import hooks, queries

UPLOADERS = EARNINGS_READERS  # the request's master and the managers; managers delete any file they see


async def may_upload(session: AsyncSession, principal: Principal, request_id: int) -> None:
    """403 for a role that never uploads, 404 for a request out of the caller's scope."""
    if principal.role not in UPLOADERS:
        raise Forbidden("Files of a request are uploaded by its master, directors and admins.")
    await queries.get_request(session, principal, request_id)


async def may_read(session: AsyncSession, principal: Principal, request_id: int) -> bool:
    return await hooks.visible_request_id(session, principal, request_id) is not None


async def may_delete(session: AsyncSession, principal: Principal, row: StoredFile) -> bool:
    return principal.role in MANAGERS or row.uploaded_by_id == principal.id


def note_added(session: AsyncSession, principal: Principal, row: StoredFile) -> None:
    assert row.request_id is not None
    hooks.note_file(session, row.request_id, row.id, row.kind, principal.id)


def note_deleted(session: AsyncSession, principal: Principal, row: StoredFile) -> None:
    assert row.request_id is not None
    hooks.note_file(session, row.request_id, row.id, row.kind, principal.id, deleted=True)


RULE = OwnerRule[Principal](may_read=may_read, may_delete=may_delete, on_deleted=note_deleted)
