"""Reading the provider's recording e-mails from an IMAP mailbox (SPEC §6.2), incrementally and asynchronously.

Each run reads only the messages above the last UID it finished, under the folder's current UIDVALIDITY (a changed
UIDVALIDITY means the server renumbered the folder: the run starts again from the first message, and the
recordings' content hashes keep that from adding anything twice). Every message is processed in its own database
transaction and the read position moves after it; a run that breaks off resumes where it stopped. A mailbox that
cannot be reached is retried with back-off inside the run, then the run fails (recorded and counted) and the next
scheduled run tries again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import aioimaplib
import structlog
from prometheus_client import Counter
from sqlalchemy import update

from leadflow.administration.service import get_settings as runtime_settings
from leadflow.files import service as files
from leadflow.platform.db import Database, dialect_insert, utcnow
from leadflow.platform.problems import Problem
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage
from leadflow.recordings import names, service
from leadflow.recordings.models import MailboxState

log = structlog.get_logger("leadflow.recordings.mailbox")

MAILBOX_FAILURES = Counter("leadflow_mailbox_failures_total", "Mailbox sync runs that could not reach the mailbox.")
ATTACHMENTS = Counter("leadflow_recording_attachments_total", "Recording attachments read, by outcome.", ["outcome"])
UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
FETCHED_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
BATCH = 200
MIME_OVERHEAD = 1.4  # base64 and headers around the audio


class MailboxUnavailable(Exception):
    pass


@dataclass
class SyncReport:
    messages: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    rescanned: bool = False
    last_uid: int = 0

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        ATTACHMENTS.labels(outcome).inc()


def _ok(response: aioimaplib.Response, what: str) -> aioimaplib.Response:
    if response.result != "OK":
        raise MailboxUnavailable(f"{what}: {response.result}")
    return response


def _literal(response: aioimaplib.Response) -> bytes | None:
    """The message body of a one-message FETCH answer (aioimaplib hands literals over as bytearray)."""
    for line in response.lines:
        if isinstance(line, bytearray):
            return bytes(line)
    return None


def mailbox_key(settings: Settings) -> str:
    return f"{settings.imap_user}@{settings.imap_host}:{settings.imap_port}/{settings.imap_folder}"[:300]


async def _connect(settings: Settings, attempts: int = 3, delay_s: float = 1.0) -> aioimaplib.IMAP4:
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            imap_class = aioimaplib.IMAP4_SSL if settings.imap_ssl else aioimaplib.IMAP4
            client = imap_class(host=settings.imap_host, port=settings.imap_port, timeout=30)
            await client.wait_hello_from_server()
            _ok(await client.login(settings.imap_user or "", settings.imap_password or ""), "LOGIN")
            return client
        except (OSError, TimeoutError, MailboxUnavailable, aioimaplib.Abort, aioimaplib.CommandTimeout) as exc:
            last = exc
            log.warning("mailbox_connect_failed", attempt=attempt + 1, error=type(exc).__name__)
            if attempt + 1 < attempts:
                await asyncio.sleep(delay_s * 2**attempt)
    raise MailboxUnavailable(f"cannot reach the mailbox ({type(last).__name__})") from last


def attachments(raw: bytes) -> list[tuple[str, bytes]]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    found: list[tuple[str, bytes]] = []
    for part in message.iter_attachments():
        name = part.get_filename()
        payload = part.get_payload(decode=True)
        if name and isinstance(payload, bytes):
            found.append((name, payload))
    return found


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 1024 * 1024):
        yield data[start : start + 1024 * 1024]


class MailboxSync:
    def __init__(self, settings: Settings, database: Database, storage: Storage, connect_delay_s: float = 1.0) -> None:
        self.settings = settings
        self.database = database
        self.storage = storage
        self.connect_delay_s = connect_delay_s
        self.key = mailbox_key(settings)

    @property
    def configured(self) -> bool:
        return bool(self.settings.imap_host and self.settings.imap_user)

    async def _position(self, uidvalidity: int) -> tuple[int, bool]:
        """The last UID read under this UIDVALIDITY (0 and True when the folder was renumbered)."""
        async with self.database.session() as session:
            state = await session.get(MailboxState, self.key)
            if state is not None and state.uidvalidity == uidvalidity:
                return state.last_uid, False
            insert = dialect_insert(self.database.dialect)
            values = {"mailbox": self.key, "uidvalidity": uidvalidity, "last_uid": 0, "updated_at": utcnow()}
            statement = insert(MailboxState).values(**values)
            statement = statement.on_conflict_do_update(index_elements=["mailbox"], set_=values)
            await session.execute(statement)
            await session.commit()
            return 0, state is not None

    async def _advance(self, uidvalidity: int, uid: int) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(MailboxState)
                .where(
                    MailboxState.mailbox == self.key,
                    MailboxState.uidvalidity == uidvalidity,
                    MailboxState.last_uid < uid,
                )
                .values(last_uid=uid, updated_at=utcnow())
            )
            await session.commit()

    async def _windows(self) -> service.Windows:
        async with self.database.session() as session:
            runtime = await runtime_settings(session, self.settings)
        return service.Windows(
            link=dt.timedelta(minutes=runtime.link_window_minutes),
            retry=dt.timedelta(days=runtime.recordings_retry_days),
        )

    async def _store(self, name: str, data: bytes, windows: service.Windows, report: SyncReport) -> None:
        tmp = Path(self.settings.data_dir) / "tmp"
        limit = self.settings.audio_max_bytes
        parsed = names.parse(name, self.settings.recordings_timezone)
        # Logged by what the name says, never the name itself: it carries the client's phone unmasked.
        about = {"caller": parsed.caller, "extension": parsed.extension} if parsed else {"named_as_provider": False}
        try:
            staged = await files.stage(_chunks(data), name, "recording", limit, tmp)
        except Problem as problem:
            log.warning("recording_attachment_rejected", problem=problem.type, **about)
            report.count(service.problem_outcome(problem))
            return
        try:
            async with self.database.session() as session:
                result = await service.ingest(
                    session, self.storage, staged, zone=self.settings.recordings_timezone, windows=windows
                )
        finally:
            staged.discard()
        if result.outcome == "misnamed":
            log.warning("recording_attachment_misnamed", size=len(data))
        report.count(result.outcome)

    async def run(self) -> SyncReport:
        """One pass over the new messages, then another linking attempt for the pending recordings."""
        report = SyncReport()
        started = utcnow()
        windows = await self._windows()
        if self.configured:
            try:
                await self._read(report, windows)
            except (OSError, TimeoutError, aioimaplib.Abort, aioimaplib.CommandTimeout, MailboxUnavailable) as exc:
                MAILBOX_FAILURES.inc()
                raise MailboxUnavailable(f"mailbox sync broke off ({type(exc).__name__})") from exc
        async with self.database.session() as session:
            retried = await service.retry_pending(session, windows, tried_before=started)
        report.outcomes.update({f"pending_{k}": v for k, v in retried.items() if v})
        return report

    async def _read(self, report: SyncReport, windows: service.Windows) -> None:
        client = await _connect(self.settings, delay_s=self.connect_delay_s)
        try:
            selected = _ok(await client.select(self.settings.imap_folder), "SELECT")
            found = next((m for line in selected.lines if (m := UIDVALIDITY.search(bytes(line)))), None)
            if found is None:
                raise MailboxUnavailable("the server did not say the folder's UIDVALIDITY")
            uidvalidity = int(found.group(1))
            last_uid, report.rescanned = await self._position(uidvalidity)
            if report.rescanned:
                log.warning("mailbox_renumbered", uidvalidity=uidvalidity)
            searched = _ok(await client.uid_search(f"UID {last_uid + 1}:*", charset=None), "SEARCH")
            uids = sorted(
                int(token)
                for line in searched.lines
                for token in bytes(line).split()
                if token.isdigit() and int(token) > last_uid
            )
            limit = int(self.settings.audio_max_bytes * MIME_OVERHEAD) + 64 * 1024
            for uid in uids[:BATCH]:
                sized = _ok(await client.uid("fetch", str(uid), "(RFC822.SIZE)"), "FETCH SIZE")
                size = next((int(m.group(1)) for line in sized.lines if (m := FETCHED_SIZE.search(bytes(line)))), 0)
                if size > limit:
                    log.warning("mailbox_message_too_large", uid=uid, size=size)
                    report.count("too_large")
                else:
                    fetched = _ok(await client.uid("fetch", str(uid), "(BODY.PEEK[])"), "FETCH")
                    raw = _literal(fetched)
                    # MIME parsing and base64 decoding of tens of megabytes: in a thread, not on the event loop.
                    found_parts = await asyncio.to_thread(attachments, raw) if raw else []
                    if not found_parts:
                        log.warning("mailbox_message_without_attachment", uid=uid)
                        report.count("no_attachment")
                    for name, data in found_parts:
                        await self._store(name, data, windows, report)
                await self._advance(uidvalidity, uid)
                report.messages += 1
                report.last_uid = uid
        finally:
            try:
                await client.logout()
            except Exception:  # a server that went away mid-run has nothing to log out of
                log.debug("mailbox_logout_failed")
