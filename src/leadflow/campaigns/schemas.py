from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from leadflow.platform.export import Column
from leadflow.platform.schemas import Id, InputModel, OutputModel, PatchModel, Phone, UtcDateTime

Name = Annotated[str, Field(min_length=1, max_length=200)]
Channel = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[\w.-]+$")]


class CampaignOut(OutputModel):
    id: int
    city_id: int
    name: str
    channel: str | None
    phone: str
    active: bool
    created_at: UtcDateTime


# The CSV export of GET /campaigns: the list item's keys, Russian and English headers.
CSV_COLUMNS: list[Column] = [
    ("id", "№", "ID"),
    ("city_id", "Город (id)", "City ID"),
    ("name", "Название", "Name"),
    ("channel", "Канал", "Channel"),
    ("phone", "Номер", "Tracking number"),
    ("active", "Активна", "Active"),
    ("created_at", "Создана (UTC)", "Created (UTC)"),
]


def csv_item(row: Any) -> dict[str, Any]:
    return CampaignOut.model_validate(row).model_dump(mode="json")


class CampaignCreate(InputModel):
    city_id: Id
    name: Name
    channel: Channel | None = Field(default=None, description="Advertising channel, such as avito, yandex, leaflet.")
    phone: Phone = Field(description="The tracking number; stored normalized (79161234567).")
    active: bool = True


class CampaignUpdate(PatchModel):
    nullable_fields = frozenset({"channel"})

    city_id: Id | None = None
    name: Name | None = None
    channel: Channel | None = None
    phone: Phone | None = None
    active: bool | None = None
