"""The recordings job: read the mailbox, store and link what it brings, retry the pending links."""

from __future__ import annotations

from typing import Any

from leadflow.platform.db import Database
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage
from leadflow.recordings.mailbox import MailboxSync

SYNC_JOB = "recordings.sync"


def sync_job(settings: Settings, database: Database, storage: Storage) -> Any:
    sync = MailboxSync(settings, database, storage)

    async def run() -> dict[str, Any]:
        report = await sync.run()
        return {"messages": report.messages, "rescanned": report.rescanned, **report.outcomes}

    return run
