from __future__ import annotations

from typing import Annotated

from pydantic import Field

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
