"""The provider's attachment names (SPEC §6.2; ``fixtures/mango/recording_email``):
``YYYY.MM.DD__HH-MM-SS__<caller>__<line>.<ext>``, also with dashes in the date, and with a name (a line or an
employee) instead of a number on one side: the phone comes first for inbound calls, second for outbound ones.
The time is the provider account's local time."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from leadflow.platform.phones import PhoneError, normalize_phone

EXTENSIONS = frozenset({"mp3", "wav", "ogg", "m4a", "amr"})
NAME = re.compile(
    r"^(?P<y>\d{4})[.-](?P<mo>\d{2})[.-](?P<d>\d{2})__(?P<h>\d{2})-(?P<mi>\d{2})-(?P<s>\d{2})"
    r"__(?P<a>[^/\\]+?)__(?P<b>[^/\\]+)\.(?P<ext>[A-Za-z0-9]{2,4})$"
)


@dataclass(frozen=True)
class ParsedName:
    started_at: dt.datetime  # UTC
    caller: str | None  # E.164 digits
    line: str | None  # E.164 digits, or the name the provider wrote
    extension: str


def _phone(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except PhoneError:
        return None


def parse(name: str, zone: str) -> ParsedName | None:
    """The call the attachment records, or ``None`` when the name is not the provider's."""
    match = NAME.match(name.strip())
    if match is None or match["ext"].lower() not in EXTENSIONS:
        return None
    try:
        local = dt.datetime(
            int(match["y"]), int(match["mo"]), int(match["d"]), int(match["h"]), int(match["mi"]), int(match["s"])
        )
    except ValueError:
        return None
    if not 2000 <= local.year <= 2100:
        return None
    started = local.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)
    first, second = match["a"].strip(), match["b"].strip()
    first_phone, second_phone = _phone(first), _phone(second)
    if first_phone is not None:
        caller, line = first_phone, second_phone or second
    elif second_phone is not None:  # outbound: the employee or line first, the client second
        caller, line = second_phone, first
    else:
        return None
    return ParsedName(started_at=started, caller=caller, line=line[:128], extension=match["ext"].lower())
