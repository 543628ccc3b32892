from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, PlainSerializer

from leadflow.accounts.schemas import CompanyShare
from leadflow.platform.schemas import InputModel


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # a directory such as "Europe" is an OSError
        raise ValueError("Unknown IANA time zone.") from exc
    return value


Zone = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_zone)]


class RuntimeSettings(BaseModel):
    company_share: Annotated[Decimal, PlainSerializer(lambda v: f"{v:.2f}", return_type=str, when_used="json")]
    dedupe_window_minutes: int
    link_window_minutes: int
    recordings_retry_days: int
    require_2fa_for_admins: bool
    business_timezone: str


class RuntimeSettingsUpdate(InputModel):
    company_share: CompanyShare | None = None
    dedupe_window_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    link_window_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    recordings_retry_days: int | None = Field(default=None, ge=1, le=365)
    require_2fa_for_admins: bool | None = None
    business_timezone: Zone | None = None
