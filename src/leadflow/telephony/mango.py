"""Mango Office VPBX (SPEC §6.1; payloads and quirks in ``shared/fixtures/mango``).

A delivery is a form of ``vpbx_api_key``, ``sign`` and ``json``; ``sign`` is the lowercase hex SHA-256 of
``key + json + salt`` over the ``json`` field exactly as received. Numbers arrive as numbers or numeric strings,
extensions as strings, a caller id may be missing, a line may be a ``sip:`` URI.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from typing import Annotated, Any
from urllib.parse import urlencode

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from leadflow.platform.phones import PhoneError, normalize_phone
from leadflow.platform.problems import FieldError, validation_errors
from leadflow.platform.schemas import no_nul
from leadflow.telephony.providers import BadSignature, CallEvent, Direction, EventKind, MalformedWebhook

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp()
KNOWN_EVENTS = {"call": EventKind.call, "summary": EventKind.summary}
# What the columns hold: requests.entry_id is VARCHAR(100) (calls.entry_id 128), calls.line VARCHAR(128), and
# calls.duration_s an INTEGER. A signed event that does not fit is refused (422) before anything is written.
ENTRY_ID_MAX = 100
LINE_MAX = 128
DURATION_MAX = 2**31 - 1


def _text(value: Any) -> Any:
    """Extensions and groups are documented as integers and sent as strings: accept both, keep text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Text = Annotated[str, BeforeValidator(_text)]
Line = Annotated[str, BeforeValidator(_text), Field(max_length=LINE_MAX)]
EntryId = Annotated[str, Field(min_length=1, max_length=ENTRY_ID_MAX)]


class _Model(BaseModel):
    # Unknown fields are the provider's business (new API versions add some); the shapes we read are strict.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        # A 422 here, not a driver error after the signature was accepted.
        return no_nul(value)


class Party(_Model):
    number: Text | None = None
    extension: Text | None = None
    line_number: Line | None = None


class CallPayload(_Model):
    entry_id: EntryId
    timestamp: int  # lax mode takes "1752585300" as the old examples send it
    seq: int | None = None
    call_state: str | None = None
    from_: Party = Field(default_factory=Party, alias="from")
    to: Party = Field(default_factory=Party)


class SummaryPayload(_Model):
    entry_id: EntryId
    call_direction: int | None = None
    from_: Party = Field(default_factory=Party, alias="from")
    to: Party = Field(default_factory=Party)
    line_number: Line | None = None
    create_time: int
    talk_time: int = 0
    end_time: int = 0
    entry_result: int = 0


def _moment(seconds: int, field: str) -> dt.datetime:
    if not EARLIEST <= seconds < LATEST:
        raise MalformedWebhook("A timestamp is not a plausible Unix time.", [FieldError(field, "Out of range.")])
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def _phone(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return normalize_phone(raw)
    except PhoneError:
        return None


def _line(raw: str | None) -> str | None:
    """A tracking line as a phone when it is one, else the provider's text (a ``sip:`` URI)."""
    if not raw or not raw.strip():
        return None
    return _phone(raw) or raw.strip().lower()[:LINE_MAX]  # the cut only guards lower() growing a string


class MangoProvider:
    name = "mango"

    def __init__(self, api_key: str, api_salt: str) -> None:
        self.api_key = api_key
        self.api_salt = api_salt

    def sign(self, payload: str) -> str:
        return hashlib.sha256((self.api_key + payload + self.api_salt).encode()).hexdigest()

    def delivery(self, payload: str | dict[str, Any]) -> str:
        """The form body the provider posts for ``payload`` (the ``json`` field exactly as given, or compact JSON):
        the other side of :meth:`parse`, for tests and benchmarks that play the provider."""
        text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        return urlencode({"vpbx_api_key": self.api_key, "sign": self.sign(text), "json": text})

    def parse(self, event: str, form: dict[str, str]) -> CallEvent:
        missing = [FieldError(f, "Required.") for f in ("vpbx_api_key", "sign", "json") if f not in form]
        if missing:
            raise MalformedWebhook("The delivery must carry vpbx_api_key, sign and json.", missing)
        payload = form["json"]
        key_ok = hmac.compare_digest(form["vpbx_api_key"].encode(), self.api_key.encode())
        sign_ok = hmac.compare_digest(form["sign"].strip().lower().encode(), self.sign(payload).encode())
        if not (key_ok and sign_ok):
            raise BadSignature("The signature does not match.")
        try:
            data = json.loads(payload)
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            raise MalformedWebhook("json is not valid JSON.", [FieldError("json", "Not JSON.")]) from exc
        if not isinstance(data, dict):
            raise MalformedWebhook("json must be an object.", [FieldError("json", "Not an object.")])
        kind = KNOWN_EVENTS.get(event, EventKind.other)
        entry_id = data.get("entry_id") if isinstance(data.get("entry_id"), str) else None
        try:
            if kind is EventKind.call:
                return self._call(CallPayload.model_validate(data))
            if kind is EventKind.summary:
                return self._summary(SummaryPayload.model_validate(data))
        except ValidationError as exc:
            errors = [FieldError(f"json.{e['field']}", e["message"]) for e in validation_errors(exc.errors())]
            raise MalformedWebhook("The payload does not have the documented shape.", errors) from exc
        return CallEvent(provider=self.name, kind=EventKind.other, name=event, entry_id=entry_id)

    def _call(self, p: CallPayload) -> CallEvent:
        at = _moment(p.timestamp, "json.timestamp")
        # An inbound leg names the line it came in on; an employee calling out has an extension and no line.
        if p.to.line_number:
            direction = Direction.inbound
        elif p.from_.extension and p.to.extension:
            direction = Direction.internal
        else:
            direction = Direction.outbound
        return CallEvent(
            provider=self.name,
            kind=EventKind.call,
            name="call",
            entry_id=p.entry_id,
            direction=direction,
            caller=_phone(p.from_.number) if direction is Direction.inbound else None,
            line=_line(p.to.line_number),
            at=at,
            answered_at=at if p.call_state == "Connected" else None,
            ended_at=None,
        )

    def _summary(self, p: SummaryPayload) -> CallEvent:
        started = _moment(p.create_time, "json.create_time")
        direction = {1: Direction.inbound, 2: Direction.outbound, 0: Direction.internal}.get(
            p.call_direction if p.call_direction is not None else 1, Direction.inbound
        )
        if direction is Direction.inbound and not p.line_number:
            direction = Direction.outbound
        # Answered means talked: the provider reports entry_result 1 with talk_time 0 for calls that ended in the IVR.
        answered = p.entry_result == 1 and p.talk_time > 0
        ended = _moment(p.end_time, "json.end_time") if p.end_time else None
        talked = _moment(p.talk_time, "json.talk_time") if answered else None
        duration = max(0, p.end_time - p.talk_time) if answered and p.end_time else 0
        if duration > DURATION_MAX:
            raise MalformedWebhook(
                "The call is longer than can be stored.", [FieldError("json.end_time", "Out of range.")]
            )
        return CallEvent(
            provider=self.name,
            kind=EventKind.summary,
            name="summary",
            entry_id=p.entry_id,
            direction=direction,
            caller=_phone(p.from_.number) if direction is Direction.inbound else None,
            line=_line(p.line_number),
            at=started,
            answered_at=talked,
            ended_at=ended,
            duration_s=duration,
        )
