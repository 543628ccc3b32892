"""Stored files and who touched them (SPEC §2, §7)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.platform.db import Base, UTCDateTime, utcnow

KINDS = ("bso", "expense_receipt", "recording", "transaction_receipt")
ACTIONS = ("upload", "view", "download", "delete", "denied")
LIVE = text("deleted_at IS NULL")
OWNERS = ("request_id", "transaction_id", "recording_id")


class StoredFile(Base):
    __tablename__ = "files"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in KINDS)})", name="kind"),
        # Exactly one owner: a request, a transaction or a call recording.
        CheckConstraint(
            "(CASE WHEN request_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN transaction_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN recording_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
        CheckConstraint("size >= 0", name="size"),
        Index("ix_files_request_id", "request_id", sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_files_transaction_id", "transaction_id", sqlite_where=LIVE, postgresql_where=LIVE),
        Index("ix_files_recording_id", "recording_id", sqlite_where=LIVE, postgresql_where=LIVE),
        # One live file per owner, kind and content: concurrent uploads of the same bytes make one file. One index
        # per owner column, because NULLs never collide in a unique index.
        *(
            Index(
                f"uq_files_{owner}_kind_sha256",
                owner,
                "kind",
                "sha256",
                unique=True,
                sqlite_where=LIVE,
                postgresql_where=LIVE,
            )
            for owner in OWNERS
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID: ids of files are not guessable
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="RESTRICT"))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("transactions.id", ondelete="RESTRICT"))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("call_recordings.id", ondelete="RESTRICT"))
    original_name: Mapped[str] = mapped_column(String(255), nullable=False)
    content_type: Mapped[str] = mapped_column(String(100), nullable=False)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    storage_key: Mapped[str] = mapped_column(String(300), nullable=False, unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class FileAccess(Base):
    """One line per upload, view, download, delete or denial. The file id is kept as sent, so that a probe for a
    file that does not exist is logged too."""

    __tablename__ = "file_access_log"
    __table_args__ = (
        CheckConstraint(f"action IN ({', '.join(repr(a) for a in ACTIONS)})", name="action"),
        Index("ix_file_access_log_at_id", "at", "id"),
        Index("ix_file_access_log_file_id_at", "file_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    file_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(20), nullable=False)
    result: Mapped[str] = mapped_column(String(50), nullable=False)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
