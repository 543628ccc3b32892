"""Money and share rules shared by every domain (SPEC §3.3): amounts and shares are Decimal, two decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_money(value: Any) -> Decimal:
    """A sum from the database (a Decimal, a float on SQLite, or None for an empty set) as a two-decimal amount."""
    return Decimal(str(value or 0)).quantize(CENT)


def check_share(value: Decimal) -> Decimal:
    """A share of the money (the company's or a master's): a fraction from 0 to 1 with at most two decimals."""
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(1):
        raise ValueError('Use a fraction from 0 to 1, such as "0.50".')
    if value != value.quantize(CENT):
        raise ValueError('Use at most two decimals, such as "0.45".')
    return value.quantize(CENT)


def ascii_amount(value: Any) -> Any:
    """Amounts as text in ASCII digits only: Decimal would read other scripts' digits ("١٠" as 10)."""
    if isinstance(value, str) and not value.isascii():
        raise ValueError('Use ASCII digits and a dot, such as "101.01".')
    return value
