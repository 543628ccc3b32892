from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, PlainSerializer

from leadflow.accounts.schemas import CompanyShare
from leadflow.platform.schemas import PatchModel
from leadflow.platform.timezones import TimeZoneName

Zone = TimeZoneName


class RuntimeSettings(BaseModel):
    company_share: Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")]
    dedupe_window_minutes: int
    link_window_minutes: int
    recordings_retry_days: int
    require_2fa_for_admins: bool
    business_timezone: str


class RuntimeSettingsUpdate(PatchModel):
    company_share: CompanyShare | None = None
    dedupe_window_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    link_window_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    recordings_retry_days: int | None = Field(default=None, ge=1, le=365)
    require_2fa_for_admins: bool | None = None
    business_timezone: Zone | None = None
