from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from leadflow.platform.schemas import InputModel, OutputModel, PatchModel
from leadflow.platform.timezones import TimeZoneName

Kind = Literal["income", "expense"]
# The name columns of the reference tables are VARCHAR(100); a longer name must be a 422, not a database error.
Name = Annotated[str, Field(min_length=1, max_length=100)]


class CityOut(OutputModel):
    id: int
    name: str
    timezone: str
    active: bool


class CityCreate(InputModel):
    name: Name
    timezone: TimeZoneName = "Europe/Moscow"
    active: bool = True


class CityUpdate(PatchModel):
    name: Name | None = None
    timezone: TimeZoneName | None = None
    active: bool | None = None


class RequestTypeOut(OutputModel):
    id: int
    code: str
    name: str
    active: bool


class RequestTypeCreate(InputModel):
    code: str = Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")
    name: Name
    active: bool = True


class RequestTypeUpdate(PatchModel):
    code: str | None = Field(default=None, min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")
    name: Name | None = None
    active: bool | None = None


class DirectionOut(OutputModel):
    id: int
    name: str
    active: bool


class DirectionCreate(InputModel):
    name: Name
    active: bool = True


class DirectionUpdate(PatchModel):
    name: Name | None = None
    active: bool | None = None


class TransactionTypeOut(OutputModel):
    id: int
    name: str
    kind: Kind
    system: bool
    active: bool


class TransactionTypeCreate(InputModel):
    name: Name
    kind: Kind
    active: bool = True


class TransactionTypeUpdate(PatchModel):
    name: Name | None = None
    kind: Kind | None = None
    active: bool | None = None
