"""Which writes to other domains' tables make a cached report stale (SPEC §9), as ``platform.cache`` taggers.

The tags name what an entry depends on (``reports.service.DEPENDS_ON``): ``city:<id>`` for the cities it covers,
"reports" (any coarse change), "people", "calls", "recordings". :func:`register_cache_taggers` declares them; every
process that commits through a ``Database(..., on_commit=cache.invalidate)`` gets it from the runtime builder.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from leadflow.accounts.models import MasterProfile, User, UserCity
from leadflow.campaigns.models import Campaign
from leadflow.cash.models import Transaction
from leadflow.catalog.models import City, RequestType, TransactionType
from leadflow.platform.cache import invalidated_by
from leadflow.recordings.models import CallRecording
from leadflow.requests.models import Request
from leadflow.telephony.models import Call

PEOPLE_FIELDS = ("status", "role", "full_name", "deleted_at")


def _city_tags(row: Any, *columns: str) -> set[str]:
    """The city tags of a written row: its city now and, when it moved, the one it left."""
    if row is None:
        return {"reports"}
    tags = set()
    for column in columns:
        state = inspect(row).attrs[column]
        for value in (state.value, *state.history.deleted):
            if value is not None:
                tags.add(f"city:{value}")
    return tags or {"reports"}


def _by_city(row: Any) -> set[str]:
    """Requests, transactions and campaigns: the cities of the row."""
    return _city_tags(row, "city_id")


def _people(row: Any) -> set[str]:
    """Accounts matter to reports by who they are, not by their sign-ins (``last_login_at`` changes all day)."""
    if row is None or not isinstance(row, User):
        return {"people"}
    state = inspect(row)
    if state.pending or state.deleted or any(state.attrs[f].history.has_changes() for f in PEOPLE_FIELDS):
        return {"people"}
    # Replacing the city list or the master profile removes rows as orphans, which a flush does not list as deleted.
    if any(state.attrs[r].history.has_changes() for r in ("cities", "master")):
        return {"people"}
    return set()


def _any_people(row: Any) -> set[str]:
    return {"people"}


def _calls(row: Any) -> set[str]:
    return {"calls"}


def _recordings(row: Any) -> set[str]:
    return {"recordings"}


def _coarse(row: Any) -> set[str]:
    return {"reports"}


def register_cache_taggers() -> None:
    """Declare the reports' taggers with the cache. Idempotent: a tagger is stored once per table."""
    invalidated_by(Request.__tablename__, _by_city)
    invalidated_by(Transaction.__tablename__, _by_city)
    invalidated_by(Campaign.__tablename__, _by_city)
    invalidated_by(Call.__tablename__, _calls)
    invalidated_by(CallRecording.__tablename__, _recordings)
    invalidated_by(User.__tablename__, _people)
    invalidated_by(UserCity.__tablename__, _any_people)
    invalidated_by(MasterProfile.__tablename__, _any_people)
    invalidated_by(City.__tablename__, _coarse)
    # A type's kind (income or expense) and code (first_time, repeat) decide which column a figure lands in.
    invalidated_by(TransactionType.__tablename__, _coarse)
    invalidated_by(RequestType.__tablename__, _coarse)
