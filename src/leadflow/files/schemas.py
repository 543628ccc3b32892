from __future__ import annotations

from typing import Any, Literal

from pydantic import computed_field

from leadflow.platform.api import API_PREFIX
from leadflow.platform.export import Column
from leadflow.platform.schemas import OutputModel, UtcDateTime

FileKind = Literal["bso", "expense_receipt", "recording", "transaction_receipt"]
RequestFileKind = Literal["bso", "expense_receipt"]
Action = Literal["upload", "view", "download", "delete", "denied"]


class FileOut(OutputModel):
    id: str
    kind: FileKind
    original_name: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: UtcDateTime
    uploaded_by_id: int | None

    @computed_field(description="Where to download it (signed-in, owner-based access; no public URL).")  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        return f"{API_PREFIX}/files/{self.id}"


class FileAccessOut(OutputModel):
    id: int
    file_id: str | None
    user_id: int | None
    action: Action
    result: str
    ip: str | None
    user_agent: str | None
    at: UtcDateTime


# The CSV export of GET /file-access-log: the list item's keys, Russian and English headers.
ACCESS_CSV_COLUMNS: list[Column] = [
    ("id", "№", "ID"),
    ("at", "Время (UTC)", "At (UTC)"),
    ("file_id", "Файл (id)", "File ID"),
    ("user_id", "Кто (id)", "User ID"),
    ("action", "Действие", "Action"),
    ("result", "Результат", "Result"),
    ("ip", "IP", "IP"),
    ("user_agent", "User-Agent", "User agent"),
]


def access_csv_item(row: Any) -> dict[str, Any]:
    return FileAccessOut.model_validate(row).model_dump(mode="json")
