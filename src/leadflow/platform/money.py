"""Money and share rules shared by every domain (SPEC §3.3): amounts and shares are Decimal, two decimals."""

from __future__ import annotations

from decimal import Decimal

CENT = Decimal("0.01")


def check_share(value: Decimal) -> Decimal:
    """A share of the money (the company's or a master's): a fraction from 0 to 1 with at most two decimals."""
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise ValueError('Use a fraction from 0 to 1, such as "0.50".')
    if value != value.quantize(CENT):
        raise ValueError('Use at most two decimals, such as "0.45".')
    return value.quantize(CENT)
