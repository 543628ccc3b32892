from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, computed_field

from leadflow.accounts.models import Role
from leadflow.files.schemas import FileOut
from leadflow.platform.concurrency import VersionIn
from leadflow.platform.export import Column
from leadflow.platform.schemas import (
    AwareDateTime,
    Id,
    InputModel,
    MoneyIn,
    MoneyOut,
    OutputModel,
    PatchModel,
    Phone,
    ShareOut,
    UtcDateTime,
)
from leadflow.recordings.schemas import RecordingOut
from leadflow.requests.workflow import Queue, Status, label, queue_of

ClientName = Annotated[str, Field(min_length=1, max_length=200)]
Address = Annotated[str, Field(min_length=1, max_length=500)]
LongText = Annotated[str, Field(max_length=5000)]
Reason = Annotated[str, Field(min_length=1, max_length=1000)]

# An advertising role needs campaigns and counts, not the client: their phone, name and address, and the free texts
# that carry them (the problem, the notes). Hidden (null) in every request a marketer reads, list or detail.
MARKETER_HIDDEN = frozenset({"client_phone", "client_name", "address", "problem", "master_notes", "call_center_notes"})
# The same in the history: the caller's number, the reason and note of a move, edits of the hidden fields.
MARKETER_HIDDEN_EVENT_DATA = frozenset({"caller", "reason", "note"})
Shown = TypeVar("Shown", bound=BaseModel)


class CityRef(OutputModel):
    id: int
    name: str
    timezone: str


class CampaignRef(OutputModel):
    id: int
    name: str
    channel: str | None
    phone: str


class RequestTypeRef(OutputModel):
    id: int
    code: str
    name: str


class DirectionRef(OutputModel):
    id: int
    name: str


class MasterRef(OutputModel):
    id: int
    full_name: str


class RequestListItem(OutputModel):
    id: int
    status: Status
    source: str
    city_id: int
    city: CityRef
    campaign_id: int | None
    campaign: CampaignRef | None
    request_type_id: int
    request_type: RequestTypeRef
    direction_id: int | None
    direction: DirectionRef | None
    client_phone: str | None = Field(description="Null for marketers, as the other client fields.")
    client_name: str | None
    address: str | None
    visit_at: UtcDateTime | None
    problem: str | None
    master_id: int | None
    master: MasterRef | None
    master_notes: str | None
    result: MoneyOut | None
    expenses: MoneyOut | None
    net_amount: MoneyOut | None
    master_handover: MoneyOut | None
    company_share: ShareOut | None
    ats_number: str | None
    operator_id: int | None
    call_center_notes: str | None
    callback_at: UtcDateTime | None
    version: int
    created_at: UtcDateTime
    updated_at: UtcDateTime
    status_changed_at: UtcDateTime
    completed_at: UtcDateTime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        """The Russian label of the status (SPEC §3.1), so that a client needs no mapping."""
        return label(self.status)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def queue(self) -> Queue:
        return queue_of(self.status)


class RequestOut(RequestListItem):
    files: list[FileOut] = Field(default_factory=list, description="BSO forms and expense receipts.")
    recordings: list[RecordingOut] = Field(
        default_factory=list,
        description="Call recordings linked to the request (for admins, directors and operators; empty for others).",
    )


def shown_to(role: str, item: Shown) -> Shown:
    """The request (or its list item) as this role may read it: every route that answers requests builds it here."""
    if role != Role.marketer:
        return item
    return item.model_copy(update=dict.fromkeys(MARKETER_HIDDEN))


