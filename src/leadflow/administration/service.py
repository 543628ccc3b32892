"""Runtime settings: defaults from the environment, overridden by what an admin saved (which then wins)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.administration.models import AppSetting
from leadflow.administration.schemas import RuntimeSettings, RuntimeSettingsUpdate
from leadflow.audit import service as audit
from leadflow.platform.cache import Cache, invalidated_by
from leadflow.platform.client import ClientInfo
from leadflow.platform.db import unit_of_work
from leadflow.platform.problems import Conflict
from leadflow.platform.settings import Settings


def defaults(settings: Settings) -> dict[str, Any]:
    return {
        "company_share": settings.company_share,
        "dedupe_window_minutes": 30,
        "link_window_minutes": 30,
        "recordings_retry_days": 7,
        "require_2fa_for_admins": settings.require_2fa_for_admins,
        "business_timezone": settings.timezone,
    }


def _load(key: str, value: Any) -> Any:
    return Decimal(str(value)) if key == "company_share" else value


def _dump(key: str, value: Any) -> Any:
    return f"{value:.2f}" if key == "company_share" else value


async def get_settings(session: AsyncSession, settings: Settings) -> RuntimeSettings:
    values = defaults(settings)
    for row in await session.scalars(select(AppSetting)):
        if row.key in values:
            values[row.key] = _load(row.key, row.value)
    return RuntimeSettings(**values)


SETTINGS_TAG = "settings"


def _any_setting(_row: object) -> set[str]:
    return {SETTINGS_TAG}


def register_cache_taggers() -> None:
    """Any write to the runtime settings makes the remembered ones stale (see :func:`current_settings`)."""
    invalidated_by(AppSetting.__tablename__, _any_setting)


async def current_settings(session: AsyncSession, settings: Settings, cache: Cache) -> RuntimeSettings:
    """The runtime settings, kept in this process until an administrator changes them (in any process). Read-only:
    the same object answers every request."""
    return await cache.remember(("runtime-settings",), [SETTINGS_TAG], lambda: get_settings(session, settings))


async def two_factor_required_for_admins(session: AsyncSession, settings: Settings, cache: Cache | None = None) -> bool:
    if cache is not None:
        return (await current_settings(session, settings, cache)).require_2fa_for_admins
    row = await session.get(AppSetting, "require_2fa_for_admins")
    return bool(row.value) if row is not None else bool(defaults(settings)["require_2fa_for_admins"])


def _saved_meanwhile() -> Conflict:
    # Two admins saving a setting never saved before both insert its row; the second loses the primary key.
    return Conflict("Another administrator saved these settings just now; reload them and try again.")


async def update_settings(
    session: AsyncSession, settings: Settings, actor_id: int, data: RuntimeSettingsUpdate, client: ClientInfo
) -> RuntimeSettings:
    changes = data.changes()
    current = await get_settings(session, settings)
    diff: dict[str, list[Any]] = {}
    async with unit_of_work(session, _saved_meanwhile):
        for key, value in changes.items():
            row = await session.get(AppSetting, key)
            if row is None:
                session.add(AppSetting(key=key, value=_dump(key, value), updated_by_id=actor_id))
            else:
                row.value = _dump(key, value)
                row.updated_by_id = actor_id
            old = getattr(current, key)
            if old != value:
                diff[key] = [_dump(key, old), _dump(key, value)]
        if diff:
            audit.record(
                session, "settings_changed", actor_id=actor_id, client=client, target_type="settings", data=diff
            )
    return await get_settings(session, settings)
