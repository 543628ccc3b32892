"""Report shapes (SPEC Appendix A): ``{items, totals, period}``; money and rates are strings, rates may be null."""

from __future__ import annotations

import datetime as dt
from typing import Generic, TypeVar

from pydantic import BaseModel

from leadflow.platform.schemas import MoneyOut, UtcDateTime

Rate = str | None  # a percentage with two decimals ("33.33"); null when the denominator is zero
F = TypeVar("F", bound=BaseModel)
I = TypeVar("I", bound=BaseModel)  # noqa: E741


class Period(BaseModel):
    date_from: dt.date
    date_to: dt.date


class Report(BaseModel, Generic[I, F]):
    items: list[I]
    totals: F
    period: Period


class ByGroup(BaseModel):
    intake: int = 0
    awaiting: int = 0
    in_work: int = 0
    done: int = 0
    refused: int = 0


class CityFigures(BaseModel):
    requests_total: int
    requests_by_group: ByGroup
    done: int
    refused: int
    conversion_rate: Rate
    revenue: MoneyOut
    expenses: MoneyOut
    net: MoneyOut
    handover: MoneyOut
    cash_income: MoneyOut
    cash_expense: MoneyOut
    cash_net: MoneyOut
    active_masters: int
    average_check: MoneyOut | None


class CityKey(BaseModel):
    city_id: int
    city_name: str


# Items list their key first: class Item(Figures, Key) puts Key's fields before Figures' (pydantic follows the MRO).
class CityItem(CityFigures, CityKey):
    pass


class MasterFigures(BaseModel):
    assigned: int
    done: int
    refused: int
    in_work: int
    conversion_rate: Rate
    revenue: MoneyOut
    net: MoneyOut
    handover: MoneyOut
    earnings: MoneyOut
    average_check: MoneyOut | None


class MasterKey(BaseModel):
    master_id: int
    master_name: str
    city_id: int
    status: str
    last_activity_at: UtcDateTime | None


class MasterItem(MasterFigures, MasterKey):
    pass


class CampaignFigures(BaseModel):
    calls: int
    requests_total: int
    first_time: int
    repeat: int
    done: int
    conversion_rate: Rate
    revenue: MoneyOut
    handover: MoneyOut
    ad_spend: MoneyOut
    cost_per_request: MoneyOut | None
    roi: Rate


class CampaignKey(BaseModel):
    campaign_id: int
    campaign_name: str
    city_id: int
    channel: str | None


class CampaignItem(CampaignFigures, CampaignKey):
    pass


class OperatorFigures(BaseModel):
    requests_total: int
    booked: int
    refused: int
    not_reached: int
    booking_rate: Rate


class OperatorKey(BaseModel):
    operator_id: int
    operator_name: str


class OperatorItem(OperatorFigures, OperatorKey):
    pass


class Today(BaseModel):
    requests_total: int
    done: int
    revenue: MoneyOut
    cash_net: MoneyOut


class SummaryFigures(BaseModel):
    today: Today
    requests_total: int
    done: int
    revenue: MoneyOut
    cash_net: MoneyOut
    in_work: int


class SummaryItem(SummaryFigures, CityKey):
    pass


CitiesReport = Report[CityItem, CityFigures]
MastersReport = Report[MasterItem, MasterFigures]
CampaignsReport = Report[CampaignItem, CampaignFigures]
OperatorsReport = Report[OperatorItem, OperatorFigures]
SummaryReport = Report[SummaryItem, SummaryFigures]
