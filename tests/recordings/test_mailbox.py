"""The recordings mailbox (SPEC §6.2) against a real IMAP server (Dovecot on loopback, tests/support/imap.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select, update

from leadflow.files.models import StoredFile
from leadflow.platform.jobs import JobRun
from leadflow.recordings.mailbox import MAILBOX_FAILURES, MailboxSync, MailboxUnavailable
from leadflow.recordings.models import CallRecording
from tests.conftest import Harness, problem
from tests.support.imap import ImapServer
from tests.support.mango_mail import attachment_name, mp3_bytes, recording_email, wav_bytes

MOSCOW = ZoneInfo("Europe/Moscow")
LINE = "79584440011"


@pytest.fixture
async def rec(harness_factory: Any, imap: ImapServer) -> Harness:
    return await harness_factory(  # type: ignore[no-any-return]
        imap_host=imap.host,
        imap_port=imap.port,
        imap_user=imap.user,
        imap_password=imap.password,
        imap_ssl=False,
        redis_url=None,  # jobs run in-process in these tests
    )


def sync_of(h: Harness) -> MailboxSync:
    return MailboxSync(h.settings, h.database, h.app.state.storage, connect_delay_s=0.01)


def name_at(moment: dt.datetime, caller: str, line: str = LINE, ext: str = "mp3") -> str:
    return attachment_name(moment.astimezone(MOSCOW).replace(tzinfo=None), caller, line, ext=ext)


def now_minus(minutes: int = 0) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)


async def setup(h: Harness) -> tuple[httpx.AsyncClient, int, int]:
    admin = await h.as_user(await h.user("admin"))
    city = await h.city()
    campaign = await admin.post("/api/v1/campaigns", json={"city_id": city.id, "name": "Avito", "phone": LINE})
    assert campaign.status_code == 201
    return admin, city.id, campaign.json()["id"]


async def new_request(admin: httpx.AsyncClient, city_id: int, phone: str, campaign_id: int | None = None) -> int:
    body: dict[str, Any] = {"city_id": city_id, "client_phone": phone}
    if campaign_id is not None:
        body["campaign_id"] = campaign_id
    answer = await admin.post("/api/v1/requests", json=body)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def recordings(h: Harness) -> list[CallRecording]:
    async with h.database.session() as session:
        return list((await session.scalars(select(CallRecording).order_by(CallRecording.id))).all())


async def stored_files(h: Harness) -> int:
    async with h.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(StoredFile)) or 0)


async def test_sync_stores_and_links_a_recording(rec: Harness, imap: ImapServer) -> None:
    admin, city_id, campaign_id = await setup(rec)
    request_id = await new_request(admin, city_id, "79031112233", campaign_id)
    audio = mp3_bytes(frames=31)
    imap.append(recording_email([(name_at(now_minus(2), "79031112233"), audio)]))
    report = await sync_of(rec).run()
    assert report.messages == 1
    assert report.outcomes["stored"] == 1
    [recording] = await recordings(rec)
    assert recording.link_state == "linked"
    assert recording.request_id == request_id
    assert recording.city_id == city_id
    assert recording.caller == "79031112233" and recording.line == LINE
    assert recording.link_attempts == 1
    detail = (await admin.get(f"/api/v1/requests/{request_id}")).json()
    [linked] = detail["recordings"]
    assert linked["id"] == recording.id and linked["link_state"] == "linked"
    assert linked["file"]["content_type"] == "audio/mpeg" and linked["file"]["size"] == len(audio)
    download = await admin.get(linked["file"]["url"])
    assert download.status_code == 200 and download.content == audio
    ranged = await admin.get(linked["file"]["url"], params={"inline": 1}, headers={"Range": "bytes=0-3"})
    assert ranged.status_code == 206 and ranged.content == audio[:4]
    events = (await admin.get(f"/api/v1/requests/{request_id}/events")).json()["items"]
    assert events[-1]["kind"] == "recording" and events[-1]["data"] == {"recording_id": recording.id}


async def test_reading_a_message_twice_never_duplicates(rec: Harness, imap: ImapServer) -> None:
    admin, city_id, campaign_id = await setup(rec)
    await new_request(admin, city_id, "79031112234", campaign_id)
    message = recording_email([(name_at(now_minus(1), "79031112234", ext="wav"), wav_bytes(1.5))])
    imap.append(message)
    sync = sync_of(rec)
    first = await sync.run()
    again = await sync.run()  # nothing new above the last UID
    assert (first.messages, again.messages) == (1, 0)
    imap.append(message)  # the same mail delivered twice
    third = await sync.run()
    assert third.messages == 1 and third.outcomes["duplicate"] == 1
    imap.reset_uidvalidity()  # the server renumbered the folder: everything is read again
    fourth = await sync.run()
    assert fourth.rescanned and fourth.messages == 2 and fourth.outcomes["duplicate"] == 2
    assert len(await recordings(rec)) == 1
    assert await stored_files(rec) == 1


async def test_a_recording_that_arrives_before_its_request_is_linked_later(rec: Harness, imap: ImapServer) -> None:
    admin, city_id, campaign_id = await setup(rec)
    imap.append(recording_email([(name_at(now_minus(3), "79031112235"), mp3_bytes(frames=33))]))
    sync = sync_of(rec)
    await sync.run()
    [recording] = await recordings(rec)
    assert recording.link_state == "pending" and recording.request_id is None and recording.link_attempts == 1
    assert recording.city_id == city_id  # known from the campaign's line
    await sync.run()
    [recording] = await recordings(rec)
    assert recording.link_state == "pending" and recording.link_attempts == 2
    request_id = await new_request(admin, city_id, "8 903 111-22-35", campaign_id)
    report = await sync.run()
    assert report.outcomes.get("pending_linked") == 1
    [recording] = await recordings(rec)
    assert recording.link_state == "linked" and recording.request_id == request_id


async def test_link_prefers_the_request_of_the_lines_campaign(rec: Harness, imap: ImapServer) -> None:
    admin, city_id, campaign_id = await setup(rec)
    other = await admin.post("/api/v1/campaigns", json={"city_id": city_id, "name": "Leaflet", "phone": "79580000001"})
    ours = await new_request(admin, city_id, "79031112236", campaign_id)
    await new_request(admin, city_id, "79031112236", other.json()["id"])  # newer, but of another campaign
    imap.append(recording_email([(name_at(now_minus(1), "79031112236"), mp3_bytes(frames=34))]))
    await sync_of(rec).run()
    [recording] = await recordings(rec)
    assert recording.request_id == ours


async def test_pending_recordings_give_up_after_the_retry_period(rec: Harness, imap: ImapServer) -> None:
    await setup(rec)
    imap.append(recording_email([(name_at(now_minus(5), "79031112237"), mp3_bytes(frames=35))]))
    sync = sync_of(rec)
    await sync.run()
    async with rec.database.session() as session:
        await session.execute(update(CallRecording).values(created_at=now_minus(60 * 24 * 8)))
        await session.commit()
    report = await sync.run()
    assert report.outcomes.get("pending_gave_up") == 1
    [recording] = await recordings(rec)
    assert recording.link_state == "gave_up"
    assert (await sync.run()).outcomes.get("pending_retried") is None  # no longer retried


async def test_mail_without_a_usable_recording_is_skipped_and_not_read_again(rec: Harness, imap: ImapServer) -> None:
    await setup(rec)
    imap.append(recording_email([]))
    imap.append(recording_email([("call.mp3", mp3_bytes(frames=36))]))  # not the provider's name
    imap.append(recording_email([(name_at(now_minus(1), "79031112238"), b"this is text, not audio " * 20)]))
    imap.append(recording_email([(name_at(now_minus(1), "79031112238", ext="wav"), mp3_bytes(frames=37))]))  # lies
    report = await sync_of(rec).run()
    assert report.messages == 4
    assert report.outcomes == {"no_attachment": 1, "misnamed": 1, "unsupported": 2}
    assert await recordings(rec) == [] and await stored_files(rec) == 0
    assert (await sync_of(rec).run()).messages == 0


async def test_sync_survives_the_mailbox_going_away_and_coming_back(rec: Harness, imap: ImapServer) -> None:
    admin, city_id, campaign_id = await setup(rec)
    await new_request(admin, city_id, "79031112239", campaign_id)
    imap.append(recording_email([(name_at(now_minus(1), "79031112239"), mp3_bytes(frames=38))]))
    sync = sync_of(rec)
    assert (await sync.run()).messages == 1
    imap.stop()
    failures = MAILBOX_FAILURES._value.get()
    with pytest.raises(MailboxUnavailable):
        await sync.run()
    assert MAILBOX_FAILURES._value.get() == failures + 1
    imap.start()
    imap.append(recording_email([(name_at(now_minus(1), "79031112239"), mp3_bytes(frames=39))]))
    report = await sync.run()
    assert report.messages == 1 and report.outcomes["stored"] == 1
    assert [r.link_state for r in await recordings(rec)] == ["linked", "linked"]


async def finished_runs(h: Harness, count: int) -> list[str]:
    for _ in range(400):
        async with h.database.session() as session:
            statuses = list((await session.scalars(select(JobRun.status).order_by(JobRun.id))).all())
        if len(statuses) >= count and all(s in ("ok", "failed") for s in statuses):
            return statuses
        await asyncio.sleep(0.05)
    raise AssertionError(f"runs did not finish: {statuses}")


async def test_the_job_records_a_failed_run_and_then_a_good_one(rec: Harness, imap: ImapServer) -> None:
    jobs = rec.app.state.jobs
    imap.stop()
    await jobs.enqueue("recordings.sync")
    assert await finished_runs(rec, 1) == ["failed"]
    imap.start()
    await jobs.enqueue("recordings.sync")
    assert await finished_runs(rec, 2) == ["failed", "ok"]
    async with rec.database.session() as session:
        failed = await session.scalar(select(JobRun).where(JobRun.status == "failed"))
    assert failed is not None and failed.error is not None and "MailboxUnavailable" in failed.error
    await jobs.shutdown()


async def test_sync_endpoint_and_cli_contract(rec: Harness, imap: ImapServer) -> None:
    admin, city_id, campaign_id = await setup(rec)
    await new_request(admin, city_id, "79031112240", campaign_id)
    imap.append(recording_email([(name_at(now_minus(1), "79031112240"), mp3_bytes(frames=40))]))
    answer = await admin.post("/api/v1/call-recordings/sync")
    assert answer.status_code == 202
    body = answer.json()
    assert body["job"] == "recordings.sync" and body["status"] == "queued"
    for _ in range(300):
        items = (await admin.get("/api/v1/call-recordings")).json()["items"]
        if items:
            break

        await asyncio.sleep(0.05)
    [item] = items
    assert item["link_state"] == "linked" and item["file"]["kind"] == "recording"
    for role in ("director", "operator", "master", "marketer"):
        problem(await (await rec.signed_in(role)).post("/api/v1/call-recordings/sync"), 403)
    problem(await rec.client.post("/api/v1/call-recordings/sync"), 401)
    await rec.app.state.jobs.shutdown()


async def test_list_scope_and_manual_link(rec: Harness, imap: ImapServer) -> None:
    admin, city_id, campaign_id = await setup(rec)
    imap.append(recording_email([(name_at(now_minus(1), "79031112241"), mp3_bytes(frames=41))]))
    imap.append(recording_email([(name_at(now_minus(1), "79031112242", line="79587770000"), mp3_bytes(frames=42))]))
    await sync_of(rec).run()
    director = await rec.as_user(await rec.user("director", cities=[city_id]))
    stranger = await rec.as_user(await rec.user("director", cities=[(await rec.city()).id]))
    operator = await rec.as_user(await rec.user("operator", cities=[city_id]))
    everything = (await admin.get("/api/v1/call-recordings", params={"link_state": "pending"})).json()
    assert everything["total"] == 2
    own = (await director.get("/api/v1/call-recordings")).json()["items"]
    assert [r["caller"] for r in own] == ["79031112241"]  # the unknown line's recording is the admin's
    assert (await stranger.get("/api/v1/call-recordings")).json()["items"] == []
    for role in ("master", "marketer"):
        problem(await (await rec.signed_in(role)).get("/api/v1/call-recordings"), 403)
    recording_id = own[0]["id"]
    request_id = await new_request(admin, city_id, "79031112299", campaign_id)
    problem(await stranger.post(f"/api/v1/call-recordings/{recording_id}/link", json={"request_id": request_id}), 404)
    unknown = await operator.post(f"/api/v1/call-recordings/{recording_id}/link", json={"request_id": 999999})
    problem(unknown, 422)
    linked = await operator.post(f"/api/v1/call-recordings/{recording_id}/link", json={"request_id": request_id})
    assert linked.status_code == 200, linked.text
    assert linked.json()["link_state"] == "linked" and linked.json()["request_id"] == request_id
    again = await operator.post(f"/api/v1/call-recordings/{recording_id}/link", json={"request_id": request_id})
    problem(again, 409, "already-linked")
    file_url = linked.json()["file"]["url"]
    assert (await operator.get(file_url)).status_code == 200
    problem(await stranger.get(file_url), 404)
    problem(await (await rec.signed_in("master")).get(file_url), 404)
    events = (await admin.get(f"/api/v1/requests/{request_id}/events")).json()["items"]
    assert events[-1]["kind"] == "recording" and events[-1]["actor_id"] is not None


async def test_a_link_attempt_never_undoes_a_manual_link(rec: Harness, imap: ImapServer) -> None:
    admin, city_id, campaign_id = await setup(rec)
    imap.append(recording_email([(name_at(now_minus(2), "79031112250"), mp3_bytes(frames=50))]))
    await sync_of(rec).run()
    [recording] = await recordings(rec)
    target = await new_request(admin, city_id, "79031112251", campaign_id)
    async with rec.database.session() as session:  # the job has read the pending row ...
        stale = await session.get(CallRecording, recording.id)
        assert stale is not None and stale.link_state == "pending"
        linked = await admin.post(f"/api/v1/call-recordings/{recording.id}/link", json={"request_id": target})
        assert linked.status_code == 200  # ... an operator links it by hand meanwhile ...
        await session.execute(update(CallRecording).values(created_at=now_minus(60 * 24 * 30)))
        await session.commit()
        from leadflow.recordings import service

        windows = service.Windows(link=dt.timedelta(minutes=30), retry=dt.timedelta(days=7))
        assert await service._link(session, stale, windows, now_minus(0)) == "moved"  # ... and its attempt yields
        await session.commit()
    [after] = await recordings(rec)
    assert (after.link_state, after.request_id) == ("linked", target)
    listed = (await admin.get("/api/v1/call-recordings", params={"per_page": 1})).json()
    assert listed["total"] == 1
