"""Reference data: cities, request types, service directions, cash-desk transaction types."""

from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from leadflow.platform.db import Base, TimestampMixin

# Codes the system itself relies on; they cannot be deleted, renamed in code, or deactivated.
FIRST_TIME = "first_time"
REPEAT = "repeat"
SYSTEM_REQUEST_TYPES = (FIRST_TIME, REPEAT)
MASTER_HANDOVER = "master_handover"
ADVERTISING_SPEND = "advertising_spend"
DEFAULT_TIMEZONE = "Europe/Moscow"


class City(TimestampMixin, Base):
    __tablename__ = "cities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default=DEFAULT_TIMEZONE)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class RequestType(TimestampMixin, Base):
    __tablename__ = "request_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class Direction(TimestampMixin, Base):
    __tablename__ = "directions"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)


class TransactionType(TimestampMixin, Base):
    __tablename__ = "transaction_types"
    __table_args__ = (CheckConstraint("kind IN ('income', 'expense')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    kind: Mapped[str] = mapped_column(String(10), nullable=False)
    system: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    code: Mapped[str | None] = mapped_column(String(50), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
