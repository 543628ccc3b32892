"""The audit log of security-relevant actions. Rows join the caller's unit of work (committed with the action)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.audit.models import AuditLog
from leadflow.platform.client import ClientInfo
from leadflow.platform.db import matching, paginate, within
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


async def list_entries(
    session: AsyncSession,
    page: PageParams,
    *,
    zone: str,
    action: str | None = None,
    actor_id: int | None = None,
    result: str | None = None,
    login: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> tuple[Sequence[AuditLog], int]:
    """The audit log, newest first, for admins."""
    query = matching(
        select(AuditLog),
        (AuditLog.action, action),
        (AuditLog.actor_id, actor_id),
        (AuditLog.result, result),
        (AuditLog.login, login.lower() if login is not None else None),
    )
    query = within(query, AuditLog.at, *utc_bounds(date_from, date_to, zone))
    return await paginate(session, query, page, AuditLog.at.desc(), AuditLog.id.desc())
