"""The reports' arithmetic (docs/reports.md): rates, money per unit and the totals row, half up to the cent."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from leadflow.platform.money import CENT, ZERO

HUNDRED = Decimal(100)  # a rate is a percentage


def rate(numerator: Decimal | int, denominator: Decimal | int) -> str | None:
    """A percentage with two decimals, half up; None when the denominator is zero."""
    if not denominator:
        return None
    return str((Decimal(numerator) * HUNDRED / Decimal(denominator)).quantize(CENT, rounding=ROUND_HALF_UP))


def ratio(numerator: Decimal, denominator: int | Decimal) -> Decimal | None:
    """Money per unit (average check, cost per request), half up; None when the denominator is zero."""
    if not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(CENT, rounding=ROUND_HALF_UP)


def summed(items: list[Any], fields: Iterable[str]) -> dict[str, Any]:
    """The totals row's base figures: each field added up over the items (money stays Decimal, counts int)."""
    return {f: sum((getattr(i, f) for i in items), start=ZERO if _is_money(items, f) else 0) for f in fields}


def _is_money(items: list[Any], field: str) -> bool:
    return bool(items) and isinstance(getattr(items[0], field), Decimal)
