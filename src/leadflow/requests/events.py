"""A request's history: the event rows every write adds, with their data made JSON-safe."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from leadflow.accounts.policies import Principal
from leadflow.platform.schemas import utc_iso
from leadflow.requests.models import Request, RequestEvent


def jsonable(value: Any) -> Any:
    """Money as a two-place string, moments as UTC ISO, dates as ISO: what the event's JSON column stores."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def new_event(
    request: Request, actor: Principal | None, kind: str, *, to: str | None = None, frm: str | None = None, **data: Any
) -> RequestEvent:
    """An event row for ``request`` (not yet added); ``None`` values are left out of its data."""
    clean = {k: jsonable(v) for k, v in data.items() if v is not None}
    return RequestEvent(
        request_id=request.id,
        actor_id=actor.id if actor else None,
        kind=kind,
        from_status=frm,
        to_status=to,
        data=clean or None,
    )
