"""Accounts: users and their cities, master profiles, sign-in sessions, the login throttle."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadflow.platform.db import Base, Share, TimestampMixin, UTCDateTime, utcnow


class Role(StrEnum):
    admin = "admin"
    director = "director"
    operator = "operator"
    marketer = "marketer"
    master = "master"


ROLE_RANK = {Role.admin: 3, Role.director: 2, Role.operator: 1, Role.marketer: 1, Role.master: 0}

# Role groups by what they may do: a rule names its group rather than spelling out roles, so that a change of who
# may do something is one edit here.
MANAGERS = frozenset({Role.admin, Role.director})  # accounts and master profiles, the cash desk, business metrics
INTAKE_WRITERS = frozenset({Role.admin, Role.director, Role.operator})  # calls, recordings, new requests
REQUEST_WORKERS = INTAKE_WRITERS | {Role.master}  # work on requests, so read the masters who take them
EARNINGS_READERS = MANAGERS | {Role.master}  # a master's earnings: the managers and the master themself
CAMPAIGN_WRITERS = frozenset({Role.admin, Role.director, Role.marketer})
CAMPAIGN_READERS = CAMPAIGN_WRITERS | {Role.operator}  # operators read campaigns but never change them
MANAGED_BY_DIRECTOR = frozenset({Role.master, Role.operator})  # the accounts a director may create and manage
CITYLESS = frozenset({Role.admin, Role.master})  # no city list: every city, or the master profile's one
CITY_LIST_OPTIONAL = frozenset({Role.operator, Role.marketer})  # an empty city list means every city


class UserStatus(StrEnum):
    active = "active"
    blocked = "blocked"


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        Index(
            "uq_users_login_lower",
            func.lower(text("login")),
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        CheckConstraint("role IN ('admin', 'director', 'operator', 'marketer', 'master')", name="role"),
        CheckConstraint("status IN ('active', 'blocked')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(String(100), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    full_name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=UserStatus.active)
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)  # the last accepted TOTP time step (no replay)
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    cities: Mapped[list[UserCity]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="UserCity.city_id"
    )
    master: Mapped[MasterProfile | None] = relationship(lazy="raise", cascade="all, delete-orphan", uselist=False)

    @property
    def city_ids(self) -> list[int]:
        return [c.city_id for c in self.cities]


class RecoveryCode(Base):
    """A one-time 2FA recovery code, stored hashed; spending one deletes its row (atomic on every backend)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (UniqueConstraint("user_id", "code_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    code_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class UserCity(Base):
    __tablename__ = "user_cities"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), primary_key=True, index=True)


class MasterProfile(TimestampMixin, Base):
    __tablename__ = "masters"
    __table_args__ = (CheckConstraint("company_share >= 0 AND company_share <= 1", name="company_share"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("cities.id", ondelete="RESTRICT"), nullable=False, index=True)
    phone: Mapped[str] = mapped_column(String(20), nullable=False)
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    passport: Mapped[str | None] = mapped_column(String(50))
    telegram_chat_id: Mapped[str | None] = mapped_column(String(100))
    company_share: Mapped[Decimal | None] = mapped_column(Share)
    notes: Mapped[str | None] = mapped_column(Text)


class AuthSession(Base):
    """One refresh-token family. The current token's hash is kept; a token of an older generation is a reuse."""

    __tablename__ = "auth_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    refresh_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    nonce: Mapped[str] = mapped_column(String(64), nullable=False)
    generation: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    client: Mapped[str] = mapped_column(String(10), nullable=False)  # browser | api
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    last_used_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(50))


class LoginThrottle(Base):
    """Failed sign-ins per login (the database backend of the lockout; Redis takes this role when configured)."""

    __tablename__ = "login_throttle"

    login_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    window_started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
