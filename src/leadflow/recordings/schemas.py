from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from leadflow.files.schemas import FileOut
from leadflow.platform.export import Column
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


# The CSV export of GET /call-recordings: the list item's keys (dotted into its file), Russian and English headers.
CSV_COLUMNS: list[Column] = [
    ("id", "№", "ID"),
    ("started_at", "Начало звонка (UTC)", "Call started (UTC)"),
    ("caller", "Звонящий", "Caller"),
    ("line", "Линия", "Line"),
    ("duration_s", "Длительность, с", "Duration, s"),
    ("source", "Источник", "Source"),
    ("original_name", "Имя файла", "File name"),
    ("link_state", "Привязка", "Link state"),
    ("link_attempts", "Попыток привязки", "Link attempts"),
    ("call_id", "Звонок (id)", "Call ID"),
    ("request_id", "Заявка (id)", "Request ID"),
    ("city_id", "Город (id)", "City ID"),
    ("file.id", "Файл (id)", "File ID"),
    ("file.size", "Размер, байт", "Size, bytes"),
    ("created_at", "Получена (UTC)", "Received (UTC)"),
]


def csv_item(pair: tuple[Any, Any | None]) -> dict[str, Any]:
    """A recording's CSV row from (the recording, its audio file): its list item."""
    return RecordingOut.build(*pair).model_dump(mode="json")


class LinkIn(InputModel):
    request_id: Id


class SyncQueued(BaseModel):
    job: str
    run_id: int
    status: Literal["queued"]
