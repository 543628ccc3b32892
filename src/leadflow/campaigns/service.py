"""Campaigns: who sees and changes which (SPEC §1, §5), and one live campaign per tracking number."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.models import CAMPAIGN_WRITERS
from leadflow.accounts.policies import Principal, may_see_city, scoped_to_cities
from leadflow.campaigns.models import Campaign
from leadflow.campaigns.schemas import CampaignCreate, CampaignUpdate
from leadflow.catalog import service as catalog
from leadflow.platform.db import paginate, stream, unit_of_work, utcnow
from leadflow.platform.problems import Conflict, FieldError, Forbidden, NotFound, ValidationProblem
from leadflow.platform.schemas import PageParams


def _phone_taken() -> Conflict:
    return Conflict(
        "Another active campaign already uses this tracking number.",
        type="duplicate-phone",
        errors=[FieldError("phone", "Another active campaign already uses this tracking number.")],
    )


def _visible(principal: Principal) -> Select[Campaign]:
    query = select(Campaign).where(Campaign.deleted_at.is_(None))
    return scoped_to_cities(query, Campaign.city_id, principal)


CAMPAIGN_ORDER = (Campaign.created_at.desc(), Campaign.id.desc())


async def list_campaigns(
    session: AsyncSession, principal: Principal, page: PageParams, **filters: Any
) -> tuple[Sequence[Campaign], int]:
    """One page of the campaigns of the caller's cities (filters: ``_campaigns``), newest first, and their count."""
    return await paginate(session, _campaigns(principal, **filters), page, *CAMPAIGN_ORDER)


def export_campaigns(session: AsyncSession, principal: Principal, **filters: Any) -> AsyncIterator[Sequence[Campaign]]:
    """Every campaign the list would show, in its order, in batches (the CSV export)."""
    return stream(session, _campaigns(principal, **filters), *CAMPAIGN_ORDER)


def _campaigns(
    principal: Principal,
    *,
    city_id: int | None = None,
    channel: str | None = None,
    active: bool | None = None,
    q: str | None = None,
) -> Select[Campaign]:
    query = _visible(principal)
    if city_id is not None:
        query = query.where(Campaign.city_id == city_id)
    if channel:
        query = query.where(func.lower(Campaign.channel) == channel.lower())
    if active is not None:
        query = query.where(Campaign.active.is_(active))
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        conditions = [func.lower(Campaign.name).contains(q.lower(), autoescape=True)]
        if digits:
            conditions.append(Campaign.phone.contains(digits, autoescape=True))
        query = query.where(or_(*conditions))
    return query


async def get_campaign(session: AsyncSession, principal: Principal, campaign_id: int) -> Campaign:
    campaign = await session.scalar(_visible(principal).where(Campaign.id == campaign_id))
    if campaign is None:
        raise NotFound(f"No campaign with id {campaign_id}.")
    return campaign


async def find_visible(session: AsyncSession, principal: Principal, campaign_id: int) -> Campaign | None:
    """A campaign the principal may see, or None (for other domains validating a campaign id in a body)."""
    return await session.scalar(_visible(principal).where(Campaign.id == campaign_id))


async def _check_city(session: AsyncSession, principal: Principal, city_id: int) -> None:
    if not may_see_city(principal, city_id) or not await catalog.city_ids_exist(session, {city_id}):
        raise ValidationProblem.field("city_id", "Unknown city, or not one of your cities.")


async def _check_phone_free(session: AsyncSession, phone: str, own_id: int | None) -> None:
    query = select(Campaign.id).where(Campaign.phone == phone, Campaign.active, Campaign.deleted_at.is_(None))
    if own_id is not None:
        query = query.where(Campaign.id != own_id)
    if await session.scalar(query) is not None:
        raise _phone_taken()


def _check_writer(principal: Principal) -> None:
    if principal.role not in CAMPAIGN_WRITERS:
        raise Forbidden("Your role may read campaigns but not change them.")


async def create_campaign(session: AsyncSession, principal: Principal, data: CampaignCreate) -> Campaign:
    _check_writer(principal)
    await _check_city(session, principal, data.city_id)
    if data.active:
        await _check_phone_free(session, data.phone, None)
    campaign = Campaign(**data.model_dump())
    async with unit_of_work(session, _phone_taken):  # the unique index decides a race for one number
        session.add(campaign)
    return campaign


async def update_campaign(
    session: AsyncSession, principal: Principal, campaign_id: int, data: CampaignUpdate
) -> Campaign:
    campaign = await get_campaign(session, principal, campaign_id)
    _check_writer(principal)
    changes = data.changes()
    if "city_id" in changes:
        await _check_city(session, principal, changes["city_id"])
    phone = changes.get("phone", campaign.phone)
    if changes.get("active", campaign.active):
        await _check_phone_free(session, phone, campaign.id)
    async with unit_of_work(session, _phone_taken):
        for field, value in changes.items():
            setattr(campaign, field, value)
    return campaign


async def delete_campaign(session: AsyncSession, principal: Principal, campaign_id: int) -> None:
    """Soft delete: the campaign leaves every list and frees its tracking number; its requests keep the link."""
    campaign = await get_campaign(session, principal, campaign_id)
    _check_writer(principal)
    async with unit_of_work(session, _phone_taken):
        campaign.deleted_at = utcnow()
        campaign.active = False


async def active_by_line(session: AsyncSession, line: str) -> Campaign | None:
    """The live, active campaign whose tracking number is this (normalized) line: where a call is routed."""
    return await session.scalar(
        select(Campaign).where(Campaign.phone == line, Campaign.active.is_(True), Campaign.deleted_at.is_(None))
    )
