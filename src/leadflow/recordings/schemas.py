from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from leadflow.files.schemas import FileOut
from leadflow.platform.schemas import Id, InputModel, OutputModel, UtcDateTime

LinkState = Literal["linked", "pending", "gave_up"]


class RecordingOut(OutputModel):
    id: int
    call_id: int | None
    request_id: int | None
    city_id: int | None
    file: FileOut | None
    caller: str | None
    line: str | None
    started_at: UtcDateTime
    duration_s: int | None
    source: Literal["mailbox", "upload"]
    original_name: str
    link_state: LinkState
    link_attempts: int
    created_at: UtcDateTime


class LinkIn(InputModel):
    request_id: Id


class SyncQueued(BaseModel):
    job: str
    run_id: int
    status: Literal["queued"]
