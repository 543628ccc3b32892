"""Advertising campaigns: a tracking phone number in a city, through a channel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.platform.db import Base, TimestampMixin, UTCDateTime


class Campaign(TimestampMixin, Base):
    __tablename__ = "advertising_campaigns"
    __table_args__ = (
        # A tracking number routes calls to one campaign: unique among the active ones (SPEC §2), enforced here.
        Index(
            "uq_advertising_campaigns_active_phone",
            "phone",
            unique=True,
            sqlite_where=text("active AND deleted_at IS NULL"),
            postgresql_where=text("active AND deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), nullable=False, index=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    channel: Mapped[str | None] = mapped_column(String(50), index=True)
    phone: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
