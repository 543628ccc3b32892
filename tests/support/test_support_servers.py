"""The loopback test servers are real and behave: a private Dovecot speaks IMAP to the stdlib and to aioimaplib, keeps
mail across a restart and can change UIDVALIDITY; moto's S3 stores, serves and ranges objects for aiobotocore; the
recording e-mail builders make what the provider's mail is described to be."""

from __future__ import annotations

import email
import imaplib
import json
import re
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.policy import default
from itertools import pairwise
from pathlib import Path

import aioimaplib
import filetype
import pytest
from aiobotocore.session import get_session

from tests.support.imap import ImapServer
from tests.support.mango_mail import attachment_name, mp3_bytes, recording_email, wav_bytes
from tests.support.s3 import S3Endpoint

pytestmark = pytest.mark.slow

NAMES = Path(__file__).parents[1] / "telephony" / "fixtures" / "mango" / "recording_email" / "attachment_names.json"
CYRILLIC = "2026-10-07__12-19-24__79084642037__Регистратура_1.mp3"


def attachments(raw: bytes) -> list[tuple[str | None, str, bytes]]:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return [(part.get_filename(), part.get_content_type(), part.get_content()) for part in message.iter_attachments()]


def fetched_bodies(lines: list[bytes | bytearray]) -> dict[int, bytes]:
    """aioimaplib's UID FETCH answer: ``b'1 FETCH (UID 7 BODY[] {n}'``, then the literal, then ``b')'``."""
    bodies: dict[int, bytes] = {}
    for head, body in pairwise(lines):
        match = re.match(rb"\d+ FETCH \(.*UID (\d+).*BODY\[\] \{\d+\}$", bytes(head))
        if match:
            bodies[int(match.group(1))] = bytes(body)
    return bodies


# -- IMAP ------------------------------------------------------------------------------------------------------------


def test_stdlib_login_and_wrong_password(imap: ImapServer) -> None:
    conn = imaplib.IMAP4(imap.host, imap.port, timeout=5)
    assert conn.login(imap.user, imap.password)[0] == "OK"
    assert conn.select("INBOX") == ("OK", [b"0"])
    conn.logout()
    conn = imaplib.IMAP4(imap.host, imap.port, timeout=5)
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        conn.login(imap.user, "wrong")
    conn.logout()


async def test_append_and_read_back_with_aioimaplib(imap: ImapServer) -> None:
    mp3, wav = mp3_bytes(), wav_bytes(0.2)
    first = imap.append(recording_email([(CYRILLIC, mp3)], message_id="<rec-1@mangotele.com>"))
    second = imap.append(recording_email([("2025.07.16__09-47-30__79265550077__79587770000.wav", wav)]))
    assert second > first
    assert imap.count() == 2

    client = aioimaplib.IMAP4(imap.host, imap.port, timeout=5)
    await client.wait_hello_from_server()
    assert (await client.login(imap.user, imap.password)).result == "OK"
    selected = await client.select("INBOX")
    assert selected.result == "OK"
    assert b"2 EXISTS" in selected.lines
    assert (await client.uid_search("ALL")).lines[0] == f"{first} {second}".encode()
    fetched = await client.uid("fetch", "1:*", "(UID BODY.PEEK[])")
    assert fetched.result == "OK"
    await client.logout()

    bodies = fetched_bodies(fetched.lines)
    assert sorted(bodies) == [first, second]
    assert attachments(bodies[first]) == [(CYRILLIC, "audio/mpeg", mp3)]
    assert attachments(bodies[second]) == [("2025.07.16__09-47-30__79265550077__79587770000.wav", "audio/wav", wav)]
    assert email.message_from_bytes(bodies[first])["Message-ID"] == "<rec-1@mangotele.com>"
    assert all("\\Seen" not in flags for flags in imap.flags().values())  # BODY.PEEK marks nothing seen


def test_stop_refuses_connections_and_restart_keeps_mail(imap: ImapServer) -> None:
    uid = imap.append(recording_email([("a.mp3", mp3_bytes(2))]))
    port, validity = imap.port, imap.uidvalidity()
    imap.stop()
    with pytest.raises(ConnectionRefusedError):
        imaplib.IMAP4(imap.host, imap.port, timeout=5)
    imap.start()
    assert imap.port == port
    assert imap.uids() == [uid]
    assert imap.uidvalidity() == validity
    imap.restart(graceful=True)
    assert imap.uids() == [uid]


def test_imap_fixture_starts_a_stopped_server_with_an_empty_inbox(
    imap_server: ImapServer, request: pytest.FixtureRequest
) -> None:
    imap_server.start()
    imap_server.append(b"Subject: left behind\r\n\r\nx\r\n", folder="Processed")
    imap_server.stop()
    imap: ImapServer = request.getfixturevalue("imap")
    assert imap is imap_server
    assert imap.running
    assert imap.count() == 0
    assert imap.folders() == ["INBOX"]


