"""What a committed write of a request tells the open pages (``platform.events``): its id, version, city and status,
and which masters it concerns, so that a master's phone hears of a job taken away as well as of one given."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import inspect

from leadflow.platform.events import Notification, notifies_on
from leadflow.requests.models import Request

REQUEST_CHANGED = "request.changed"


def _request_changed(row: Any) -> Iterator[Notification]:
    request: Request = row
    masters = {request.master_id}
    history = inspect(request).attrs.master_id.history
    masters.update(history.deleted or ())
    yield Notification(
        REQUEST_CHANGED,
        {"id": request.id, "version": request.version, "city_id": request.city_id, "status": request.status},
        city_id=request.city_id,
        master_ids=tuple(sorted(m for m in masters if m is not None)),
    )


def register_notifiers() -> None:
    """Declare the requests' notifications with the event bus. Idempotent."""
    notifies_on(Request.__tablename__, _request_changed)
