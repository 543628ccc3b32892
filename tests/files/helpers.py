"""Shared helpers of the file tests: real bytes of every allowed type (built by hand, checked by ``filetype``), a
scene of a city with its staff and a request assigned to its master, upload and read shortcuts, and what the
database and the disk hold."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from leadflow.files.models import FileAccess, StoredFile
from tests.conftest import Harness
from tests.requests.helpers import VISIT, Team, create, team

API = "/api/v1"
FILES = f"{API}/files"
ACCESS_LOG = f"{API}/file-access-log"
Json = dict[str, Any]
FILE_FIELDS = {"id", "kind", "original_name", "content_type", "size", "sha256", "uploaded_at", "uploaded_by_id", "url"}


# Bytes -----------------------------------------------------------------------------------------------------------
def png(width: int = 1, height: int = 1, seed: int = 0) -> bytes:
    """A valid PNG; ``seed`` changes the pixels (and so the hash) without changing the type."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes([seed % 256, (seed >> 8) % 256, 7]) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def jpeg(seed: int = 0) -> bytes:
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes([seed % 256]) * 32 + b"\xff\xd9"
    )


def pdf(text: str = "receipt") -> bytes:
    return f"%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\n% {text}\ntrailer <</Root 1 0 R>>\n%%EOF\n".encode()


def webp(seed: int = 0) -> bytes:
    payload = b"VP8 " + struct.pack("<I", 24) + bytes([seed % 256]) * 24
    return b"RIFF" + struct.pack("<I", 4 + len(payload)) + b"WEBP" + payload


def exe() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def gif() -> bytes:
    return b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def padded_png(size: int) -> bytes:
    """A PNG of exactly ``size`` bytes (an ancillary chunk pads it); still a PNG to ``filetype``."""
    base = png()
    filler = size - len(base) - 12
    assert filler >= 0
    data = b"tEXt" + b"x" * filler
    extra = struct.pack(">I", filler) + data + struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)
    out = base[:-12] + extra + base[-12:]
    assert len(out) == size
    return out


# The scene -------------------------------------------------------------------------------------------------------
@dataclass
class Scene:
    h: Harness
    t: Team
    rid: int  # a request of t.city, accepted by t.master
    _others: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    _other_city: int | None = None

    @property
    def upload_url(self) -> str:
        return f"{API}/requests/{self.rid}/files"

    async def other(self, who: str) -> httpx.AsyncClient:
        """Signed in on first use: ``other_master`` (a master of the same city, not assigned to the request),
        ``outsider_director`` and ``outsider_operator`` (of another city)."""
        if who not in self._others:
            if who == "other_master":
                user = await self.h.user("master", master_city=self.t.city.id)
            else:
                if self._other_city is None:
                    self._other_city = (await self.h.city()).id
                role = {"outsider_director": "director", "outsider_operator": "operator"}[who]
                user = await self.h.user(role, cities=[self._other_city])
            self._others[who] = await self.h.as_user(user)
        return self._others[who]


async def scene(h: Harness) -> Scene:
    """A team (tests.requests.helpers) and a request of its city, moved by the director to ``accepted`` by its
    master (each move sends the version the previous answer carried)."""
    t = await team(h)
    req = await create(t.director, t.city.id, address="ул. Ленина, 1", visit_at=VISIT)
    for step, extra in (
        ("awaiting_dispatch", {}),
        ("awaiting_acceptance", {"master_id": t.master_id}),
        ("accepted", {}),
    ):
        moved = await t.director.post(
            f"{API}/requests/{req['id']}/transitions", json={"to": step, "version": req["version"], **extra}
        )
        assert moved.status_code == 200, moved.text
        req = moved.json()
    assert (req["status"], req["master_id"]) == ("accepted", t.master_id)
    return Scene(h=h, t=t, rid=req["id"])


async def upload(
    client: httpx.AsyncClient, url: str, data: bytes, name: str = "bso.png", kind: str | None = "bso", **kw: Any
) -> httpx.Response:
    form = {"kind": kind} if kind is not None else {}
    return await client.post(url, files={"file": (name, data, "application/octet-stream")}, data=form, **kw)


async def uploaded(client: httpx.AsyncClient, url: str, data: bytes, name: str = "bso.png", kind: str = "bso") -> Json:
    response = await upload(client, url, data, name, kind)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# What is stored --------------------------------------------------------------------------------------------------
async def file_rows(h: Harness, *, deleted: bool = True) -> list[StoredFile]:
    async with h.database.session() as session:
        query = select(StoredFile).order_by(StoredFile.uploaded_at, StoredFile.id)
        if not deleted:
            query = query.where(StoredFile.deleted_at.is_(None))
        return list((await session.scalars(query)).all())


async def log_rows(h: Harness) -> list[FileAccess]:
    async with h.database.session() as session:
        return list((await session.scalars(select(FileAccess).order_by(FileAccess.id))).all())


def files_on_disk(h: Harness) -> list[Path]:
    root = h.settings.data_dir / "files"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def temp_leftovers(h: Harness) -> list[Path]:
    root = h.settings.data_dir / "tmp"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def me(client: httpx.AsyncClient) -> int:
    response = await client.get(f"{API}/auth/me")
    assert response.status_code == 200, response.text
    return int(response.json()["id"])


async def book_transaction(admin: httpx.AsyncClient, city_id: int) -> Json:
    """An income transaction of ``city_id`` on a type made for it."""
    made = await admin.post(f"{API}/transaction-types", json={"name": f"Продажа {city_id}", "kind": "income"})
    assert made.status_code == 201, made.text
    body = {"city_id": city_id, "type_id": made.json()["id"], "amount": "100.00", "occurred_on": "2024-03-10"}
    response = await admin.post(f"{API}/transactions", json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def raw_upload(
    client: httpx.AsyncClient,
    url: str,
    filename: bytes,
    data: bytes,
    kind: str = "bso",
    boundary: str = "leadflow-test-boundary-7f3a",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A multipart body written by hand, so that the file name reaches the server byte for byte (httpx would
    percent-encode quotes and control characters)."""
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\n{kind}\r\n'.encode()
        + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    sent = {"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})}
    return await client.post(url, content=body, headers=sent)


async def delete_request(admin: httpx.AsyncClient, rid: int) -> None:
    current = await admin.get(f"{API}/requests/{rid}")
    assert current.status_code == 200, current.text
    response = await admin.delete(f"{API}/requests/{rid}", headers={"If-Match": f'"{current.json()["version"]}"'})
    assert response.status_code == 204, response.text
