"""Builders of e-mails shaped like Mango Office's call-recording mail, and of small real audio files.

What such a mail looks like is NOT confirmed by Mango's documentation (see ``shared/fixtures/mango/README.md``,
"Not found", and ``recording_email/attachment_names.json``): the attachment name
``YYYY.MM.DD__HH-MM-SS__<caller>__<line>.<ext>`` (or with a dashed date; the second part may be a line or employee
name) comes from the legacy system and one public parser; the local time is assumed to be Moscow's. Sender and
subject here are made up. The builders make standard MIME, so a parser that reads them also reads other shapes.
"""

from __future__ import annotations

import io
import mimetypes
import wave
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding, joint stereo: 144 * 128000 // 44100 = 417 bytes a frame.
MP3_FRAME_HEADER = b"\xff\xfb\x90\x64"
MP3_FRAME_LENGTH = 417

AUDIO_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
}


def wav_bytes(seconds: float = 1.0) -> bytes:
    """A real RIFF/WAVE file of silence: 8 kHz, mono, 16-bit."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * round(8000 * seconds))
    return buffer.getvalue()


def mp3_bytes(frames: int = 20, id3: bool = False) -> bytes:
    """MPEG-1 Layer III frames of silence (each a valid frame header and a zero body of the right length), optionally
    after an empty ID3v2.4 tag. :mod:`filetype` sees ``audio/mpeg``; 20 frames last about half a second."""
    frame = MP3_FRAME_HEADER + bytes(MP3_FRAME_LENGTH - len(MP3_FRAME_HEADER))
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x00" if id3 else b""  # version 2.4.0, no flags, size 0 (syncsafe)
    return tag + frame * frames


def content_type(filename: str) -> str:
    """``audio/*`` by extension, ``application/octet-stream`` for anything else."""
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext in AUDIO_TYPES:
        return AUDIO_TYPES[ext]
    guessed = mimetypes.guess_type(f"x.{ext}")[0] if ext else None
    return guessed if guessed and guessed.startswith("audio/") else "application/octet-stream"


def attachment_name(started_local: datetime, caller: str, line: str, ext: str = "mp3", dashes: bool = False) -> str:
    """``YYYY.MM.DD__HH-MM-SS__<caller>__<line>.<ext>`` (``YYYY-MM-DD__...`` with ``dashes``), the call's start in
    the account's local time (assumed Europe/Moscow)."""
    date = started_local.strftime("%Y-%m-%d" if dashes else "%Y.%m.%d")
    return f"{date}__{started_local:%H-%M-%S}__{caller}__{line}.{ext}"


def recording_email(
    attachments: list[tuple[str, bytes]],
    subject: str = "Запись разговора",
    sender: str = "auto-mailer@mangotele.com",
    to: str = "recordings@example.com",
    message_id: str | None = None,
    body_text: str = "Здравствуйте! Во вложении запись разговора.",
    date: datetime | None = None,
) -> bytes:
    """A multipart/mixed RFC 5322 message with a text part and one attachment per ``(filename, data)``, as bytes
    ready to APPEND (CRLF line ends). Each attachment is base64 with its ``audio/*`` type (by extension) and its
    file name as an RFC 2231 parameter (``filename*=utf-8''...``, also ``name`` in Content-Type), so Cyrillic names
    survive. ``message_id`` defaults to a fresh one; ``date`` to now."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(domain="mangotele.com")
    message.set_content(body_text)
    for filename, data in attachments:
        maintype, subtype = content_type(filename).split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        message.get_payload()[-1].set_param("name", filename)
    return message.as_bytes(policy=SMTP)
