"""The cash desk: income and expense transactions per city."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadflow.platform.db import Base, Money, TimestampMixin, UTCDateTime

if TYPE_CHECKING:
    from leadflow.catalog.models import TransactionType


class Transaction(TimestampMixin, Base):
    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # One live transaction per request: the master handover (SPEC §3.3). The database, not a check-then-insert,
        # keeps two simultaneous "done" saves from booking it twice.
        Index(
            "uq_transactions_live_request_id",
            "request_id",
            unique=True,
            sqlite_where=text("request_id IS NOT NULL AND deleted_at IS NULL"),
            postgresql_where=text("request_id IS NOT NULL AND deleted_at IS NULL"),
        ),
        Index("ix_transactions_city_id_occurred_on", "city_id", "occurred_on"),
        Index("ix_transactions_occurred_on_id", "occurred_on", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), nullable=False)
    type_id: Mapped[int] = mapped_column(ForeignKey("transaction_types.id", ondelete="RESTRICT"), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    occurred_on: Mapped[dt.date] = mapped_column(Date, nullable=False)
    payment_reason: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("requests.id", ondelete="RESTRICT"))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("advertising_campaigns.id", ondelete="RESTRICT"), index=True
    )
    master_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # Optimistic locking (SPEC §3.4): every UPDATE says WHERE version = <the version read> and bumps it.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    type: Mapped[TransactionType] = relationship(lazy="raise")

    @property
    def kind(self) -> str:
        return self.type.kind
