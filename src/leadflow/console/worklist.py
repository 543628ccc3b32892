"""The work list ``/requests``: every filter of SPEC §5 in the query string (a view is a bookmark), applied by the
same service as ``GET /api/v1/requests``; sort, pagination, search, the CSV export of exactly these filters, and the
table re-fetched live when a request changes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.requests import Request
from starlette.responses import Response

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal
from leadflow.administration.service import get_settings as runtime_settings
from leadflow.console import options
from leadflow.console.render import render
from leadflow.console.session import PageRoute, PageUser, is_htmx
from leadflow.platform.api import API_PREFIX
from leadflow.platform.dependencies import AppSettings, CacheDep, Session
from leadflow.platform.problems import Forbidden, ValidationProblem, validation_errors
from leadflow.platform.schemas import MAX_ID, MAX_PER_PAGE, PageParams
from leadflow.requests import queries
from leadflow.requests.schemas import RequestListItem, shown_to
from leadflow.requests.workflow import STATUSES, Queue, Status

router = APIRouter(route_class=PageRoute, include_in_schema=False)
READERS = frozenset({Role.admin, Role.director, Role.operator, Role.marketer})
SORTABLE = ("created_at", "visit_at", "status", "callback_at")
OptionalId = Annotated[int | None, Field(default=None, ge=1, le=MAX_ID)]
PER_PAGE = 50


class ListQuery(BaseModel):
    """The page's query string: the API's filters with the same names and bounds (an empty field is no filter)."""

    model_config = ConfigDict(extra="ignore")

    queue: Literal["intake", "work"] | None = None
    status: list[Status] = Field(default_factory=list)
    city_id: OptionalId = None
    master_id: OptionalId = None
    campaign_id: OptionalId = None
    request_type_id: OptionalId = None
    direction_id: OptionalId = None
    q: Annotated[str | None, Field(default=None, max_length=200)] = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    date_field: Literal["created_at", "visit_at"] = "created_at"
    sort: Literal[
        "created_at", "-created_at", "visit_at", "-visit_at", "status", "-status", "callback_at", "-callback_at"
    ] = "-created_at"
    page: Annotated[int, Field(ge=1, le=100_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)] = PER_PAGE

    @field_validator("q")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL")
        return value.strip() or None if value is not None else None

    @classmethod
    def of(cls, request: Request) -> ListQuery:
        params = request.query_params
        values: dict[str, Any] = {k: v for k, v in params.items() if v != "" and k != "status"}
        values["status"] = [s for s in params.getlist("status") if s]
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ValidationProblem("The filters are not valid; see errors.", validation_errors(exc.errors())) from exc

    def filters(self) -> queries.Filters:
        return queries.Filters(
            queue=Queue(self.queue) if self.queue else None,
            statuses=tuple(self.status),
            city_id=self.city_id,
            master_id=self.master_id,
            campaign_id=self.campaign_id,
            request_type_id=self.request_type_id,
            direction_id=self.direction_id,
            q=self.q,
            date_from=self.date_from,
            date_to=self.date_to,
            date_field=self.date_field,
        )

    def params(self, **change: Any) -> list[tuple[str, str]]:
        """The query string's pairs of this view (defaults left out), with ``change`` applied; None drops a key."""
        values = self.model_dump() | change
        pairs: list[tuple[str, str]] = []
        for key, value in values.items():
            default = type(self).model_fields[key].get_default(call_default_factory=True)
            if value is None or value == default:
                continue
            if key == "status":
                pairs += [("status", str(s)) for s in value]
            else:
                pairs.append((key, str(value)))
        return pairs

    def url(self, **change: Any) -> str:
        pairs = self.params(**change)
        return "/requests" + (f"?{urlencode(pairs)}" if pairs else "")

    def csv_url(self, lang: str) -> str:
        """The API's CSV export of exactly these filters and this order (every matching row, not one page), with its
        headers and labels in the page's language."""
        pairs = [(k, v) for k, v in self.params() if k not in ("page", "per_page")]
        return f"{API_PREFIX}/requests?" + urlencode([*pairs, ("format", "csv"), ("lang", lang)])

    def sort_url(self, column: str) -> str:
        target = f"-{column}" if self.sort == column else column
        return self.url(sort=target, page=None)


@router.get("/requests")
async def work_list(
    request: Request, session: Session, settings: AppSettings, cache: CacheDep, user: PageUser
) -> Response:
    if user.role not in READERS:
        raise Forbidden("The work list is for directors, admins, operators and marketers.")
    view = ListQuery.of(request)
    zone = (await runtime_settings(session, settings)).business_timezone
    page = PageParams(page=view.page, per_page=view.per_page)
    rows, total = await queries.list_requests(
        session, user, page, view.filters(), sort=view.sort, business_zone=zone, cache=cache
    )
    items = [shown_to(user.role, RequestListItem.model_validate(r)) for r in rows]
    context = await _context(session, user, view, items, total)
    if is_htmx(request) and request.headers.get("hx-target") == "results":
        return render(request, "worklist/results.html", context, principal=user)
    return render(request, "worklist/page.html", context, principal=user)


async def _context(
    session: Session, user: Principal, view: ListQuery, items: list[RequestListItem], total: int
) -> dict[str, Any]:
    pages = max(1, -(-total // view.per_page))
    return {
        "view": view,
        "items": items,
        "total": total,
        "pages": pages,
        "client_hidden": user.role is Role.marketer,
        "statuses": list(STATUSES),
        "sortable": SORTABLE,
        "cities": await options.cities(session, user),
        "masters": await options.masters(session, user, view.city_id),
        "campaigns": await options.campaign_options(session, user, view.city_id),
        "request_types": await options.request_types(session),
        "directions": await options.directions(session),
        "live": True,
    }
