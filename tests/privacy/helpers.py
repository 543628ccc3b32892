"""The scene of the personal-data tests: one client (``PHONE``) present in every table that holds a phone, a name or
an address (requests, request_events, calls, call_recordings, files and their bytes on the storage), and a second
client who must come out of every erasure untouched. Everything is made through the API or the services the
product itself runs (the webhook, the mailbox's ingest); nothing is written behind their backs."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select

from leadflow.audit.models import AuditLog
from leadflow.files import service as files
from leadflow.files.models import StoredFile
from leadflow.models import metadata
from leadflow.recordings import service as recordings
from tests.conftest import Harness
from tests.files.helpers import png, uploaded
from tests.requests.helpers import API, REQUESTS, Team, move, team, url
from tests.support.mango_mail import attachment_name, mp3_bytes
from tests.telephony.mango import API_KEY, KNOWN_LINE, post_payload

PHONE = "79161234567"
SPELLINGS = ("+7 (916) 123-45-67", "89161234567", "79161234567")
NAME = "Иван Петров"
NEW_NAME = "Иван Сергеевич Петров"
ADDRESS = "ул. Садовая, 17, кв. 4"
PROBLEM = "Не сливает воду; Иван просит звонить после 18:00"
NOTE = "Перезвонить Ивану Петрову"
TYPO_PHONE = "79161234500"  # request B was taken with PHONE by mistake, then corrected to this number
OTHER_PHONE = "79267654321"
OTHER_NAME = "Мария Соколова"
OTHER_ADDRESS = "пр. Мира, 3"
PERSONAL = (PHONE, NAME, NEW_NAME, ADDRESS, "Садовая", "Иван")
TABLES = ("requests", "request_events", "calls", "call_recordings", "files")
MOSCOW = ZoneInfo("Europe/Moscow")
Json = dict[str, Any]


def export_url(phone: str) -> str:
    return f"{API}/privacy/clients/{phone}"


def erase_url(phone: str) -> str:
    return f"{API}/privacy/clients/{phone}/erase"


def call_payload(entry: str, caller: str) -> dict[str, Any]:
    return {
        "entry_id": entry,
        "call_id": entry + "-leg",
        "timestamp": 1752566571,
        "seq": 1,
        "call_state": "Appeared",
        "location": "ivr",
        "from": {"number": caller},
        "to": {"number": KNOWN_LINE, "line_number": KNOWN_LINE},
    }


@dataclass
class World:
    h: Harness
    t: Team
    done_id: int  # request A: taken by hand, named, addressed, edited, done with money, a file attached
    lead_id: int  # request C: created by a call from PHONE, a second call attached to it
    typo_id: int  # request B: another client's now; its history holds PHONE as a corrected phone
    other_id: int  # request D: another client, with a file
    recording_id: int
    bso: bytes
    other_bso: bytes
    audio: bytes

    @property
    def admin(self) -> httpx.AsyncClient:
        return self.t.admin


async def ingest_recording(h: Harness, caller: str, audio: bytes) -> int:
    """A recording as the mailbox stores it (the same service call), started a minute ago."""
    started = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).astimezone(MOSCOW).replace(tzinfo=None)
    name = attachment_name(started, caller, KNOWN_LINE)

    async def chunks() -> AsyncIterator[bytes]:
        yield audio

    staged = await files.stage(chunks(), name, "recording", 50 * 1024 * 1024, h.settings.data_dir / "tmp")
    windows = recordings.Windows(link=dt.timedelta(minutes=30), retry=dt.timedelta(days=7))
    try:
        async with h.database.session() as session:
            result = await recordings.ingest(
                session, h.app.state.storage, staged, zone="Europe/Moscow", windows=windows
            )
    finally:
        staged.discard()
    assert result.outcome == "stored" and result.recording is not None
    return result.recording.id


async def patch(client: httpx.AsyncClient, rid: int, **fields: Any) -> Json:
    version = (await client.get(url(rid))).json()["version"]
    answer = await client.patch(url(rid), json={"version": version, **fields})
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


async def world(harness_factory: Any, **settings: Any) -> World:
    h: Harness = await harness_factory(
        mango_api_key=API_KEY, mango_api_salt="testsalt0mango0fixture0000000001", **settings
    )
    t = await team(h)
    campaign = await t.admin.post(f"{API}/campaigns", json={"city_id": t.city.id, "name": "Avito", "phone": KNOWN_LINE})
    assert campaign.status_code == 201, campaign.text
    # C: two calls from the client; the first creates the lead, the second is attached to it (a "call" event).
    first = await post_payload(h.client, "call", call_payload("entry-1", PHONE))
    assert first.json()["outcome"] == "created_request", first.text
    second = await post_payload(h.client, "call", call_payload("entry-2", "8 916 123-45-67"))
    assert second.json()["outcome"] == "attached", second.text
    [lead] = [c for c in (await t.admin.get(f"{API}/calls")).json()["items"] if c["entry_id"] == "entry-1"]
    # A: taken by the operator in another spelling, then renamed, problem and notes filled in, done with money.
    made = await t.operator.post(
        REQUESTS,
        json={
            "city_id": t.city.id,
            "client_phone": "+7 (916) 123-45-67",
            "client_name": NAME,
            "address": ADDRESS,
            "visit_at": "2026-11-25T10:00:00+03:00",
            "problem": PROBLEM,
        },
    )
    assert made.status_code == 201, made.text
    done_id = made.json()["id"]
    assert made.json()["request_type"]["code"] == "repeat"
    await patch(t.operator, done_id, client_name=NEW_NAME, call_center_notes=NOTE)
    for step in ("awaiting_dispatch", "awaiting_acceptance", "accepted", "in_progress"):
        await move(t.director, done_id, step, **({"master_id": t.master_id} if step == "awaiting_acceptance" else {}))
    await move(t.director, done_id, "done", result="5000", expenses="1000", note=f"Клиент {NAME} доволен")
    bso = png(seed=11)
    await uploaded(t.director, url(done_id, "/files"), bso, name=f"бсо {NAME}.png")
    # B: taken with PHONE by mistake, corrected to another number: its history names PHONE.
    typo = await t.operator.post(
        REQUESTS, json={"city_id": t.city.id, "client_phone": PHONE, "client_name": "Олег", "address": "ул. Тихая, 9"}
    )
    assert typo.status_code == 201, typo.text
    await patch(t.operator, typo.json()["id"], client_phone=TYPO_PHONE)
    # D: another client altogether, with a file of their own.
    other = await t.operator.post(
        REQUESTS,
        json={"city_id": t.city.id, "client_phone": OTHER_PHONE, "client_name": OTHER_NAME, "address": OTHER_ADDRESS},
    )
    assert other.status_code == 201, other.text
    other_bso = png(seed=12)
    await uploaded(t.director, url(other.json()["id"], "/files"), other_bso, name="other.png")
    # The recording of the client's call, linked by the mailbox's own rule to their newest request.
    audio = mp3_bytes(frames=31)
    recording_id = await ingest_recording(h, PHONE, audio)
    return World(
        h=h,
        t=t,
        done_id=done_id,
        lead_id=lead["request_id"],
        typo_id=typo.json()["id"],
        other_id=other.json()["id"],
        recording_id=recording_id,
        bso=bso,
        other_bso=other_bso,
        audio=audio,
    )


async def table_rows(h: Harness) -> dict[str, list[Json]]:
    """Every row of every table that holds a phone, a name or an address, as stored."""
    out: dict[str, list[Json]] = {}
    async with h.database.session() as session:
        for name in TABLES:
            table = metadata.tables[name]
            rows = await session.execute(select(table).order_by(*table.primary_key.columns))
            out[name] = [dict(r._mapping) for r in rows]
    return out


async def audit_lines(h: Harness, action: str) -> list[AuditLog]:
    async with h.database.session() as session:
        query = select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        return list((await session.scalars(query)).all())


async def file_row(h: Harness, **where: Any) -> StoredFile:
    async with h.database.session() as session:
        query = select(StoredFile).filter_by(**where)
        row = (await session.scalars(query)).one()
        return row
