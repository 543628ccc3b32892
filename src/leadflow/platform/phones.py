"""Phone numbers as SPEC §4 normalizes them (Russian numbering by default)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s().\-]")


class PhoneError(ValueError):
    pass


def normalize_phone(raw: str) -> str:
    """``8 (916) 123-45-67`` → ``79161234567``. Spaces, brackets, dashes, dots and a leading ``+`` are dropped; any
    other character is an error; a leading 8 of an 11-digit number becomes 7; ten digits get a 7 in front; the result
    must be 11–15 digits, not only zeros."""
    text = _SEPARATORS.sub("", raw.strip())
    text = text.removeprefix("+")
    if not text.isascii() or not text.isdigit():
        raise PhoneError("A phone number may contain only digits, spaces, brackets, dashes, dots and a leading +.")
    if not text.strip("0"):
        # No such number exists; it is a placeholder typed to get past the field.
        raise PhoneError("A phone number cannot be only zeros.")
    if len(text) == 11 and text.startswith("8"):
        text = "7" + text[1:]
    elif len(text) == 10:
        text = "7" + text
    if not 11 <= len(text) <= 15:
        raise PhoneError("A phone number must have 10 to 15 digits.")
    return text
