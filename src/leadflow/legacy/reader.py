"""Reading a LeadSchem database (asyncpg, read-only): recognising it, and every table in id order, in batches.

Batches are keyset pages (``WHERE id > last ORDER BY id LIMIT n``), so memory stays flat and a page costs the same
at the millionth row as at the first. Columns the schema describes as optional in practice (``requests.updated_at``
came with a later migration; the transactions' file columns) are read as NULL when a database lacks them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

BATCH = 1000
CONNECT_TIMEOUT_S = 10

# The tables and columns the importer reads; the ones in OPTIONAL may be missing from an older database.
COLUMNS: dict[str, tuple[str, ...]] = {
    "cities": ("id", "name"),
    "request_types": ("id", "name"),
    "directions": ("id", "name"),
    "roles": ("id", "name"),
    "transaction_types": ("id", "name"),
    "advertising_campaigns": ("id", "city_id", "name", "phone_number", "created_at"),
    "administrators": ("id", "name", "role_id", "status", "login", "password_hash", "notes", "created_at"),
    "employees": ("id", "name", "role_id", "status", "city_id", "login", "password_hash", "notes", "created_at"),
    "masters": (
        "id",
        "city_id",
        "full_name",
        "phone_number",
        "birth_date",
        "passport",
        "status",
        "chat_id",
        "login",
        "password_hash",
        "notes",
        "created_at",
    ),
    "requests": (
        "id",
        "advertising_campaign_id",
        "city_id",
        "request_type_id",
        "client_phone",
        "client_name",
        "address",
        "meeting_date",
        "direction_id",
        "problem",
        "status",
        "master_id",
        "master_notes",
        "result",
        "expenses",
        "net_amount",
        "master_handover",
        "ats_number",
        "call_center_name",
        "call_center_notes",
        "bso_file_path",
        "expense_file_path",
        "recording_file_path",
        "avito_chat_id",
        "created_at",
        "updated_at",
    ),
    "transactions": (
        "id",
        "city_id",
        "transaction_type_id",
        "amount",
        "notes",
        "file_path",
        "specified_date",
        "payment_reason",
        "expense_receipt_path",
        "created_at",
    ),
    "files": ("id", "request_id", "transaction_id", "file_type", "file_path", "uploaded_at"),
}
OPTIONAL = {
    ("requests", "updated_at"),
    ("requests", "avito_chat_id"),
    ("transactions", "file_path"),
    ("transactions", "expense_receipt_path"),
    ("transactions", "payment_reason"),
    ("masters", "chat_id"),
    ("files", "uploaded_at"),
}
OPTIONAL_TABLES = {"files"}


class SourceError(Exception):
    """The ``--from`` database cannot be read as LeadSchem: unreachable, refused, or another schema."""


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` (SQLAlchemy's spelling) as the plain ``postgresql://…`` asyncpg takes."""
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0]
    if scheme not in {"postgresql", "postgres"}:
        raise SourceError(f"--from must be a postgresql:// URL, not {parts.scheme or 'a bare path'}://")
    return urlunsplit(parts._replace(scheme="postgresql"))


def describe(url: str) -> str:
    """The source for the report and the messages: host, port and database, never the password."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or ''}"


class LegacyReader:
    def __init__(self, conn: asyncpg.Connection, present: dict[str, set[str]], source: str) -> None:
        self.source = source  # host, port and database: for the report, without the password
        self._conn = conn
        self._present = present

    @classmethod
    async def open(cls, url: str) -> LegacyReader:
        """Connect and check that the database is LeadSchem; a :class:`SourceError` with one clear sentence if not."""
        dsn = asyncpg_dsn(url)
        try:
            conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SourceError(f"cannot connect to {describe(url)}: {reason}") from None
        try:
            await conn.execute("SET default_transaction_read_only = on")
            rows = await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = ANY($1::text[])",
                list(COLUMNS),
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            await conn.close()
            raise SourceError(f"cannot read {describe(url)}: {exc}") from None
        present: dict[str, set[str]] = {}
        for row in rows:
            present.setdefault(row["table_name"], set()).add(row["column_name"])
        missing = [
            f"{table}.{column}" if table in present else table
            for table, columns in COLUMNS.items()
            if table not in OPTIONAL_TABLES or table in present
            for column in (columns if table in present else columns[:1])
            if (table not in present or column not in present[table]) and (table, column) not in OPTIONAL
        ]
        if missing:
            await conn.close()
            shown = ", ".join(missing[:6]) + (" …" if len(missing) > 6 else "")
            raise SourceError(f"{describe(url)} is not a LeadSchem database (missing: {shown})")
        return cls(conn, present, describe(url))

    async def close(self) -> None:
        await self._conn.close()

    def has(self, table: str) -> bool:
        return table in self._present

    def available(self, table: str, columns: tuple[str, ...]) -> tuple[str, ...]:
        """Those of ``columns`` that this database's ``table`` has."""
        return tuple(c for c in columns if c in self._present.get(table, set()))

    def _select(self, table: str) -> str:
        present = self._present[table]
        columns = ", ".join(c if c in present else f"NULL AS {c}" for c in COLUMNS[table])
        return f"SELECT {columns} FROM {table}"  # noqa: S608 - names from COLUMNS, never from input

    async def count(self, table: str, where: str = "") -> int:
        if not self.has(table):
            return 0
        clause = f"WHERE {where}" if where else ""
        return int(await self._conn.fetchval(f"SELECT count(*) FROM {table} {clause}"))  # noqa: S608

    async def all(self, table: str) -> list[dict[str, Any]]:
        """A small table whole (reference data, accounts)."""
        if not self.has(table):
            return []
        return [dict(r) for r in await self._conn.fetch(f"{self._select(table)} ORDER BY id")]

    async def batches(self, table: str, where: str = "", size: int = BATCH) -> AsyncIterator[list[dict[str, Any]]]:
        """The rows of ``table`` (matching the SQL condition ``where``, a constant of the importer) in id order."""
        if not self.has(table):
            return
        condition = f"AND ({where})" if where else ""
        statement = f"{self._select(table)} WHERE id > $1 {condition} ORDER BY id LIMIT $2"
        last = -(2**31)
        while True:
            rows = await self._conn.fetch(statement, last, size)
            if not rows:
                return
            yield [dict(r) for r in rows]
            last = rows[-1]["id"]
            if len(rows) < size:
                return
