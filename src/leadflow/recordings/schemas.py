from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from leadflow.files.schemas import FileOut
from leadflow.platform.schemas import Id, InputModel, OutputModel, UtcDateTime

LinkState = Literal["linked", "pending", "gave_up"]


class RecordingOut(OutputModel):
    id: int
    call_id: int | None
    request_id: int | None
    city_id: int | None
    file: FileOut | None = None
    caller: str | None
    line: str | None
    started_at: UtcDateTime
    duration_s: int | None
    source: Literal["mailbox", "upload"]
    original_name: str
    link_state: LinkState
    link_attempts: int
    created_at: UtcDateTime

    @classmethod
    def build(cls, row: Any, file: Any | None) -> RecordingOut:
        """The recording with its audio file (stored as a file owned by the recording)."""
        out = cls.model_validate(row)
        return out.model_copy(update={"file": FileOut.model_validate(file) if file is not None else None})


class LinkIn(InputModel):
    request_id: Id


class SyncQueued(BaseModel):
    job: str
    run_id: int
    status: Literal["queued"]
