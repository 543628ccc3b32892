"""A client's personal data (SPEC §11): export everything stored about a phone, and erase it.

The data lives in four domains, each asked through its own service: the requests and their history
(``requests.personal_data``), the calls (``telephony.service``), the call recordings (``recordings.service``) and
the files of those requests and recordings (``files.service``). This module only orchestrates, and audits.

Erasure is one unit of work: every row is anonymized, every file row soft-deleted and the audit line written, or
nothing is. The files' content leaves the storage only after that commit; content the storage would not delete (after
a few tries) is logged, answered and written to the audit log as an orphan, and never un-erases a row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import Principal
from leadflow.audit import service as audit
from leadflow.files import service as files
from leadflow.files.models import StoredFile
from leadflow.platform.client import ClientInfo
from leadflow.platform.db import serialize, unit_of_work, utcnow
from leadflow.platform.logging import mask_phone
from leadflow.platform.problems import Conflict, Forbidden, NotFound
from leadflow.platform.schemas import utc_iso
from leadflow.platform.storage import Storage
from leadflow.recordings import service as recordings
from leadflow.requests import personal_data as requests
from leadflow.telephony import service as telephony

if TYPE_CHECKING:
    from leadflow.recordings.models import CallRecording
    from leadflow.telephony.models import Call

log = structlog.get_logger("leadflow.privacy")

TARGET = "client_phone"
INTERNAL = frozenset({"storage_key"})  # where the bytes sit is the storage's business, not the client's data


def refused() -> Conflict:
    """A constraint the database refused while erasing (nothing was changed)."""
    return Conflict("The erasure could not be completed and nothing was changed; try again.", type="erasure-refused")


def not_recorded() -> Conflict:
    """The audit line of an export or of orphaned files could not be written (nothing else was)."""
    return Conflict("The action could not be recorded in the audit log; try again.", type="audit-refused")


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return utc_iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def as_record(row: Any) -> dict[str, Any]:
    """Every stored column of ``row`` (all fields, as the export promises), JSON-safe."""
    return {
        attr.key: _value(getattr(row, attr.key))
        for attr in inspect(row).mapper.column_attrs
        if attr.key not in INTERNAL
    }


@dataclass(frozen=True)
class ClientData:
    phone: str
    found: requests.ClientRequests
    calls: Sequence[Call]
    recordings: Sequence[CallRecording]
    files: Sequence[StoredFile]

    @property
    def empty(self) -> bool:
        return not (self.found.requests or self.found.events or self.calls or self.recordings)

    def document(self) -> dict[str, Any]:
        """The export's ``data.json``."""
        return {
            "phone": self.phone,
            "exported_at": utc_iso(utcnow()),
            "requests": [as_record(r) for r in self.found.requests],
            "request_events": [as_record(e) for e in self.found.events],
            "calls": [as_record(c) for c in self.calls],
            "call_recordings": [as_record(r) for r in self.recordings],
            "files": [as_record(f) for f in self.files],
        }

    def counts(self) -> dict[str, int]:
        return {
            "requests": len(self.found.requests),
            "request_events": len(self.found.events),
            "calls": len(self.calls),
            "call_recordings": len(self.recordings),
            "files": len(self.files),
        }


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only an admin exports or erases a client's personal data.")


async def find(session: AsyncSession, phone: str) -> ClientData:
    """Everything stored about ``phone`` (normalized), from each domain that holds some; 404 when nothing is."""
    found = await requests.find_client_data(session, phone)
    calls = await telephony.calls_of_caller(session, phone)
    recs = await recordings.recordings_of_client(session, phone, found.request_ids)
    stored = await files.files_of_owners(session, request_ids=found.request_ids, recording_ids=[r.id for r in recs])
    data = ClientData(phone=phone, found=found, calls=calls, recordings=recs, files=stored)
    if data.empty:
        raise NotFound("Nothing is stored about this phone.")
    return data


async def export(
    session: AsyncSession, principal: Principal, phone: str, client: ClientInfo, *, fmt: str
) -> ClientData:
    """What is stored about ``phone``, with the export written to the audit log (committed)."""
    _admin(principal)
    data = await find(session, phone)
    async with unit_of_work(session, not_recorded):
        _audit(session, "personal_data_exported", principal, client, phone, {"format": fmt, **data.counts()})
    return data


def _audit(
    session: AsyncSession,
    action: str,
    principal: Principal,
    client: ClientInfo,
    phone: str,
    data: dict[str, Any],
    result: str = "ok",
) -> None:
    """An audit line about a client's phone, which it names masked (the log outlives the erasure)."""
    audit.record(
        session,
        action,
        actor_id=principal.id,
        client=client,
        result=result,
        target_type=TARGET,
        target_id=mask_phone(phone),
        data=data,
    )


def live_files(data: ClientData) -> list[StoredFile]:
    """The files whose bytes the zip export carries (the deleted ones have none)."""
    return [f for f in data.files if f.deleted_at is None]


@dataclass(frozen=True)
class Erasure:
    counts: dict[str, int]
    orphans: list[str]  # ids of the files whose content the storage kept


async def erase(
    session: AsyncSession, storage: Storage, principal: Principal, phone: str, client: ClientInfo
) -> Erasure:
    """Anonymize everything stored about ``phone`` in one transaction, then delete the files' content."""
    _admin(principal)
    # Intakes of this phone take turns with the erasure (as they do with each other): a request taken meanwhile is
    # either erased with the rest or comes after it.
    await serialize(session, "client-phone", phone)
    data = await find(session, phone)
    actor = files.Actor(user_id=principal.id, ip=client.ip, user_agent=client.user_agent)
    async with unit_of_work(session, refused):
        erased = await requests.erase_client(session, principal, phone, data.found)
        calls = await telephony.erase_caller(session, phone)
        recordings.erase_recordings(data.recordings)
        doomed = files.erase(session, data.files, actor)
        counts = {
            "requests": erased.requests,
            "request_events": erased.events,
            "calls": calls,
            "call_recordings": len(data.recordings),
            "files": len(doomed),
        }
        _audit(session, "personal_data_erased", principal, client, phone, counts)
    orphans = await files.purge(storage, doomed)
    if orphans:
        async with unit_of_work(session, not_recorded):
            files_left = [{"id": f.id, "storage_key": f.storage_key} for f in orphans]
            _audit(session, "personal_data_orphans", principal, client, phone, {"files": files_left}, "failed")
        log.error("personal_data_orphans", files=len(orphans))
    return Erasure(counts=counts, orphans=[f.id for f in orphans])
