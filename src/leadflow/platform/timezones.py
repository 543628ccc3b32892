"""IANA time zone names, validated against the zone database (``tzdata``), not by trying to open a file."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_zone(value: str) -> str:
    """The name itself when it is a real IANA zone such as ``Europe/Moscow``; ValueError otherwise (``Europe``,
    ``localtime`` and file-system paths included)."""
    if value not in _zones():
        raise ValueError(f"Unknown IANA time zone {value!r}; use a name such as Europe/Moscow.")
    return value


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(check_zone)]
