from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import Field, computed_field

from leadflow.files.schemas import FileOut
from leadflow.platform.concurrency import VersionIn
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
    client_phone: str
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
