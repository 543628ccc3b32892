"""Reference data rules: unique names, protected system rows, no deleting what is in use."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.catalog import schemas
from leadflow.catalog.exceptions import InUse, ProtectedRow
from leadflow.catalog.models import (
    SYSTEM_REQUEST_TYPES,
    City,
    Direction,
    RequestType,
    TransactionType,
)
from leadflow.platform.cache import Cache, invalidated_by
from leadflow.platform.db import paginate, unit_of_work
from leadflow.platform.problems import Conflict, FieldError, NotFound
from leadflow.platform.schemas import DEFAULT_PER_PAGE, Page, PageParams, PatchModel

M = TypeVar("M", City, RequestType, Direction, TransactionType)
CACHED_PAGES = 5
REFERENCE_TTL_S = 24 * 3600  # "until changed": a write invalidates it; the expiry only bounds memory


class ReferenceService(Generic[M]):
    """CRUD for one reference table. ``unique`` names the columns that must not repeat."""

    model: type[M]

    def __init__(self, model: type[M], label: str, unique: tuple[str, ...], order_by: str = "name") -> None:
        self.model = model
        self.label = label
        self.unique = unique
        self.order_by = order_by
        self.tag = f"ref:{model.__tablename__}"

    def tags(self, _row: object) -> set[str]:
        """A committed write to the table makes its cached pages stale (a cache tagger)."""
        return {self.tag}

    async def cached_page(
        self,
        session: AsyncSession,
        cache: Cache,
        out: type[BaseModel],
        page: PageParams,
        active: bool | None = None,
        q: str | None = None,
    ) -> dict[str, Any]:
        """A page of the list as JSON, from the cache until the table changes (SPEC §9: reference data)."""
        table = self.model.__tablename__

        async def compute() -> dict[str, Any]:
            rows, total = await self.list(session, page, active=active, q=q)
            return Page[out].model_validate(page.envelope(rows, total), from_attributes=True).model_dump(mode="json")  # type: ignore[valid-type]

        if q or page.page > CACHED_PAGES:  # searches and deep pages are not worth a cache entry (nor a flood of them)
            return await compute()
        parts = {"table": table, "active": active, "page": page.page, "per_page": page.per_page}
        result: dict[str, Any] = await cache.get_or_compute(
            "reference", parts, [self.tag], compute, ttl_s=REFERENCE_TTL_S
        )
        return result

    async def list(
        self, session: AsyncSession, page: PageParams, active: bool | None = None, q: str | None = None
    ) -> tuple[Sequence[M], int]:
        query = select(self.model)
        if active is not None:
            query = query.where(self.model.active.is_(active))
        order = (getattr(self.model, self.order_by), self.model.id)
        if q:
            query = query.where(func.lower(self.model.name).contains(q.lower(), autoescape=True))
        return await paginate(session, query, page, *order)

    async def find(self, session: AsyncSession, row_id: int) -> M | None:
        """The row, or None (for other domains checking an id named in a body)."""
        return await session.get(self.model, row_id)

    async def get(self, session: AsyncSession, row_id: int) -> M:
        row = await self.find(session, row_id)
        if row is None:
            raise NotFound(f"No {self.label} with id {row_id}.")
        return row

    async def create(self, session: AsyncSession, data: BaseModel) -> M:
        values = data.model_dump()
        await self._check_unique(session, values, None)
        row = self.model(**values)
        async with unit_of_work(session, self._conflict("create")):
            session.add(row)
        return row

    async def update(self, session: AsyncSession, row_id: int, data: PatchModel) -> M:
        row = await self.get(session, row_id)
        values = data.changes()
        self.guard_update(row, values)
        await self._check_unique(session, values, row.id)
        async with unit_of_work(session, self._conflict("update")):
            for field, value in values.items():
                setattr(row, field, value)
        return row

    async def delete(self, session: AsyncSession, row_id: int) -> None:
        row = await self.get(session, row_id)
        self.guard_delete(row)
        # A reference from another table refuses the delete: the row is in use.
        async with unit_of_work(session, self._in_use):
            await session.delete(row)

    def guard_update(self, row: M, values: dict[str, Any]) -> None:
        """Hook for rules on protected rows."""

    def guard_delete(self, row: M) -> None:
        """Hook for rules on protected rows."""

    async def _check_unique(self, session: AsyncSession, values: dict[str, Any], own_id: int | None) -> None:
        errors: list[FieldError] = []
        for field in self.unique:
            if field not in values:
                continue
            column = getattr(self.model, field)
            query = select(self.model.id).where(func.lower(column) == str(values[field]).lower())
            if own_id is not None:
                query = query.where(self.model.id != own_id)
            if await session.scalar(query) is not None:
                errors.append(FieldError(field, f"A {self.label} with this {field} already exists."))
        if errors:
            raise Conflict(f"A {self.label} like this already exists.", errors=errors)

    def _conflict(self, action: str) -> Callable[[], Conflict]:
        """What a write refused by a unique index answers (a twin written between the check above and the commit)."""
        return lambda: Conflict(f"Could not {action} the {self.label}: it conflicts with an existing one.")

    def _in_use(self) -> InUse:
        return InUse(f"This {self.label} is in use; deactivate it instead (PATCH active=false).")


class RequestTypeService(ReferenceService[RequestType]):
    def guard_update(self, row: RequestType, values: dict[str, Any]) -> None:
        if row.code in SYSTEM_REQUEST_TYPES:
            if "code" in values and values["code"] != row.code:
                raise ProtectedRow(f"The code of the system request type {row.code!r} cannot change.")
            if values.get("active") is False:
                raise ProtectedRow(f"The system request type {row.code!r} cannot be deactivated.")

    def guard_delete(self, row: RequestType) -> None:
        if row.code in SYSTEM_REQUEST_TYPES:
            raise ProtectedRow(f"The system request type {row.code!r} cannot be deleted.")


class TransactionTypeService(ReferenceService[TransactionType]):
    def guard_update(self, row: TransactionType, values: dict[str, Any]) -> None:
        if row.system:
            if "kind" in values and values["kind"] != row.kind:
                raise ProtectedRow("The kind of a system transaction type cannot change.")
            if values.get("active") is False:
                raise ProtectedRow("A system transaction type cannot be deactivated.")

    def guard_delete(self, row: TransactionType) -> None:
        if row.system:
            raise ProtectedRow("A system transaction type cannot be deleted.")


cities = ReferenceService(City, "city", unique=("name",))
request_types = RequestTypeService(RequestType, "request type", unique=("code",), order_by="id")
directions = ReferenceService(Direction, "direction", unique=("name",))
transaction_types = TransactionTypeService(TransactionType, "transaction type", unique=("name",))
REFERENCE_TABLES = (cities, request_types, directions, transaction_types)


def register_cache_taggers() -> None:
    """Declare which writes make the cached reference lists stale (called by the runtime builder; idempotent)."""
    for reference in REFERENCE_TABLES:
        invalidated_by(reference.model.__tablename__, reference.tags)


async def city_ids_exist(session: AsyncSession, ids: set[int]) -> set[int]:
    """The subset of ``ids`` that are existing cities (for other domains validating city lists)."""
    if not ids:
        return set()
    return set(await session.scalars(select(City.id).where(City.id.in_(ids))))


async def city_zone(session: AsyncSession, city_id: int, default: str) -> str:
    """The city's IANA time zone (for business dates), or ``default`` when there is no such city."""
    zone = await session.scalar(select(City.timezone).where(City.id == city_id))
    return zone or default


