"""Every call the telephony provider reported, one row per provider entry (SPEC §2, §6.1)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.platform.db import Base, TimestampMixin, UTCDateTime

OUTCOMES = ("created_request", "attached", "unmatched_line", "ignored")
DIRECTIONS = ("inbound", "outbound", "internal")


class Call(TimestampMixin, Base):
    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(f"outcome IN ({', '.join(repr(o) for o in OUTCOMES)})", name="outcome"),
        CheckConstraint(f"direction IN ({', '.join(repr(d) for d in DIRECTIONS)})", name="direction"),
        # The list: newest first, optionally by outcome; the recordings linker looks calls up by caller and time.
        Index("ix_calls_started_at_id", "started_at", "id"),
        Index("ix_calls_outcome_started_at", "outcome", "started_at"),
        Index("ix_calls_caller_started_at", "caller", "started_at"),
        Index("ix_calls_city_id_started_at", "city_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), nullable=False)
    # The provider's id of the whole call (every leg); the database refuses a second row for it.
    entry_id: Mapped[str] = mapped_column(String(128), nullable=False, unique=True)
    caller: Mapped[str | None] = mapped_column(String(20))
    line: Mapped[str | None] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(String(10), nullable=False)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("advertising_campaigns.id", ondelete="RESTRICT"), index=True
    )
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="SET NULL"), index=True)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_s: Mapped[int | None] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer, nullable=False, default=1)  # deliveries seen, duplicates included
