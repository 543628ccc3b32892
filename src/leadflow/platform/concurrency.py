"""Optimistic locking (SPEC §3.4): a write names the version it read, in the body or as ``If-Match``.

The check here answers a stale version early with a clear problem; the database has the last word: the mapped
``version_id_col`` makes every UPDATE say ``WHERE version = <read>``, so of two racing writers exactly one wins and
the other's flush raises ``StaleDataError``, which :func:`stale` turns into the same 409.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Body, Depends, Header
from pydantic import Field

from leadflow.platform.problems import PROBLEM_RESPONSES, Conflict, Problem, ValidationProblem
from leadflow.platform.schemas import InputModel

IfMatch = Annotated[str | None, Header(alias="If-Match", description='The ETag you read, e.g. "3".', max_length=40)]
# Documented on the routes that take a version: 412 when If-Match names an older one.
VERSIONED_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: PROBLEM_RESPONSES[409] | {"description": "If-Match names an older version; reload and retry"}
}


VersionIn = Annotated[int | None, Field(ge=1, description="The version you read (or send If-Match).")]


class VersionBody(InputModel):
    """The optional body of a DELETE: the version read (or send If-Match)."""

    version: VersionIn = None


@dataclass(frozen=True)
class ReadVersion:
    """The version a DELETE names: the body's ``version``, the ``If-Match`` header, or neither (→ 422 later)."""

    version: int | None
    if_match: str | None


async def read_version(body: Annotated[VersionBody | None, Body()] = None, if_match: IfMatch = None) -> ReadVersion:
    return ReadVersion(body.version if body is not None else None, if_match)


DeleteVersion = Annotated[ReadVersion, Depends(read_version)]


_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


class StaleVersion(Conflict):
    type = "stale-version"


class PreconditionFailed(Problem):
    status = 412
    type = "precondition-failed"


def etag(version: int) -> str:
    return f'"{version}"'


def stale(current: int | None = None) -> StaleVersion:
    detail = "Someone changed this object after you read it; reload it and apply your change again."
    return StaleVersion(detail, current_version=current) if current is not None else StaleVersion(detail)


def check_version(current: int, body_version: int | None, if_match: str | None) -> None:
    """Raise unless the caller read the current version: 422 when neither form is sent, 412 for a stale
    ``If-Match``, 409 for a stale body ``version``."""
    if if_match is None and body_version is None:
        raise ValidationProblem.field(
            "version", "Send the version you read: the body field version or an If-Match header."
        )
    if if_match is not None and if_match.strip() != "*":
        match = _ETAG.match(if_match)
        if match is None:
            raise ValidationProblem.field("If-Match", 'Use the ETag you read, such as "3".')
        if int(match.group(1)) != current:
            raise PreconditionFailed(
                f"If-Match names version {match.group(1)}, but the object is at version {current}; reload it.",
                current_version=current,
            )
    if body_version is not None and body_version != current:
        raise stale(current)
