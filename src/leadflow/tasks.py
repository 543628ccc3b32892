"""Every background job of the service, registered on one :class:`~leadflow.platform.jobs.Jobs` (as ``app.py``
mounts every router): the worker, the web process on the embedded default and the CLI build the same set."""

from __future__ import annotations

from typing import Any

from leadflow.accounts.auth import purge_sessions
from leadflow.platform.db import Database
from leadflow.platform.idempotency import purge_expired
from leadflow.platform.jobs import Jobs, prune_runs
from leadflow.platform.settings import Settings
from leadflow.platform.storage import Storage
from leadflow.recordings.tasks import SYNC_JOB, sync_job

HOUSEKEEPING_JOB = "platform.housekeeping"


def build_jobs(settings: Settings, database: Database, storage: Storage) -> Jobs:
    jobs = Jobs(settings, database)

    async def housekeeping() -> dict[str, Any]:
        return {
            "idempotency_keys_purged": await purge_expired(database),
            "auth_sessions_purged": await purge_sessions(database),
            "job_runs_pruned": await prune_runs(database),
        }

    jobs.add(HOUSEKEEPING_JOB, housekeeping, every_s=settings.housekeeping_interval_s)
    jobs.add(SYNC_JOB, sync_job(settings, database, storage), every_s=settings.recordings_interval_s)
    return jobs
