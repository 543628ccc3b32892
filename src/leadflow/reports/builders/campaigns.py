"""The campaigns report: calls, requests, conversion, ad spend, cost per request and ROI per campaign."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.campaigns.models import Campaign
from leadflow.cash.models import Transaction
from leadflow.catalog.models import RequestType
from leadflow.reports import schemas as s
from leadflow.reports.access import Scope
from leadflow.reports.arithmetic import rate, ratio, summed
from leadflow.reports.sql import LIVE_REQUEST, cash_sums, completed_sums, keyed_rows, sum_of
from leadflow.reports.windows import during
from leadflow.requests.models import Request
from leadflow.telephony.models import Call


async def campaigns(session: AsyncSession, scope: Scope) -> s.CampaignsReport:
    spans = scope.spans
    rows = (
        await session.execute(
            select(Campaign.id, Campaign.name, Campaign.city_id, Campaign.channel)
            .where(Campaign.deleted_at.is_(None), Campaign.city_id.in_(scope.city_ids))
            .order_by(Campaign.name, Campaign.id)
        )
    ).all()
    first_time = case((RequestType.code == "first_time", 1), else_=0)
    repeat = case((RequestType.code == "repeat", 1), else_=0)
    created = await keyed_rows(
        session,
        select(
            Request.campaign_id,
            func.count().label("total"),
            sum_of(first_time).label("first_time"),
            sum_of(repeat).label("repeat"),
        )
        .join(RequestType, RequestType.id == Request.request_type_id)
        .where(LIVE_REQUEST, Request.campaign_id.is_not(None), during(Request.created_at, Request.city_id, spans))
        .group_by(Request.campaign_id),
    )
    completed = await keyed_rows(
        session, completed_sums(Request.campaign_id, spans).where(Request.campaign_id.is_not(None))
    )
    calls = await keyed_rows(
        session,
        select(Call.campaign_id, func.count().label("calls"))
        .join(Campaign, Campaign.id == Call.campaign_id)
        .where(during(Call.started_at, Campaign.city_id, spans))
        .group_by(Call.campaign_id),
    )
    spend = await keyed_rows(
        session,
        cash_sums(Transaction.campaign_id, spans, Transaction.campaign_id.is_not(None)),
    )
    items = []
    for campaign_id, name, city_id, channel in rows:
        c, d, k, m = (
            created.of(campaign_id),
            completed.of(campaign_id),
            calls.of(campaign_id),
            spend.of(campaign_id),
        )
        items.append(
            s.CampaignItem(
                campaign_id=campaign_id,
                campaign_name=name,
                city_id=city_id,
                channel=channel,
                **_campaign_figures(
                    calls=k.count("calls"),
                    requests_total=c.count("total"),
                    first_time=c.count("first_time"),
                    repeat=c.count("repeat"),
                    done=d.count("done"),
                    revenue=d.money("revenue"),
                    handover=d.money("handover"),
                    ad_spend=m.money("expense"),
                ),
            )
        )
    totals = s.CampaignFigures(
        **_campaign_figures(
            **summed(
                items, ("calls", "requests_total", "first_time", "repeat", "done", "revenue", "handover", "ad_spend")
            )
        )
    )
    return s.CampaignsReport(items=items, totals=totals, period=scope.period)


def _campaign_figures(
    *,
    calls: int,
    requests_total: int,
    first_time: int,
    repeat: int,
    done: int,
    revenue: Decimal,
    handover: Decimal,
    ad_spend: Decimal,
) -> dict[str, Any]:
    """A campaign's (or the totals row's) figures from its base counts and sums."""
    return {
        "calls": calls,
        "requests_total": requests_total,
        "first_time": first_time,
        "repeat": repeat,
        "done": done,
        "conversion_rate": rate(done, requests_total),
        "revenue": revenue,
        "handover": handover,
        "ad_spend": ad_spend,
        "cost_per_request": ratio(ad_spend, requests_total),
        "roi": rate(handover - ad_spend, ad_spend),
    }
