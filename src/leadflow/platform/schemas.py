"""Base schemas shared by every domain: strict input models, UTC output, pages of results."""

from __future__ import annotations

import datetime as dt
import re
import types
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    Strict,
    ValidationInfo,
    field_validator,
)

from leadflow.platform.money import ascii_amount, check_share
from leadflow.platform.phones import PhoneError, normalize_phone

T = TypeVar("T")


def utc_iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[dt.datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]
CompanyShare = Annotated[Decimal, AfterValidator(check_share)]
ShareOut = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")]
# Money in: a JSON string or number with at most two decimals, never negative, fits NUMERIC(12,2). Out: "101.01".
# ASCII digits only: InputModel applies it to every Decimal field (a validator here would change its JSON schema).
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False)]
MoneyOut = ShareOut  # both are sent as strings with two decimals: "101.01", "0.50"


_NUMBER = re.compile(r"\s*[+-]?[0-9]+(\.[0-9]*)?\s*")


def _text_moment(value: Any) -> Any:
    # Pydantic reads a number (or a numeric string) as a Unix time in UTC: that carries no offset the client wrote.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("Use an ISO 8601 time with an offset, such as 2026-05-01T10:00:00+03:00.")
    return value


def _reasonable_moment(value: dt.datetime) -> dt.datetime:
    # The local year first (the far ends overflow when converted to UTC), then the moment itself, in UTC.
    if not 2000 <= value.year <= 2100 or not 2000 <= value.astimezone(dt.UTC).year <= 2100:
        raise ValueError("Use a time between the years 2000 and 2100 (UTC).")
    return value


# Input timestamps must carry an offset (SPEC §4): a naive one is a 422, never silently taken as UTC; a bare number
# too. Moments outside the years 2000..2100 in UTC are refused (they are typos).
AwareDateTime = Annotated[AwareDatetime, BeforeValidator(_text_moment), AfterValidator(_reasonable_moment)]


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except PhoneError as exc:
        raise ValueError(str(exc)) from exc


# A phone as a person types it, normalized to E.164 digits (SPEC §4).
Phone = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_phone)]


def _members(annotation: Any) -> list[Any]:
    """The types a field takes, without Annotated, unions and None: ``Id | None`` → ``[int]``."""
    members: list[Any] = []

    def walk(tp: Any) -> None:
        if get_origin(tp) is Annotated:
            walk(get_args(tp)[0])
        elif get_origin(tp) in (Union, types.UnionType):
            for arg in get_args(tp):
                walk(arg)
        elif tp is not type(None):
            members.append(tp)

    walk(annotation)
    return members


def _only(annotation: Any, kind: type) -> bool:
    members = _members(annotation)
    return bool(members) and all(tp is kind for tp in members)


class InputModel(BaseModel):
    """Write bodies: unknown fields are refused (a client never sets a server-owned field), NUL bytes too. Integers
    are strict: pydantic would read true, 1.0 and "1" as 1."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return no_nul(value)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_integer(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None or (isinstance(value, int) and not isinstance(value, bool)) or info.field_name is None:
            return value
        if _only(cls.model_fields[info.field_name].annotation, int):
            raise ValueError('Use an integer, such as 42 (not true, 1.0 or "1").')
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _ascii_decimal(cls, value: Any, info: ValidationInfo) -> Any:
        annotation = cls.model_fields[info.field_name].annotation if info.field_name else None
        if isinstance(value, str) and _only(annotation, Decimal):
            return ascii_amount(value)
        return value


def _drop_null_alternatives(schema: dict[str, Any], model: type[BaseModel]) -> None:
    nullable: frozenset[str] = getattr(model, "nullable_fields", frozenset())
    for name, prop in schema.get("properties", {}).items():
        options = prop.get("anyOf")
        if name in nullable or not options:
            continue
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            del prop["anyOf"]
            prop.update(kept[0])
        else:
            prop["anyOf"] = kept
        if prop.get("default", 0) is None:
            del prop["default"]


class PatchModel(InputModel):
    """Partial updates: every field may be left out, but only those named in ``nullable_fields`` may be set to null
    (to clear them). The OpenAPI schema says the same, and an explicit null elsewhere is a 422 on that field."""

    model_config = ConfigDict(json_schema_extra=_drop_null_alternatives)
    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable_fields:
            raise ValueError("May not be null; leave the field out to keep its value.")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, with their values."""
        return self.model_dump(exclude_unset=True)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 200


class PageParams(BaseModel):
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def envelope(self, items: Sequence[Any], total: int, **extra: Any) -> dict[str, Any]:
        """The body of every list answer (SPEC §4): this page's items, the total of all matching rows, and any
        list-specific extras (such as money totals)."""
        return {"items": items, "total": total, "page": self.page, "per_page": self.per_page, **extra}


def no_nul(value: T) -> T:
    """``value`` unchanged, unless it is text holding a NUL byte (which PostgreSQL text cannot store)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("NUL characters are not allowed.")
    return value


# Ids are database integers: anything outside 1..2^31-1 is refused as input instead of overflowing a driver. Strict:
# a JSON true is not the id 1, nor 1.0 (lists of ids too; InputModel applies the rule to every integer field).
MAX_ID = 2**31 - 1
Id = Annotated[int, Strict(), Field(ge=1, le=MAX_ID)]

# Integers written in a path or a query: plain decimal digits. int() would also read "+1", " 1", "1_0" and "1.0".
INTEGER_TEXT = re.compile(r"0|-?[1-9][0-9]*")


def integer_text(value: Any) -> Any:
    if isinstance(value, str) and not INTEGER_TEXT.fullmatch(value):
        raise ValueError("Use an integer in plain digits, such as 42.")
    return value
