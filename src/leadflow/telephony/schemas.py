from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from leadflow.platform.export import Column
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


# The CSV export of GET /calls: the list item's keys, Russian and English headers.
CSV_COLUMNS: list[Column] = [
    ("id", "№", "ID"),
    ("started_at", "Начало (UTC)", "Started (UTC)"),
    ("provider", "Провайдер", "Provider"),
    ("entry_id", "ID звонка у провайдера", "Provider entry ID"),
    ("caller", "Звонящий", "Caller"),
    ("line", "Линия", "Line"),
    ("direction", "Направление", "Direction"),
    ("city_id", "Город (id)", "City ID"),
    ("campaign_id", "Кампания (id)", "Campaign ID"),
    ("request_id", "Заявка (id)", "Request ID"),
    ("outcome", "Итог", "Outcome"),
    ("answered_at", "Ответ (UTC)", "Answered (UTC)"),
    ("ended_at", "Конец (UTC)", "Ended (UTC)"),
    ("duration_s", "Разговор, с", "Talk, s"),
]


def csv_item(row: object) -> dict[str, object]:
    return CallOut.model_validate(row).model_dump(mode="json")


class WebhookAnswer(BaseModel):
    """What the provider gets back; it reads only the status code."""

    status: Literal["accepted", "ignored"]
    outcome: Outcome | None = None
