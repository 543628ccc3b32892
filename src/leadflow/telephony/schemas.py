from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from leadflow.platform.schemas import OutputModel, UtcDateTime

Outcome = Literal["created_request", "attached", "unmatched_line", "ignored"]


class CallOut(OutputModel):
    id: int
    provider: str
    entry_id: str
    caller: str | None
    line: str | None
    direction: Literal["inbound", "outbound", "internal"]
    city_id: int | None
    campaign_id: int | None
    request_id: int | None
    outcome: Outcome
    started_at: UtcDateTime
    answered_at: UtcDateTime | None
    ended_at: UtcDateTime | None
    duration_s: int | None


class WebhookAnswer(BaseModel):
    """What the provider gets back; it reads only the status code."""

    status: Literal["accepted", "ignored"]
    outcome: Outcome | None = None
