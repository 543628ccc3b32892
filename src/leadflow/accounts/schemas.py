from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from leadflow.accounts.models import Role, UserStatus
from leadflow.platform.export import Column
from leadflow.platform.schemas import (
    CompanyShare,
    Id,
    InputModel,
    OutputModel,
    PatchModel,
    Phone,
    ShareOut,
    UtcDateTime,
)
from leadflow.platform.security import PASSWORD_MAX_LENGTH, password_problem


def _password(value: str) -> str:
    problem = password_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _birth(value: dt.date) -> dt.date:
    if not dt.date(1900, 1, 1) <= value <= dt.date.today():
        raise ValueError("The birth date is out of range.")
    return value


BirthDate = Annotated[dt.date, AfterValidator(_birth)]
# Passwords are taken exactly as typed (spaces included) at every entry point; only other strings are trimmed.
RawPassword = Annotated[
    str, StringConstraints(strip_whitespace=False), Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
]
NewPassword = Annotated[
    str,
    StringConstraints(strip_whitespace=False),
    Field(max_length=PASSWORD_MAX_LENGTH),
    AfterValidator(_password),
]
Login = Annotated[str, Field(min_length=3, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")]
FullName = Annotated[str, Field(min_length=1, max_length=200)]


# Sign-in --------------------------------------------------------------------------------------------------------
class LoginBody(InputModel):
    login: str = Field(min_length=1, max_length=100)
    password: RawPassword
    otp: str | None = Field(default=None, max_length=20)


class RefreshBody(InputModel):
    refresh_token: str | None = Field(default=None, max_length=200)


class TokenPair(OutputModel):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int


class PasswordChange(InputModel):
    current_password: RawPassword
    new_password: NewPassword


class PasswordReset(InputModel):
    password: NewPassword


class TotpSetup(BaseModel):
    secret: str
    otpauth_uri: str


class TotpConfirm(InputModel):
    code: str = Field(min_length=6, max_length=20, description="A current code of the secret from the set-up.")
    password: RawPassword = Field(description="Your current password: a session alone cannot turn 2FA on.")


class TotpDisable(InputModel):
    password: RawPassword
    otp: str = Field(min_length=6, max_length=20, description="A current code or an unused recovery code.")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


# Users ----------------------------------------------------------------------------------------------------------
class MasterProfileIn(InputModel):
    city_id: Id
    phone: Phone
    birth_date: BirthDate | None = None
    passport: str | None = Field(default=None, max_length=50)
    telegram_chat_id: str | None = Field(default=None, max_length=100)
    company_share: CompanyShare | None = None
    notes: str | None = Field(default=None, max_length=5000)


class MasterProfileUpdate(PatchModel):
    nullable_fields = frozenset({"birth_date", "passport", "telegram_chat_id", "company_share", "notes"})

    city_id: Id | None = None
    phone: Phone | None = None
    birth_date: BirthDate | None = None
    passport: str | None = Field(default=None, max_length=50)
    telegram_chat_id: str | None = Field(default=None, max_length=100)
    company_share: CompanyShare | None = None
    notes: str | None = Field(default=None, max_length=5000)


class UserCreate(InputModel):
    login: Login
    password: NewPassword
    full_name: FullName
    role: Role
    city_ids: list[Id] = Field(default_factory=list, max_length=500)
    master: MasterProfileIn | None = None


class UserUpdate(PatchModel):
    login: Login | None = None
    full_name: FullName | None = None
    role: Role | None = None
    city_ids: list[Id] | None = Field(default=None, max_length=500)
    master: MasterProfileUpdate | None = None


class MasterUpdate(MasterProfileUpdate):
    """``PATCH /masters/{id}``: the profile plus the account's name."""

    full_name: FullName | None = None


class MasterProfileOut(OutputModel):
    city_id: int
    phone: str
    birth_date: dt.date | None
    telegram_chat_id: str | None
    company_share: ShareOut | None
    notes: str | None


class MasterProfileDetail(MasterProfileOut):
    passport: str | None


class UserListItem(OutputModel):
    id: int
    login: str
    full_name: str
    role: Role
    status: UserStatus
    city_ids: list[int]
    created_at: UtcDateTime
    last_login_at: UtcDateTime | None
    master: MasterProfileOut | None


class UserOut(UserListItem):
    master: MasterProfileDetail | None
    two_factor_enabled: bool


class LoginResult(OutputModel):
    user: UserOut


class MasterListItem(OutputModel):
    id: int
    login: str
    full_name: str
    status: UserStatus
    city_id: int
    phone: str
    birth_date: dt.date | None
    telegram_chat_id: str | None
    company_share: ShareOut | None
    notes: str | None


class MasterOut(MasterListItem):
    passport: str | None


class AuditEntryOut(OutputModel):
    id: int
    at: UtcDateTime
    actor_id: int | None
    action: str
    result: str
    target_type: str | None
    target_id: str | None
    login: str | None
    ip: str | None
    user_agent: str | None
    data: dict[str, Any] | None


# The CSV exports of GET /users and GET /audit-log: the list items' keys (dotted into a master's profile), Russian and
# English headers. A master's passport is never in a list, so never in its CSV either.
USER_CSV_COLUMNS: list[Column] = [
    ("id", "№", "ID"),
    ("login", "Логин", "Login"),
    ("full_name", "ФИО", "Full name"),
    ("role", "Роль", "Role"),
    ("status", "Статус", "Status"),
    ("city_ids", "Города (id)", "City IDs"),
    ("created_at", "Создан (UTC)", "Created (UTC)"),
    ("last_login_at", "Последний вход (UTC)", "Last login (UTC)"),
    ("master.city_id", "Город мастера (id)", "Master city ID"),
    ("master.phone", "Телефон мастера", "Master phone"),
    ("master.birth_date", "Дата рождения", "Birth date"),
    ("master.telegram_chat_id", "Telegram", "Telegram chat ID"),
    ("master.company_share", "Доля компании", "Company share"),
    ("master.notes", "Заметки", "Notes"),
]
AUDIT_CSV_COLUMNS: list[Column] = [
    ("id", "№", "ID"),
    ("at", "Время (UTC)", "At (UTC)"),
    ("actor_id", "Кто (id)", "Actor ID"),
    ("action", "Действие", "Action"),
    ("result", "Результат", "Result"),
    ("target_type", "Объект", "Target type"),
    ("target_id", "Объект (id)", "Target ID"),
    ("login", "Логин", "Login"),
    ("ip", "IP", "IP"),
    ("user_agent", "User-Agent", "User agent"),
    ("data", "Данные", "Data"),
]


def user_csv_item(row: Any) -> dict[str, Any]:
    return UserListItem.model_validate(row).model_dump(mode="json")


def audit_csv_item(row: Any) -> dict[str, Any]:
    return AuditEntryOut.model_validate(row).model_dump(mode="json")
