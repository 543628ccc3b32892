"""A LeadSchem database on the local PostgreSQL (always 127.0.0.1:5432, whatever Leadflow's own test database is):
created fresh from tests/legacy/leadschem.sql, filled, dropped."""

from __future__ import annotations

import asyncio
import struct
import uuid
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import bcrypt

LEGACY_SERVER = "postgresql://postgres@127.0.0.1:5432"
SCHEMA = Path(__file__).with_name("leadschem.sql")
LEGACY_PASSWORD = "Legacy-Pass-2020"


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(f"{LEGACY_SERVER}/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_legacy_database(fill: Callable[[asyncpg.Connection], Awaitable[None]] | None = None) -> str:
    """A new database with the LeadSchem schema (and ``fill``'s rows); its URL."""
    name = f"lf_leadschem_{uuid.uuid4().hex[:10]}"

    async def build() -> None:
        await _admin(f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(f"{LEGACY_SERVER}/{name}")
        try:
            await conn.execute(SCHEMA.read_text(encoding="utf-8"))
            if fill is not None:
                await fill(conn)
        except BaseException:
            await conn.close()
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            raise
        await conn.close()

    asyncio.run(build())
    return f"{LEGACY_SERVER}/{name}"


def drop_legacy_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def execute(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def bcrypt_hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def png_bytes() -> bytes:
    """A valid 1×1 PNG (the file service sniffs the content)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
