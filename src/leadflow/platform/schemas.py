"""Base schemas shared by every domain: strict input models, UTC output, pages of results."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
)

from leadflow.platform.money import check_share
from leadflow.platform.phones import PhoneError, normalize_phone

T = TypeVar("T")


def utc_iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


UtcDateTime = Annotated[dt.datetime, PlainSerializer(utc_iso, return_type=str, when_used="json")]
CompanyShare = Annotated[Decimal, AfterValidator(check_share)]
ShareOut = Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")]
# Money in: a JSON string or number with at most two decimals, never negative, fits NUMERIC(12,2). Out: "101.01".
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2, allow_inf_nan=False)]
MoneyOut = ShareOut  # both are sent as strings with two decimals: "101.01", "0.50"


def _reasonable_moment(value: dt.datetime) -> dt.datetime:
    if not 2000 <= value.year <= 2100:
        raise ValueError("Use a time between the years 2000 and 2100.")
    return value


# Input timestamps must carry an offset (SPEC §4): a naive one is a 422, never silently taken as UTC. Years outside
# 2000..2100 are refused too (they are typos, and the far ends overflow when converted to UTC).
AwareDateTime = Annotated[AwareDatetime, AfterValidator(_reasonable_moment)]


def _phone(value: str) -> str:
    try:
        return normalize_phone(value)
    except PhoneError as exc:
        raise ValueError(str(exc)) from exc


# A phone as a person types it, normalized to E.164 digits (SPEC §4).
Phone = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_phone)]


class InputModel(BaseModel):
    """Write bodies: unknown fields are refused (a client never sets a server-owned field), NUL bytes too."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("NUL characters are not allowed.")
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


def no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("NUL characters are not allowed.")
    return value


# Ids are database integers: anything outside 1..2^31-1 is refused as input instead of overflowing a driver.
MAX_ID = 2**31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