async def list_cities(session: AsyncSession, ids: frozenset[int] | None) -> list[City]:
    """The cities with these ids (every city for ``None``), by name."""
    query = select(City).order_by(City.name, City.id)
    if ids is not None:
        query = query.where(City.id.in_(ids))
    return list(await session.scalars(query))


async def request_type_id(session: AsyncSession, code: str) -> int:
    """The id of a system request type (first_time, repeat); the migrations seed them."""
    found = await session.scalar(select(RequestType.id).where(RequestType.code == code))
    if found is None:  # pragma: no cover - seeded by migration 0001 and protected from deletion
        raise RuntimeError(f"request type {code!r} is missing")
    return int(found)


async def system_transaction_type(session: AsyncSession, code: str) -> TransactionType:
    """A system transaction type (master_handover, advertising_spend); the migrations seed them."""
    found = await session.scalar(select(TransactionType).where(TransactionType.code == code))
    if found is None:  # pragma: no cover - seeded by migration 0001 and protected from deletion
        raise RuntimeError(f"transaction type {code!r} is missing")
    return found


async def warm(session: AsyncSession, cache: Cache) -> None:
    """Start-up: the first page of every reference list into the cache, afresh (rows may have changed while no
    process ran: a migration, ``seed-demo``)."""
    lists = (
        (cities, schemas.CityOut),
        (request_types, schemas.RequestTypeOut),
        (directions, schemas.DirectionOut),
        (transaction_types, schemas.TransactionTypeOut),
    )
    await cache.invalidate(svc.tag for svc, _ in lists)
    for svc, out in lists:
        await svc.cached_page(session, cache, out, PageParams(page=1, per_page=DEFAULT_PER_PAGE))
