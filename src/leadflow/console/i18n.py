"""The console's languages: one message catalogue per language (``messages/<lang>.json``, the same keys in each, a
test checks it), the language of a request, and money, dates and times in the locale and the city's zone (Babel)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal

from leadflow.requests.workflow import label

LANGUAGES = ("ru", "en")
DEFAULT = "ru"
COOKIE = "lang"
MESSAGES = Path(__file__).parent / "messages"
LOCALES = {"ru": "ru_RU", "en": "en_GB"}


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(lang: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((MESSAGES / f"{lang}.json").read_text(encoding="utf-8"))
    return data


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The switch (cookie) first, then the browser's first supported language, else Russian."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


class Translator:
    """``t(key, **values)`` in one language, with the locale's formats for money, numbers, dates and times."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT
        self.locale = LOCALES[self.lang]
        self.messages = catalogue(self.lang)

    def __call__(self, key: str, **values: Any) -> str:
        text = self.messages.get(key)
        if text is None:  # a missing key is a bug the catalogue test catches; never a broken page
            return key
        return text.format(**values) if values else text

    def has(self, key: str) -> bool:
        return key in self.messages

    def status(self, code: Any) -> str:
        """A request status's label in this language (the requests domain's table: the one place labels live)."""
        return label(str(getattr(code, "value", code)), self.lang)

    @staticmethod
    def phone(digits: str | None) -> str:
        """``79161234567`` as ``+7 916 123-45-67`` (other lengths as ``+digits``; none as a dash)."""
        if not digits:
            return "—"
        if len(digits) == 11 and digits[0] == "7":
            return f"+7 {digits[1:4]} {digits[4:7]}-{digits[7:9]}-{digits[9:]}"
        return f"+{digits}"

    def api(self, message: str) -> str:
        """A service's message (English, as the API says it) in this language, when the catalogue has it."""
        return self.messages.get(f"api.{message}", message)

    def money(self, amount: Decimal | str | None) -> str:
        if amount is None or amount == "":
            return "—"
        # "1 234,50 ₽" / "1,234.50 ₽": the rouble sign in both languages (Babel's English name for it is "RUB")
        return f"{format_decimal(Decimal(amount), format='#,##0.00', locale=self.locale)}\u00a0₽"

    def number(self, value: Decimal | int | None) -> str:
        return "—" if value is None else format_decimal(value, locale=self.locale)

    def datetime(self, value: dt.datetime | None, zone: str | None = None, fmt: str = "short") -> str:
        if value is None:
            return "—"
        return format_datetime(_local(value, zone), fmt, locale=self.locale)

    def date(self, value: dt.date | dt.datetime | None, zone: str | None = None, fmt: str = "medium") -> str:
        if value is None:
            return "—"
        day = _local(value, zone).date() if isinstance(value, dt.datetime) else value
        return format_date(day, fmt, locale=self.locale)

    def time(self, value: dt.datetime | None, zone: str | None = None) -> str:
        if value is None:
            return "—"
        return format_time(_local(value, zone), "short", locale=self.locale)


def _local(value: dt.datetime, zone: str | None) -> dt.datetime:
    return value.astimezone(ZoneInfo(zone)) if zone else value
