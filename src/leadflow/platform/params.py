"""The query and path parameters every router shares: ids, search text, paging, the CSV export's format and language."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Header, Path, Query
from pydantic import AfterValidator, BeforeValidator

from leadflow.platform.export import language
from leadflow.platform.problems import NotFound
from leadflow.platform.schemas import DEFAULT_PER_PAGE, MAX_ID, MAX_PER_PAGE, PageParams, integer_text, no_nul

IntegerText = BeforeValidator(integer_text)


async def page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1."), IntegerText] = 1,
    per_page: Annotated[
        int, Query(ge=1, le=MAX_PER_PAGE, description="Items per page, at most 200."), IntegerText
    ] = DEFAULT_PER_PAGE,
) -> PageParams:
    return PageParams(page=page, per_page=per_page)


def _known_id(value: int) -> int:
    # An id that cannot exist is an unknown object, as §4 answers unknown ids: 404, without asking the database.
    if not 1 <= value <= MAX_ID:
        raise NotFound(f"Nothing has the id {value}.")
    return value


IdPath = Annotated[int, Path(), IntegerText, AfterValidator(_known_id)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID), IntegerText]

SearchQuery = Annotated[str | None, Query(max_length=200, description="Search text."), AfterValidator(no_nul)]


ExportFormat = Literal["json", "csv"]
ReportFormat = Annotated[ExportFormat, Query(description="`json` (default) or `csv` (UTF-8 with BOM).")]
ListFormat = Annotated[
    ExportFormat,
    Query(
        description="`json` (default): one page. `csv`: every matching row as a CSV download (UTF-8 with BOM, "
        "RFC 4180; `page` and `per_page` are ignored; same filters, order and scope). See docs/api.md."
    ),
]
LangQuery = Annotated[
    Literal["ru", "en"] | None,
    Query(description="CSV header language; default from Accept-Language (`en` when it prefers English), else ru."),
]
AcceptLanguage = Annotated[str | None, Header(include_in_schema=False)]


@dataclass(frozen=True)
class ExportParams:
    csv: bool
    lang: str  # "ru" or "en": the CSV header language


async def list_export(
    format: ListFormat = "json", lang: LangQuery = None, accept_language: AcceptLanguage = None
) -> ExportParams:
    """What a list answers: its JSON page, or (``format=csv``) every row as CSV in the caller's language."""
    return ExportParams(csv=format == "csv", lang=language(lang, accept_language))
