from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from leadflow.files.schemas import FileOut
from leadflow.platform.concurrency import VersionIn
from leadflow.platform.export import Column
from leadflow.platform.periods import check_date
from leadflow.platform.schemas import (
    Id,
    InputModel,
    MoneyIn,
    MoneyOut,
    OutputModel,
    Page,
    PatchModel,
    UtcDateTime,
)

Kind = Literal["income", "expense"]
Amount = Annotated[MoneyIn, Field(gt=0, description="A positive amount; the type's kind gives the sign.")]
Reason = Annotated[str, Field(min_length=1, max_length=500)]
Notes = Annotated[str, Field(max_length=5000)]


BusinessDate = Annotated[dt.date, AfterValidator(check_date)]


class TransactionItem(OutputModel):
    id: int
    city_id: int
    type_id: int
    kind: Kind
    amount: MoneyOut
    occurred_on: dt.date
    payment_reason: str | None
    notes: str | None
    request_id: int | None
    campaign_id: int | None
    master_id: int | None
    created_by_id: int | None
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime


# The CSV export of GET /transactions: the list item's keys (and the type's name), Russian and English headers.
CSV_COLUMNS: list[Column] = [
    ("id", "№", "ID"),
    ("occurred_on", "Дата", "Date"),
    ("city_id", "Город (id)", "City ID"),
    ("type_id", "Тип (id)", "Type ID"),
    ("type_name", "Тип", "Type"),
    ("kind", "Вид", "Kind"),
    ("amount", "Сумма", "Amount"),
    ("payment_reason", "Основание", "Payment reason"),
    ("notes", "Примечание", "Notes"),
    ("request_id", "Заявка (id)", "Request ID"),
    ("campaign_id", "Кампания (id)", "Campaign ID"),
    ("master_id", "Мастер (id)", "Master ID"),
    ("created_by_id", "Автор (id)", "Created by ID"),
    ("created_at", "Создана (UTC)", "Created (UTC)"),
    ("updated_at", "Изменена (UTC)", "Updated (UTC)"),
]


def csv_item(row: Any) -> dict[str, Any]:
    """A transaction's CSV row: its list item, and the name of its type."""
    return {**TransactionItem.model_validate(row).model_dump(mode="json"), "type_name": row.type.name}


class TransactionOut(TransactionItem):
    files: list[FileOut] = Field(default_factory=list, description="Receipts (POST /transactions/{id}/files).")


class TransactionCreate(InputModel):
    city_id: Id
    type_id: Id
    amount: Amount
    occurred_on: BusinessDate
    payment_reason: Reason | None = None
    notes: Notes | None = None
    campaign_id: Id | None = None
    master_id: Id | None = None


class TransactionUpdate(PatchModel):
    nullable_fields = frozenset({"payment_reason", "notes", "campaign_id", "master_id"})

    city_id: Id | None = None
    type_id: Id | None = None
    amount: Amount | None = None
    occurred_on: BusinessDate | None = None
    payment_reason: Reason | None = None
    notes: Notes | None = None
    campaign_id: Id | None = None
    master_id: Id | None = None
    version: VersionIn = None


class MoneyTotals(OutputModel):
    income: MoneyOut
    expense: MoneyOut
    net: MoneyOut


class TransactionPage(Page[TransactionItem]):
    totals: MoneyTotals


class TypeAmount(OutputModel):
    type_id: int
    name: str
    kind: Kind
    amount: MoneyOut


class CityBalance(OutputModel):
    city_id: int
    city_name: str
    opening: MoneyOut
    income: MoneyOut
    expense: MoneyOut
    net: MoneyOut
    closing: MoneyOut
    by_type: list[TypeAmount]


class BalanceTotals(OutputModel):
    opening: MoneyOut
    income: MoneyOut
    expense: MoneyOut
    net: MoneyOut
    closing: MoneyOut


class Period(OutputModel):
    date_from: dt.date
    date_to: dt.date


class Balance(OutputModel):
    items: list[CityBalance]
    totals: BalanceTotals
    period: Period
