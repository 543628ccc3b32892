"""Call recordings and the mailbox read position (SPEC §2, §6.2)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.platform.db import Base, TimestampMixin, UTCDateTime

LINK_STATES = ("linked", "pending", "gave_up")
SOURCES = ("mailbox", "upload")


class CallRecording(TimestampMixin, Base):
    __tablename__ = "call_recordings"
    __table_args__ = (
        CheckConstraint(f"link_state IN ({', '.join(repr(s) for s in LINK_STATES)})", name="link_state"),
        CheckConstraint(f"source IN ({', '.join(repr(s) for s in SOURCES)})", name="source"),
        Index("ix_call_recordings_link_state_started_at", "link_state", "started_at"),
        Index("ix_call_recordings_started_at_id", "started_at", "id"),
        UniqueConstraint("content_sha256", "original_name", name="uq_call_recordings_content"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"), index=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), index=True)
    caller: Mapped[str | None] = mapped_column(String(20))
    line: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    original_name: Mapped[str] = mapped_column(String(255), nullable=False)
    # The same file (name and bytes) read twice, or mailed twice, is one row; two calls whose audio happens to be
    # identical (short silences) have different names and stay two.
    content_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    link_state: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    link_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class MailboxState(Base):
    """How far the sync has read a mailbox folder: the UIDVALIDITY it read under and the last UID it finished."""

    __tablename__ = "mailbox_state"

    mailbox: Mapped[str] = mapped_column(String(300), primary_key=True)  # user@host/folder
    uidvalidity: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_uid: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
