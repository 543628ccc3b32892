"""One run of the LeadSchem import: the tables in dependency order, each in its own transaction.

Order: cities, request types, directions, transaction types → administrators, employees, masters → campaigns →
requests (with their ``imported`` events) → transactions → files. Each table commits on its own, so a failure
leaves every earlier table imported and consistent (the map commits with its rows) and rolls back only the table
it happened in; the report says which table and legacy id it stopped at, and a new run continues from there.

``dry_run`` runs everything in one transaction that is rolled back at the end (later tables need the rows of
earlier ones), and does not store files (it only looks for them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from leadflow.administration import service as administration
from leadflow.legacy import business, rules, writer
from leadflow.legacy.media import MediaImport
from leadflow.legacy.reader import LegacyReader
from leadflow.legacy.report import Report
from leadflow.platform.db import Database
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage

REFERENCE = ("cities", "request_types", "directions", "transaction_types")
Step = Callable[[AsyncSession], Awaitable[None]]


async def run(
    settings: Settings,
    database: Database,
    storage: Storage,
    reader: LegacyReader,
    media: Path | None = None,
    dry_run: bool = False,
    progress: writer.Progress | None = None,
) -> Report:
    """Import what the legacy database holds and the map does not; the report (``stopped`` set on a failure)."""
    report = Report(source=reader.source, dry_run=dry_run)
    ctx = writer.Context(reader=reader, report=report, progress=progress or (lambda *_: None))

    async def requests(session: AsyncSession) -> None:
        share = (await administration.get_settings(session, settings)).company_share
        await business.import_requests(ctx, session, share)

    steps: list[tuple[str, Step]] = [
        *((name, _reference(ctx, name)) for name in REFERENCE),
        *((name, _accounts(ctx, name)) for name in rules.ACCOUNT_TABLES),
        ("advertising_campaigns", lambda s: writer.import_campaigns(ctx, s)),
        ("requests", requests),
        ("transactions", lambda s: business.import_transactions(ctx, s)),
        ("files", MediaImport(ctx, settings, storage, media, dry_run).run),
    ]
    async with database.session() as session:
        try:
            ctx.at("legacy_import_map")  # a Leadflow database below revision 0005 stops here
            ctx.maps = await writer.load_maps(session)
            for name, step in steps:
                ctx.at(name)
                await step(session)
                if not dry_run:
                    await session.commit()
        except Exception as exc:
            await session.rollback()
            report.stopped = {"table": ctx.table, "legacy_id": ctx.legacy_id, "error": _reason(exc)}
        finally:
            if dry_run:
                await session.rollback()
    report.finish()
    return report


def _reference(ctx: writer.Context, name: str) -> Step:
    return lambda session: writer.import_reference(ctx, session, name)


def _accounts(ctx: writer.Context, name: str) -> Step:
    return lambda session: writer.import_accounts(ctx, session, name)


def _reason(exc: BaseException) -> str:
    """A failure in one line: the exception's type and the first line of its text (no traceback)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