def test_reset_uidvalidity_renumbers_the_kept_mail(imap: ImapServer) -> None:
    gone = imap.append(recording_email([("a.mp3", mp3_bytes(2))]))
    imap.clear()
    kept = imap.append(recording_email([("b.mp3", mp3_bytes(2))]))
    assert kept > gone  # UIDs are never reused under one UIDVALIDITY
    before = imap.uidvalidity()
    after = imap.reset_uidvalidity()
    assert after != before
    assert imap.uidvalidity() == after
    assert imap.uids() == [1]
    assert imap.reset_uidvalidity(keep_messages=False) not in (before, after)
    assert imap.count() == 0


def test_folders_are_created_on_append_and_cleared(imap: ImapServer) -> None:
    imap.append(b"Subject: filed\r\n\r\nx\r\n", folder="Processed")
    assert sorted(imap.folders()) == ["INBOX", "Processed"]
    assert imap.count("Processed") == 1
    imap.clear()
    assert imap.folders() == ["INBOX"]


# -- recording e-mails -----------------------------------------------------------------------------------------------


def test_audio_builders_are_sniffed_as_audio() -> None:
    assert filetype.guess(mp3_bytes()).mime == "audio/mpeg"
    assert filetype.guess(mp3_bytes(id3=True)).mime == "audio/mpeg"
    assert filetype.guess(wav_bytes()).mime == "audio/x-wav"
    assert len(wav_bytes(1.0)) == 44 + 8000 * 2


def test_attachment_names_match_the_described_pattern() -> None:
    described = json.loads(NAMES.read_text())
    for example in described["examples"]:
        caller, line = example["expect"]["caller"], example["expect"]["line"]
        started = datetime.fromisoformat(example["expect"]["started_local"])
        ext = example["filename"].rsplit(".", 1)[1]
        assert attachment_name(started, caller, line, ext) == example["filename"]
    dashed = described["variants_seen_or_possible"][0]["filename"]
    assert attachment_name(datetime(2025, 7, 15, 11, 3, 7), "79031112233", "79584440011", dashes=True) == dashed


def test_recording_email_shape() -> None:
    raw = recording_email(
        [(CYRILLIC, b"\xff\xfb\x90\x64"), ("notes.xyz", b"?")], date=datetime(2026, 10, 7, 9, 19, tzinfo=UTC)
    )
    assert b"\r\n" in raw
    assert raw.isascii()  # 7-bit transport: the Cyrillic name is RFC 2231-encoded, the subject RFC 2047
    assert b"filename*0*=utf-8''2026-10-07__12-19-24__79084642037__" in raw
    parsed: Message = email.message_from_bytes(raw)  # the legacy compat32 parser reads it too
    assert parsed.get_content_type() == "multipart/mixed"
    assert str(make_header(decode_header(parsed["Subject"]))) == "Запись разговора"
    assert parsed["From"] == "auto-mailer@mangotele.com"
    assert parsed["Date"] == "Wed, 07 Oct 2026 09:19:00 +0000"
    names = [(part.get_filename(), part.get_content_type()) for part in parsed.walk() if part.get_filename()]
    assert names == [(CYRILLIC, "audio/mpeg"), ("notes.xyz", "application/octet-stream")]


# -- S3 --------------------------------------------------------------------------------------------------------------


async def test_s3_put_get_and_ranged_get_with_aiobotocore(s3: S3Endpoint) -> None:
    session = get_session()
    async with session.create_client("s3", **s3.client_kwargs()) as client:
        await client.put_object(Bucket=s3.bucket, Key="recordings/a.mp3", Body=b"0123456789", ContentType="audio/mpeg")
        whole = await client.get_object(Bucket=s3.bucket, Key="recordings/a.mp3")
        async with whole["Body"] as stream:
            assert await stream.read() == b"0123456789"
        assert whole["ContentType"] == "audio/mpeg"
        part = await client.get_object(Bucket=s3.bucket, Key="recordings/a.mp3", Range="bytes=2-5")
        async with part["Body"] as stream:
            assert await stream.read() == b"2345"
        assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert part["ContentRange"] == "bytes 2-5/10"
        listed = await client.list_objects_v2(Bucket=s3.bucket)
        assert [item["Key"] for item in listed["Contents"]] == ["recordings/a.mp3"]


def test_s3_bucket_is_empty_for_each_test(s3: S3Endpoint) -> None:
    client = s3.boto3_client()
    assert client.list_objects_v2(Bucket=s3.bucket)["KeyCount"] == 0
    client.put_object(Bucket=s3.bucket, Key="left-behind", Body=b"x")


def test_s3_bucket_is_empty_again(s3: S3Endpoint) -> None:
    assert s3.boto3_client().list_objects_v2(Bucket=s3.bucket)["KeyCount"] == 0
