"""Requests (leads and orders) and their append-only history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadflow.platform.db import Base, Money, Share, TimestampMixin, UTCDateTime, utcnow
from leadflow.requests.workflow import STATUSES

if TYPE_CHECKING:
    from leadflow.accounts.models import User
    from leadflow.campaigns.models import Campaign
    from leadflow.catalog.models import City, Direction, RequestType

LIVE = text("deleted_at IS NULL")
_STATUS_CODES = ", ".join(f"'{s.value}'" for s in STATUSES)


class Request(TimestampMixin, Base):
    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_CODES})", name="status"),
        CheckConstraint("source IN ('telephony', 'manual', 'api')", name="source"),
        CheckConstraint("result IS NULL OR result >= 0", name="result"),
        CheckConstraint("expenses IS NULL OR expenses >= 0", name="expenses"),
        # The lists: newest first overall, per city, per status, per master (the id breaks ties). Partial on live rows,
        # so that counting a page's total is an index-only scan.
        *(
            Index(name, *columns, sqlite_where=LIVE, postgresql_where=LIVE)
            for name, columns in (
                ("ix_requests_created_at_id", ("created_at", "id")),
                ("ix_requests_city_id_created_at", ("city_id", "created_at")),
                ("ix_requests_status_created_at", ("status", "created_at")),
                ("ix_requests_city_id_status", ("city_id", "status")),
                ("ix_requests_master_id_status", ("master_id", "status")),
            )
        ),
        # Reports take done requests by completion time.
        Index("ix_requests_completed_at", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(30), nullable=False)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), nullable=False)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("advertising_campaigns.id", ondelete="RESTRICT"), index=True
    )
    request_type_id: Mapped[int] = mapped_column(ForeignKey("request_types.id", ondelete="RESTRICT"), nullable=False)
    direction_id: Mapped[int | None] = mapped_column(ForeignKey("directions.id", ondelete="RESTRICT"), index=True)
    client_phone: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    client_name: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(500))
    visit_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    problem: Mapped[str | None] = mapped_column(Text)
    master_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    was_assigned: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)  # ever offered to a master
    master_notes: Mapped[str | None] = mapped_column(Text)
    result: Mapped[Decimal | None] = mapped_column(Money)
    expenses: Mapped[Decimal | None] = mapped_column(Money)
    net_amount: Mapped[Decimal | None] = mapped_column(Money)
    master_handover: Mapped[Decimal | None] = mapped_column(Money)
    company_share: Mapped[Decimal | None] = mapped_column(Share)
    ats_number: Mapped[str | None] = mapped_column(String(20))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    call_center_notes: Mapped[str | None] = mapped_column(Text)
    callback_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    entry_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Optimistic locking (SPEC §3.4): every UPDATE says WHERE version = <the version read> and bumps it.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    status_changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    city: Mapped[City] = relationship(lazy="raise")
    campaign: Mapped[Campaign | None] = relationship(lazy="raise")
    request_type: Mapped[RequestType] = relationship(lazy="raise")
    direction: Mapped[Direction | None] = relationship(lazy="raise")
    master: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[master_id])


class RequestEvent(Base):
    """One line of a request's history: who did what, when. Never updated, never deleted."""

    __tablename__ = "request_events"
    __table_args__ = (Index("ix_request_events_request_id_id", "request_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"), nullable=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30), nullable=False)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str | None] = mapped_column(String(30))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
