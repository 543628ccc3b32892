"""The zip export: the stored files' bytes, streamed from the storage as they are read, then ``data.json``.

``data.json`` comes last so that it can say which files the archive holds and which content the storage could not
give (``archive.missing``). The files are stored uncompressed (audio and images are compressed already); the zip is
written with data descriptors, so nothing is ever held whole in memory or written to disk.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import AsyncIterator

import structlog

from leadflow.files.models import StoredFile
from leadflow.platform.storage import Storage
from leadflow.privacy.service import ClientData, live_files

log = structlog.get_logger("leadflow.privacy")

DATA_NAME = "data.json"


class _Sink(io.RawIOBase):
    """A write-only, unseekable file that hands out what was written since the last :meth:`take`."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


def entry_name(row: StoredFile) -> str:
    """The file's place in the archive: its id (unique) and its original name (a bare name since upload)."""
    name = row.original_name.replace("/", "_").replace("\\", "_")
    return f"files/{row.id}-{name}"


def _info(name: str, row: StoredFile | None, compress: int) -> zipfile.ZipInfo:
    moment = row.uploaded_at if row is not None else None
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second) if moment else None
    info = zipfile.ZipInfo(name, stamp or (1980, 1, 1, 0, 0, 0))
    info.compress_type = compress
    return info


async def stream(storage: Storage, data: ClientData) -> AsyncIterator[bytes]:
    """The zip archive of the export, chunk by chunk."""
    sink = _Sink()
    held: dict[str, str] = {}
    missing: list[str] = []
    with zipfile.ZipFile(sink, "w") as archive:
        for row in live_files(data):
            try:
                present = await storage.exists(row.storage_key)
            except Exception as exc:
                log.error("export_file_unreadable", file_id=row.id, error=type(exc).__name__)
                present = False
            if not present:
                missing.append(row.id)
                continue
            name = entry_name(row)
            with archive.open(_info(name, row, zipfile.ZIP_STORED), "w") as entry:
                async for chunk in storage.read(row.storage_key):
                    entry.write(chunk)
                    yield sink.take()
            held[row.id] = name
            yield sink.take()
        document = data.document() | {"archive": {"files": held, "missing": missing}}
        text = json.dumps(document, ensure_ascii=False, indent=2)
        archive.writestr(_info(DATA_NAME, None, zipfile.ZIP_DEFLATED), text)
    yield sink.take()
