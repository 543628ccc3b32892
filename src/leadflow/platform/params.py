"""The query and path parameters every router shares: ids, search text, paging."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, BeforeValidator

from leadflow.platform.problems import NotFound
from leadflow.platform.schemas import DEFAULT_PER_PAGE, MAX_ID, MAX_PER_PAGE, PageParams, integer_text, no_nul

IntegerText = BeforeValidator(integer_text)


def page_params(
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
