"""Database platform: engines, the session factory, column types shared by every domain.

One ``AsyncSession`` per unit of work: a request gets one through :func:`get_session`, a job opens its own with
``database.session()``. Sessions are never shared between concurrent tasks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import anyio
import asyncpg
import structlog
from prometheus_client import Counter
from sqlalchemy import DateTime, MetaData, Numeric, Select, event, func, make_url, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from leadflow.platform.cache import PREFER_PRIMARY, tags_of
from leadflow.platform.concurrency import stale
from leadflow.platform.dbmetrics import observe_pool
from leadflow.platform.events import Notification, latest, notifications_of
from leadflow.platform.money import to_money
from leadflow.platform.problems import DATABASE_DOWN, SESSION_GONE, TOO_SLOW, Problem, sqlstate
from leadflow.platform.settings import Settings
from leadflow.platform.sqltime import SQLITE_LOCAL_DATE, sqlite_local_date

T = TypeVar("T")
log = structlog.get_logger("leadflow.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; attach a time zone")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Money(TypeDecorator[Decimal]):
    """NUMERIC(12,2) that always comes back as a two-decimal ``Decimal`` (SQLite has no NUMERIC)."""

    impl = Numeric(12, 2, asdecimal=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else to_money(value)


class Share(TypeDecorator[Decimal]):
    """A fraction such as a company share, NUMERIC(5,4)."""

    impl = Numeric(5, 4, asdecimal=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else to_money(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime}


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


def _unicode_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite's built-in lower() folds ASCII only; searches over Russian names need the full Unicode rule, as on
    # PostgreSQL. Logins (the one lower() index) are ASCII, so the index agrees with either definition.
    dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
    dbapi_connection.create_function(SQLITE_LOCAL_DATE, 2, sqlite_local_date, deterministic=True)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_limits(settings: Settings) -> dict[str, str]:
    """PostgreSQL's limits on every session of the service (0: the server's own setting is left alone): a statement
    may run ``DB_STATEMENT_TIMEOUT_MS`` and wait for a lock ``DB_LOCK_TIMEOUT_MS``, a session may sit idle inside a
    transaction ``DB_IDLE_IN_TRANSACTION_TIMEOUT_MS`` (then the server ends it and its locks go)."""
    limits = {
        "statement_timeout": settings.db_statement_timeout_ms,
        "lock_timeout": settings.db_lock_timeout_ms,
        "idle_in_transaction_session_timeout": settings.db_idle_in_transaction_timeout_ms,
    }
    return {name: str(ms) for name, ms in limits.items() if ms > 0}


def _classify_error(context: ExceptionContext) -> BaseException | None:
    """PostgreSQL's errors as the rest of the service needs them (asyncpg's adapter raises most of them as a plain
    ``DBAPIError``). A session that is gone (its SQLSTATE in :data:`SESSION_GONE`, or a driver connection left in a
    broken state by one: asyncpg's ``InternalClientError``) is a disconnect: the connection is discarded and the pool
    starts afresh, so a restarted server is reconnected to instead of failing again. That, and a statement cancelled
    for its time (:data:`TOO_SLOW`), become ``OperationalError`` (PEP 249's class for them, as psycopg raises them),
    which the problem handlers answer with 503 instead of 500."""
    error = context.original_exception
    state = sqlstate(error)
    broken = (error, error.__cause__)  # asyncpg's own error, or SQLAlchemy's adapter of it
    gone = state.startswith(SESSION_GONE) or any(isinstance(e, asyncpg.InternalClientError) for e in broken)
    if gone:
        context.is_disconnect = True
    if context.is_pre_ping or not (gone or state in TOO_SLOW):
        return None  # a failed pre-ping only says "reconnect"; other errors keep their class
    if isinstance(context.sqlalchemy_exception, DATABASE_DOWN):
        return None
    return OperationalError(
        context.statement, context.parameters, error, hide_parameters=True, connection_invalidated=gone
    )


def create_engine(url: str, settings: Settings) -> AsyncEngine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, echo=settings.db_echo, poolclass=NullPool, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if make_url(url).get_driver_name() == "asyncpg":
        # A connection attempt to a server that does not answer gives up after this long (asyncpg waits 60 s).
        connect_args = {"timeout": settings.db_connect_timeout_s, "server_settings": session_limits(settings)}
    engine = create_async_engine(
        url,
        echo=settings.db_echo,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        # A pooled connection is tried before use, so the connections of a server that restarted are replaced
        # without an error; one that breaks in use is a disconnect (_classify_error), answered 503.
        pool_pre_ping=True,
        hide_parameters=True,  # errors and logs never carry the values (password hashes, phones, passports)
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "handle_error", _classify_error, retval=True)
    return engine


class TrackedSyncSession(Session):
    """Collects the cache tags (``platform.cache.invalidated_by``) of what each flush and bulk statement wrote."""


def _pending(session: Session) -> set[str]:
    tags: set[str] = session.info.setdefault("cache_tags", set())
    return tags


@event.listens_for(TrackedSyncSession, "after_flush")
def _tags_of_flush(session: Session, _context: Any) -> None:
    notifications: list[Notification] = session.info.setdefault("notifications", [])
    for row in (*session.new, *session.dirty, *session.deleted):
        table = getattr(row, "__tablename__", None)
        if table is not None:
            _pending(session).update(tags_of(table, row))
            notifications.extend(notifications_of(table, row))


@event.listens_for(TrackedSyncSession, "do_orm_execute")
def _tags_of_statement(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if table is not None and getattr(table, "name", None):
            _pending(state.session).update(tags_of(table.name, None))


@event.listens_for(TrackedSyncSession, "after_soft_rollback")
def _forget_tags(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the whole transaction is gone; a savepoint's rollback keeps the outer writes
        session.info.pop("cache_tags", None)
        session.info.pop("notifications", None)


class TrackedSession(AsyncSession):
    """An ``AsyncSession`` whose ``commit()`` invalidates the cache entries its writes made stale before it returns,
    so that the writer's next read (and everyone else's) never gets the old answer. Commit with ``commit()``: an
    ``async with session.begin():`` block commits without passing here."""

    sync_session_class = TrackedSyncSession

    async def commit(self) -> None:
        await super().commit()
        tags = self.info.pop("cache_tags", None)
        on_commit = self.info.get("on_commit")
        if tags and on_commit is not None:
            await on_commit(tags)
        notifications = self.info.pop("notifications", None)
        on_notify = self.info.get("on_notify")
        if notifications and on_notify is not None:
            await on_notify(latest(notifications))


REPLICA_RETRY_S = 30.0
REPLICA_FALLBACKS = Counter(
    "leadflow_db_replica_fallbacks_total", "Reads that went to the primary because the replica failed."
)


class Database:
    """The primary engine and its session factory, and the read replica for reports and metrics when configured."""

    def __init__(
        self,
        settings: Settings,
        on_commit: Callable[[set[str]], Awaitable[None]] | None = None,
        on_notify: Callable[[list[Notification]], Awaitable[None]] | None = None,
    ) -> None:
        self.url = settings.effective_database_url
        self.engine = create_engine(self.url, settings)
        self.on_commit = on_commit
        self.on_notify = on_notify
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=TrackedSession, expire_on_commit=False, autoflush=False
        )
        self.replica_engine = (
            create_engine(settings.database_replica_url, settings) if settings.database_replica_url else None
        )
        self.replica_sessionmaker = (
            async_sessionmaker(self.replica_engine, expire_on_commit=False, autoflush=False)
            if self.replica_engine is not None
            else None
        )
        self._replica_down_until = 0.0
        observe_pool(self.engine, "primary")
        if self.replica_engine is not None:
            observe_pool(self.replica_engine, "replica")

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for one unit of work; rolled back if the work fails, always closed."""
        async with self.sessionmaker() as session:
            session.info["on_commit"] = self.on_commit
            session.info["on_notify"] = self.on_notify
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read_session(self) -> AsyncIterator[AsyncSession]:
        """A read-only session for reports and metrics: on the replica when one is configured and answering, else
        on the primary (a failed replica is logged, counted, and left alone for half a minute)."""
        fresh = PREFER_PRIMARY.get()  # the cache asks for data written seconds ago, which a replica may not have yet
        if self.replica_sessionmaker is not None and not fresh and time.monotonic() >= self._replica_down_until:
            async with self.replica_sessionmaker() as session:
                try:
                    await session.connection()
                except Exception as exc:
                    self._replica_down_until = time.monotonic() + REPLICA_RETRY_S
                    REPLICA_FALLBACKS.inc()
                    log.warning("replica_unavailable", error=type(exc).__name__)
                else:
                    yield session
                    return
        elif self.replica_sessionmaker is not None and not fresh:
            REPLICA_FALLBACKS.inc()
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.replica_engine is not None:
            await self.replica_engine.dispose()


@asynccontextmanager
async def unit_of_work(session: AsyncSession, conflict: Callable[[], Problem]) -> AsyncIterator[None]:
    """Run a service's writes and commit them together, or keep nothing. A writer that lost a version race (its
    ``UPDATE … WHERE version = …`` matched no row) gets 409 ``stale-version``; a constraint the database refused (a
    unique index, a reference deleted meanwhile) gets ``conflict()``."""
    try:
        yield
        await session.commit()
    except StaleDataError as exc:
        await session.rollback()
        raise stale() from exc
    except IntegrityError as exc:
        await session.rollback()
        raise conflict() from exc


def dialect_insert(dialect: str) -> Any:
    """The ``insert`` of this dialect (``Database.dialect``), with ``on_conflict_do_nothing`` /
    ``on_conflict_do_update`` (PostgreSQL and SQLite spell them the same)."""
    return pg_insert if dialect == "postgresql" else sqlite_insert


def matching(query: Select[T], *conditions: tuple[Any, Any]) -> Select[T]:
    """``query`` limited to the rows whose column equals the value, for each ``(column, value)`` whose value was given
    (a ``None`` value is no condition): the optional equality filters of a list."""
    for column, value in conditions:
        if value is not None:
            query = query.where(column == value)
    return query


def within(query: Select[T], column: Any, start: dt.datetime | None, end: dt.datetime | None) -> Select[T]:
    """``query`` limited to ``start <= column < end`` (either bound may be open)."""
    if start is not None:
        query = query.where(column >= start)
    if end is not None:
        query = query.where(column < end)
    return query


async def paginate(session: AsyncSession, query: Select[T], page: Any, *order: Any) -> tuple[Sequence[T], int]:
    """One page of ``query`` in ``order``, and the number of all its rows (one count, one page query)."""
    total = await count(session, query)
    return await page_of(session, query, page, *order), total


async def count(session: AsyncSession, query: Select[Any]) -> int:
    """How many rows ``query`` matches (its order and columns left out)."""
    total = await session.scalar(query.with_only_columns(func.count(), maintain_column_froms=True).order_by(None))
    return int(total or 0)


async def page_of(session: AsyncSession, query: Select[T], page: Any, *order: Any) -> Sequence[T]:
    """The rows of one page of ``query`` in ``order``."""
    return (await session.scalars(query.order_by(*order).offset(page.offset).limit(page.per_page))).all()


EXPORT_BATCH = 1000


async def stream(
    session: AsyncSession, query: Select[T], *order: Any, batch: int = EXPORT_BATCH
) -> AsyncGenerator[Sequence[T]]:
    """Every row of ``query`` in ``order``, ``batch`` rows at a time, from a server-side cursor (``yield_per``): an
    export of a million rows holds one batch, not the result. Eager loaders run once per batch (``selectinload``), and
    the session's identity map keeps no batch alive once the caller lets go of it."""
    result = await session.stream_scalars(query.order_by(*order).execution_options(yield_per=batch))
    parts = result.partitions()
    try:
        while True:
            # A client that goes away cancels the response. A fetch cancelled midway would leave the connection in an
            # unknown state (SQLAlchemy then discards it, logging an error), so each batch is fetched whole and the
            # cancellation takes effect right after it; the cursor is closed in any case.
            with anyio.CancelScope(shield=True):
                part = await anext(parts, None)
            if part is None:
                return
            yield part
    finally:
        with anyio.CancelScope(shield=True):
            await result.close()


async def serialize(session: AsyncSession, namespace: str, key: str) -> None:
    """Make the units of work about the same thing (``namespace``/``key``, e.g. one client phone) take turns until
    this one commits, so that what they read next (is there an open request for this phone?) is what the one before
    them committed. PostgreSQL: a transaction-level advisory lock on the key. SQLite has one writer at a time but
    lets two transactions read before either writes, which is the race: a write that changes nothing (on the
    migrations' own table, present in every database) takes the database's write lock now, and the other waits."""
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 0 = 1"))
        return
    digest = hashlib.sha256(f"{namespace}:{key}".encode()).digest()
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"), {"key": int.from_bytes(digest[:8], "big", signed=True)}
    )


async def release(session: AsyncSession) -> None:
    """End the session's (read-only) transaction so that its pooled connection goes back to the pool: for a request
    that has read what it needed on its own session (the caller, the runtime settings) and now works on sessions of
    its own. Holding one connection while waiting for others is how concurrent callers deadlock a pool."""
    await session.rollback()
