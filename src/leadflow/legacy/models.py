"""Which Leadflow row each LeadSchem row became: the importer's memory between runs.

A row is keyed by the legacy table (or ``table.column`` for a file path) and the legacy id; ``target_id`` is the
Leadflow id (an integer as text, or a file's UUID). A second run finds every row here and writes nothing; a later
run brings only the rows that are not here yet.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.platform.db import Base, UTCDateTime, utcnow


class LegacyImportMap(Base):
    __tablename__ = "legacy_import_map"

    legacy_table: Mapped[str] = mapped_column(String(60), primary_key=True)
    legacy_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), nullable=False)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
