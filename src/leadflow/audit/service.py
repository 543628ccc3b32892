"""The audit log of security-relevant actions. Rows join the caller's unit of work (committed with the action)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.audit.models import AuditLog
from leadflow.platform.client import ClientInfo
from leadflow.platform.db import matching, paginate, stream, within
from leadflow.platform.periods import utc_bounds
from leadflow.platform.schemas import PageParams


def record(
    session: AsyncSession,
    action: str,
    *,
    actor_id: int | None,
    client: ClientInfo | None = None,
    result: str = "ok",
    target_type: str | None = None,
    target_id: int | str | None = None,
    login: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            action=action,
            actor_id=actor_id,
            result=result,
            target_type=target_type,
            target_id=str(target_id) if target_id is not None else None,
            login=login[:100] if login else None,
            ip=client.ip if client else None,
            user_agent=client.user_agent if client else None,
            data=data,
        )
    )


ENTRY_ORDER = (AuditLog.at.desc(), AuditLog.id.desc())


async def list_entries(
    session: AsyncSession, page: PageParams, *, zone: str, **filters: Any
) -> tuple[Sequence[AuditLog], int]:
    """The audit log, newest first, for admins."""
    return await paginate(session, _entries(zone=zone, **filters), page, *ENTRY_ORDER)


def export_entries(session: AsyncSession, *, zone: str, **filters: Any) -> AsyncIterator[Sequence[AuditLog]]:
    """Every entry the list would show, in its order, in batches (the CSV export)."""
    return stream(session, _entries(zone=zone, **filters), *ENTRY_ORDER)


def _entries(
    *,
    zone: str,
    action: str | None = None,
    actor_id: int | None = None,
    result: str | None = None,
    login: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Select[AuditLog]:
    query = matching(
        select(AuditLog),
        (AuditLog.action, action),
        (AuditLog.actor_id, actor_id),
        (AuditLog.result, result),
        (AuditLog.login, login.lower() if login is not None else None),
    )
    return within(query, AuditLog.at, *utc_bounds(date_from, date_to, zone))
