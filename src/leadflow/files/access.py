"""Who may read and delete a file: the owners' rules, handed to ``files`` once when the app is built.

A file follows its owner (a request, a transaction, a recording), and only the owner's domain knows who may see it.
``files`` imports no domain: each owner registers an :class:`OwnerRule` under its kind, and ``app.py`` puts the
assembled :class:`FileRules` on ``app.state.file_rules`` (see ``leadflow.file_owners``). The caller is whatever
``authenticate`` returns; files reads only its ``id`` and ``is_admin`` and hands it back to the owner's rules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.files.models import StoredFile
from leadflow.platform.dependencies import Session, component
from leadflow.platform.problems import Forbidden

REQUEST, TRANSACTION, RECORDING = "request", "transaction", "recording"


class Caller(Protocol):
    """What files needs of a signed-in caller: the id for the access log, and whether they administer the app."""

    @property
    def id(self) -> int: ...

    @property
    def is_admin(self) -> bool: ...


C = TypeVar("C", bound=Caller)


@dataclass(frozen=True)
class OwnerRule(Generic[C]):
    """One owner kind's rights over its files. ``may_delete`` is asked only about a file ``may_read`` allowed;
    ``on_deleted`` adds the owner's own record of a delete (a request event) to the delete's transaction."""

    may_read: Callable[[AsyncSession, C, int], Awaitable[bool]]
    may_delete: Callable[[AsyncSession, C, StoredFile], Awaitable[bool]]
    on_deleted: Callable[[AsyncSession, C, StoredFile], None] | None = None


@dataclass(frozen=True)
class FileRules(Generic[C]):
    """``authenticate`` raises the usual Problem (401, 403) when there is no valid caller; ``business_zone`` is the
    time zone of the access log's date filter. An owner kind with no rule has files nobody may read (404)."""

    authenticate: Callable[[Request, AsyncSession], Awaitable[C]]
    business_zone: Callable[[AsyncSession], Awaitable[str]]
    owners: Mapping[str, OwnerRule[C]] = field(default_factory=dict)


def owner_of(row: StoredFile) -> tuple[str, int] | None:
    """The owner kind and id of a file (the schema guarantees exactly one)."""
    if row.request_id is not None:
        return REQUEST, row.request_id
    if row.transaction_id is not None:
        return TRANSACTION, row.transaction_id
    if row.recording_id is not None:
        return RECORDING, row.recording_id
    return None


get_file_rules = component("file_rules", FileRules)


FileRulesDep = Annotated[FileRules[Any], Depends(get_file_rules)]


async def file_admin(request: Request, session: Session, rules: FileRulesDep) -> Caller:
    """The caller, when they are an admin; the same 403 as the accounts' role check."""
    caller: Caller = await rules.authenticate(request, session)
    if not caller.is_admin:
        raise Forbidden("Your role may not do this.")
    return caller


FileAdmin = Annotated[Caller, Depends(file_admin)]
