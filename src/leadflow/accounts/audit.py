"""The audit log of security-relevant actions. Rows join the caller's unit of work (committed with the action)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import AuditLog
from leadflow.accounts.policies import ClientInfo


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
