from __future__ import annotations

from typing import Literal

from pydantic import computed_field

from leadflow.platform.api import API_PREFIX
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
