"""The provider interface: a webhook delivery is validated, parsed once into a normalized :class:`CallEvent`, and
handed to the service, which upserts it idempotently. A second provider is a new module implementing
:class:`Provider`; the service and the routes do not change."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from leadflow.platform.problems import Forbidden, Problem, ValidationProblem


class EventKind(StrEnum):
    call = "call"  # a leg of a call changed state
    summary = "summary"  # the call is over: final timings and result
    other = "other"  # accepted, logged, otherwise ignored (recording, dtmf, record/added, ...)


class Direction(StrEnum):
    inbound = "inbound"
    outbound = "outbound"
    internal = "internal"


@dataclass(frozen=True)
class CallEvent:
    """One delivery, normalized. Phones are E.164 digits (or ``None`` when unknown); a line that is not a phone (a
    ``sip:`` URI) is kept as the provider wrote it, lower-cased."""

    provider: str
    kind: EventKind
    name: str  # the provider's event name, e.g. "call", "summary", "record/added"
    entry_id: str | None = None
    direction: Direction = Direction.inbound
    caller: str | None = None
    line: str | None = None
    at: dt.datetime | None = None  # when the event happened
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    duration_s: int | None = None


class BadSignature(Forbidden):
    type = "bad-signature"


class MalformedWebhook(ValidationProblem):
    type = "malformed-webhook"


class TelephonyNotConfigured(Problem):
    status = 404
    type = "telephony-not-configured"


class Provider(Protocol):
    name: str

    def parse(self, event: str, form: dict[str, str]) -> CallEvent:
        """Check the signature (:class:`BadSignature`), then parse the payload once (:class:`MalformedWebhook`)."""
        ...
