"""The answers of the personal-data routes. Rows are exported with every stored column, as plain objects, so the
export stays complete when a domain adds a column."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from leadflow.platform.schemas import OutputModel

Rows = list[dict[str, Any]]


class ClientExport(OutputModel):
    phone: str = Field(description="The phone, normalized.")
    exported_at: str
    requests: Rows = Field(description="The requests with this client phone (soft-deleted ones too), every field.")
    request_events: Rows = Field(
        description="Their history, and the history lines of other requests that name this phone."
    )
    calls: Rows = Field(description="The calls from this phone.")
    call_recordings: Rows = Field(description="The recordings from this phone or linked to those requests.")
    files: Rows = Field(description="The files of those requests and recordings (metadata; deleted ones too).")


class ErasureOut(OutputModel):
    phone_masked: str = Field(
        description="The phone, normalized and masked as the logs mask it: the answer of an erasure (which an "
        "Idempotency-Key keeps for a day) does not hold what was erased."
    )
    requests: int = Field(description="Requests anonymized.")
    request_events: int = Field(description="History lines whose personal values were replaced.")
    calls: int = Field(description="Calls whose caller number was removed.")
    call_recordings: int = Field(description="Recordings whose caller and name were removed.")
    files: int = Field(description="Files deleted (their rows kept, soft-deleted; their content removed).")
    orphaned_files: list[str] = Field(
        description="Ids of deleted files whose content the storage would not remove; listed in the audit log."
    )