# The CSV export of GET /requests: keys of the list item (dotted into its nested objects), Russian and English headers.
CSV_COLUMNS: list[Column] = [
    ("id", "№", "ID"),
    ("created_at", "Создана (UTC)", "Created (UTC)"),
    ("status", "Статус (код)", "Status (code)"),
    ("status_label", "Статус", "Status"),
    ("source", "Источник", "Source"),
    ("city_id", "Город (id)", "City ID"),
    ("city.name", "Город", "City"),
    ("campaign_id", "Кампания (id)", "Campaign ID"),
    ("campaign.name", "Кампания", "Campaign"),
    ("request_type.code", "Тип заявки", "Request type"),
    ("direction.name", "Направление", "Direction"),
    ("client_phone", "Телефон клиента", "Client phone"),
    ("client_name", "Имя клиента", "Client name"),
    ("address", "Адрес", "Address"),
    ("visit_at", "Время визита (UTC)", "Visit at (UTC)"),
    ("problem", "Проблема", "Problem"),
    ("master_id", "Мастер (id)", "Master ID"),
    ("master.full_name", "Мастер", "Master"),
    ("master_notes", "Заметки мастера", "Master notes"),
    ("result", "Итог", "Result"),
    ("expenses", "Расход", "Expenses"),
    ("net_amount", "Чистыми", "Net amount"),
    ("master_handover", "Сдача", "Master handover"),
    ("company_share", "Доля компании", "Company share"),
    ("ats_number", "Номер АТС", "ATS number"),
    ("operator_id", "Оператор (id)", "Operator ID"),
    ("call_center_notes", "Заметки колл-центра", "Call-center notes"),
    ("callback_at", "Перезвонить (UTC)", "Call back at (UTC)"),
    ("status_changed_at", "Статус изменён (UTC)", "Status changed (UTC)"),
    ("completed_at", "Выполнена (UTC)", "Completed (UTC)"),
    ("updated_at", "Изменена (UTC)", "Updated (UTC)"),
]


def csv_item(role: str, row: Any, lang: str) -> dict[str, Any]:
    """A request's CSV row: its list item as this role reads it (``shown_to``: a marketer's client fields are empty),
    with the status label in the language of the headers."""
    item = shown_to(role, RequestListItem.model_validate(row)).model_dump(mode="json")
    item["status_label"] = label(item["status"], lang)
    return item


class RequestCreate(InputModel):
    city_id: Id
    client_phone: Phone
    request_type_id: Id | None = Field(
        default=None, description="Left out: first_time if the phone never had a request, else repeat."
    )
    campaign_id: Id | None = None
    direction_id: Id | None = None
    client_name: ClientName | None = None
    address: Address | None = None
    visit_at: AwareDateTime | None = None
    problem: LongText | None = None
    call_center_notes: LongText | None = None


class RequestUpdate(PatchModel):
    nullable_fields = frozenset(
        {
            "campaign_id",
            "direction_id",
            "client_name",
            "address",
            "visit_at",
            "problem",
            "call_center_notes",
            "master_notes",
        }
    )

    city_id: Id | None = None
    client_phone: Phone | None = None
    request_type_id: Id | None = None
    campaign_id: Id | None = None
    direction_id: Id | None = None
    client_name: ClientName | None = None
    address: Address | None = None
    visit_at: AwareDateTime | None = None
    problem: LongText | None = None
    call_center_notes: LongText | None = None
    master_notes: LongText | None = None
    result: MoneyIn | None = Field(default=None, description="Done requests only (director, admin).")
    expenses: MoneyIn | None = Field(default=None, description="Done requests only (director, admin).")
    version: VersionIn = None


class TransitionIn(InputModel):
    to: Status
    version: VersionIn = None
    reason: Reason | None = None
    master_id: Id | None = None
    result: MoneyIn | None = None
    expenses: MoneyIn | None = None
    note: Reason | None = None
    callback_at: AwareDateTime | None = None


class EventOut(OutputModel):
    id: int
    request_id: int
    at: UtcDateTime
    actor_id: int | None
    kind: str
    from_status: str | None
    to_status: str | None
    data: dict[str, Any] | None

    def shown_to(self, role: str) -> EventOut:
        """The history line as this role may read it (see MARKETER_HIDDEN)."""
        if role != Role.marketer or not self.data:
            return self
        data = {k: v for k, v in self.data.items() if k not in MARKETER_HIDDEN_EVENT_DATA}
        if isinstance(data.get("changes"), dict):
            data["changes"] = {k: v for k, v in data["changes"].items() if k not in MARKETER_HIDDEN}
        return self.model_copy(update={"data": data or None})


class Earnings(OutputModel):
    master_id: int
    date_from: dt.date
    date_to: dt.date
    done: int
    revenue: MoneyOut
    net: MoneyOut
    handover: MoneyOut
    earnings: MoneyOut


class MoveOut(OutputModel):
    from_statuses: list[Status]
    to: Status
    roles: list[str]
    requires: list[str]
    description: str


class StatusOut(OutputModel):
    code: Status
    label: str
    label_en: str
    queue: Queue
