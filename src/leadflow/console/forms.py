"""From an HTML form to a service call and back: the same input models as the API (so the same checks and the same
field names), and the service's problem turned into messages beside the fields, in the page's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.accounts.policies import Principal
from leadflow.administration.service import get_settings as runtime_settings
from leadflow.console.i18n import Translator
from leadflow.platform.problems import Problem, ValidationProblem, validation_errors
from leadflow.platform.settings import Settings
from leadflow.requests import transitions
from leadflow.requests.models import Request
from leadflow.requests.schemas import TransitionIn
from leadflow.requests.workflow import Move, Status, moves_for

M = TypeVar("M", bound=BaseModel)


def money_text(value: str) -> str:
    """An amount as typed in either language ("1 234,50" or "1234.50") in the API's form (the model checks the rest):
    a Russian phone keyboard offers a comma for a decimal field."""
    compact = value.replace(" ", "").replace("\u00a0", "")
    return compact.replace(",", ".") if compact.count(",") == 1 and "." not in compact else compact


def _is_integer(annotation: Any) -> bool:
    """``int``, ``int | None``, ``Annotated[int, …]`` (an id) and the like."""
    return annotation is int or any(_is_integer(arg) for arg in get_args(annotation))


def _integer_fields(model: type[BaseModel]) -> frozenset[str]:
    return frozenset(name for name, field in model.model_fields.items() if _is_integer(field.annotation))


def parse(model: type[M], data: Mapping[str, Any]) -> M:
    """``model`` from form fields: an empty field is an absent one (``None`` is kept: a field cleared on purpose), and
    the digits of an integer field (a version, an id) are that integer, as a JSON client would send them (anything
    else stays text and gets the model's own error); errors are the API's 422 with its field names."""
    integers = _integer_fields(model)
    values = {
        k: int(v) if k in integers and isinstance(v, str) and v.isascii() and v.isdigit() else v
        for k, v in data.items()
        if v != ""
    }
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise ValidationProblem("The form is not valid; see errors.", validation_errors(exc.errors())) from exc


def field_errors(problem: Problem, t: Translator) -> dict[str, str]:
    """``{field: message}`` for the form, translated where the catalogue knows the service's message
    (``api.<English message>``); a problem without field errors is under ``""`` (shown above the form)."""
    found: dict[str, str] = {}
    for error in problem.errors or []:
        field = str(error["field"]).removeprefix("body.")
        found.setdefault(field, t.api(str(error["message"])))
    if not found:
        found[""] = t.api(problem.detail)
    return found


def available_moves(principal: Principal, request: Request) -> list[Move]:
    """The buttons a page shows for a request: the table's moves from its status that this role may make."""
    return moves_for(Status(request.status), request.was_assigned, principal.role)


async def move(
    session: AsyncSession, principal: Principal, settings: Settings, request_id: int, data: Mapping[str, Any]
) -> Request:
    """Make a transition from a form (``to``, ``version`` and what the move needs), exactly as the API does."""
    body = parse(TransitionIn, data)
    share = (await runtime_settings(session, settings)).company_share
    return await transitions.transition(session, principal, request_id, body, None, default_share=share)
