"""The money rule of SPEC §3.3, in one place: net = result − expenses; handover = net × share, rounded half-up."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from leadflow.platform.money import CENT


@dataclass(frozen=True)
class Money:
    result: Decimal
    expenses: Decimal
    net_amount: Decimal
    master_handover: Decimal
    company_share: Decimal


def compute(result: Decimal, expenses: Decimal, company_share: Decimal) -> Money:
    """The derived amounts of a done request. The caller has checked ``0 <= expenses <= result``."""
    result, expenses = result.quantize(CENT), expenses.quantize(CENT)
    net = result - expenses
    handover = (net * company_share).quantize(CENT, rounding=ROUND_HALF_UP)
    return Money(result, expenses, net, handover, company_share)
