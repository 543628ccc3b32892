from __future__ import annotations

from pydantic import BaseModel, Field

from leadflow.platform.schemas import CompanyShare, PatchModel, ShareOut
from leadflow.platform.timezones import TimeZoneName


class RuntimeSettings(BaseModel):
    company_share: ShareOut
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
    business_timezone: TimeZoneName | None = None
