"""Background jobs on taskiq: one runner for the queue worker and the embedded default.

- **Broker.** With ``REDIS_URL`` jobs go through a Redis stream (taskiq-redis, consumer group, acknowledged after
  the run) and ``leadflow worker`` processes run them. Without Redis, taskiq's in-process broker runs the same job
  functions inside the process that schedules them.
- **Schedules, once per cluster.** Every process that schedules (each worker; the web process on the embedded
  default) looks at the clock every second. A periodic job's time slot (``floor(now / every)``) is claimed by
  inserting the ``job_runs`` row ``(job, slot)``; the unique index lets exactly one process win a slot however many
  are running, on SQLite and PostgreSQL alike, with or without Redis.
- **No overlap.** A run takes its job's ``job_leases`` row (a conditional insert or update: free, or expired)
  before it starts and gives it back when it ends; a run that finds it taken is recorded as ``skipped``. So a slow
  mailbox sync, the "sync now" button and ``leadflow sync-recordings`` never run side by side.
- **Records.** Every run, scheduled or asked for, is a ``job_runs`` row: queued, running, ok, failed or skipped,
  with its duration and error class; the Prometheus counters below count the same.

Jobs are idempotent: a slot is claimed once, and the job functions themselves tolerate being run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter, Histogram
from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, delete, update
from sqlalchemy.orm import Mapped, mapped_column
from taskiq import AsyncBroker, InMemoryBroker
from taskiq.receiver import Receiver
from taskiq_redis import RedisStreamBroker

from leadflow.platform.db import Base, Database, UTCDateTime, dialect_insert, utcnow
from leadflow.platform.problems import Problem
from leadflow.platform.settings import Settings

log = structlog.get_logger("leadflow.jobs")

# The label is `task`, not `job`: Prometheus's own target label `job` would shadow it (stored as exported_job).
JOB_RUNS = Counter("leadflow_job_runs_total", "Background job runs by task and result.", ["task", "result"])
JOB_DURATION = Histogram("leadflow_job_duration_seconds", "Background job run time.", ["task"])
JOB_SKIPPED = Counter("leadflow_job_slots_lost_total", "Schedule slots another process claimed first.", ["task"])

JobFunc = Callable[[], Awaitable[dict[str, Any] | None]]
KEEP_RUNS = dt.timedelta(days=14)
LEASE_S = 30 * 60  # a run that holds its job longer than this is taken to have died


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        UniqueConstraint("job", "slot", name="uq_job_runs_job_slot"),
        Index("ix_job_runs_job_started_at", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(100), nullable=False)
    slot: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)  # the schedule slot, or the ask time
    scheduled: Mapped[bool] = mapped_column(nullable=False, default=True)
    holder: Mapped[str] = mapped_column(String(120), nullable=False)  # the process that claimed it
    status: Mapped[str] = mapped_column(String(10), nullable=False)  # queued, running, ok, failed
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(300))


class JobLease(Base):
    """At most one run of a job at a time, cluster-wide: the run holds its job's row until it ends (or the lease
    expires, if its process died)."""

    __tablename__ = "job_leases"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(160), nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class JobsUnavailable(Problem):
    status = 503
    type = "jobs-unavailable"

    def __init__(self) -> None:
        super().__init__("The job queue cannot be reached; try again shortly.", headers={"Retry-After": "5"})


@dataclass(frozen=True)
class Outcome:
    status: str  # ok, failed, skipped
    result: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Schedule:
    job: str
    every_s: int


def slot_of(now: dt.datetime, every_s: int) -> dt.datetime:
    epoch = int(now.timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % every_s, dt.UTC)


class Jobs:
    """The job registry, the broker, the scheduler loop and the worker loop of one process."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:120]
        self.broker: AsyncBroker
        if settings.redis_url:
            prefix = settings.redis_prefix
            self.broker = RedisStreamBroker(
                settings.redis_url, queue_name=f"{prefix}:jobs", consumer_group_name=f"{prefix}:workers"
            )
        else:
            self.broker = InMemoryBroker()
        self.functions: dict[str, JobFunc] = {}
        self.schedules: list[Schedule] = []

        async def run_job(job: str, run_id: int) -> None:
            await self.execute(job, run_id)  # the outcome is in job_runs

        self._task = self.broker.register_task(run_job, task_name="leadflow.run_job")
        self._started = False

    @property
    def in_process(self) -> bool:
        return isinstance(self.broker, InMemoryBroker)

    def add(self, name: str, function: JobFunc, every_s: int | None = None) -> None:
        self.functions[name] = function
        if every_s is not None:
            self.schedules.append(Schedule(name, every_s))

    async def startup(self) -> None:
        if not self._started:
            await self.broker.startup()
            self._started = True

    async def shutdown(self, grace_s: float = 30) -> None:
        """Stop the broker; in-process runs that are going get ``grace_s`` to finish their step first."""
        if self._started:
            if isinstance(self.broker, InMemoryBroker):
                try:
                    await asyncio.wait_for(self.broker.wait_all(), grace_s)
                except TimeoutError:
                    log.warning("jobs_cut_off_at_shutdown")
            await self.broker.shutdown()
            self._started = False

    # Claiming and queueing ----------------------------------------------------------------------------------------
    async def _insert_run(
        self, job: str, slot: dt.datetime, *, scheduled: bool, requested_by: int | None
    ) -> int | None:
        values = {
            "job": job,
            "slot": slot,
            "scheduled": scheduled,
            "holder": self.holder,
            "status": "queued",
            "requested_by_id": requested_by,
        }
        async with self.database.session() as session:
            insert = dialect_insert(self.database.dialect)
            statement = insert(JobRun).values(**values).on_conflict_do_nothing().returning(JobRun.id)
            run_id = (await session.execute(statement)).scalar_one_or_none()
            await session.commit()
        return run_id

    async def enqueue(self, job: str, requested_by: int | None = None) -> int:
        """Queue a run now (outside the schedule); its ``job_runs`` id."""
        if job not in self.functions:
            raise KeyError(job)
        await self.startup()
        run_id = await self._insert_run(job, utcnow(), scheduled=False, requested_by=requested_by)
        assert run_id is not None
        try:
            await self._task.kiq(job, run_id)
        except Exception as exc:  # the queue (Redis) is away
            await self._mark(run_id, status="failed", finished_at=utcnow(), error=f"not queued: {type(exc).__name__}")
            raise JobsUnavailable() from exc
        return run_id

    async def tick(self, now: dt.datetime | None = None) -> list[str]:
        """Claim and queue every periodic job whose current slot nobody has claimed yet; the jobs queued."""
        now = now or utcnow()
        queued = []
        for schedule in self.schedules:
            run_id = await self._insert_run(
                schedule.job, slot_of(now, schedule.every_s), scheduled=True, requested_by=None
            )
            if run_id is None:
                JOB_SKIPPED.labels(schedule.job).inc()
                continue
            await self._task.kiq(schedule.job, run_id)
            queued.append(schedule.job)
        return queued

    # Running ------------------------------------------------------------------------------------------------------
    async def _acquire(self, job: str, holder: str) -> bool:
        """Take the job's lease (free, or left behind by a run that died) for ``holder``."""
        now = utcnow()
        expires = now + dt.timedelta(seconds=LEASE_S)
        async with self.database.session() as session:
            insert = dialect_insert(self.database.dialect)
            statement = insert(JobLease).values(job=job, holder=holder, expires_at=expires)
            inserted = (await session.execute(statement.on_conflict_do_nothing().returning(JobLease.job))).first()
            taken = inserted is not None
            if not taken:
                result = await session.execute(
                    update(JobLease)
                    .where(JobLease.job == job, JobLease.expires_at < now)
                    .values(holder=holder, expires_at=expires)
                )
                taken = (result.rowcount or 0) == 1  # type: ignore[attr-defined]
            await session.commit()
        return taken

    async def _release(self, job: str, holder: str) -> None:
        async with self.database.session() as session:
            await session.execute(
                update(JobLease).where(JobLease.job == job, JobLease.holder == holder).values(expires_at=utcnow())
            )
            await session.commit()

    async def execute(self, job: str, run_id: int) -> Outcome:
        """Run one queued job (on whichever process took it from the broker) and record how it went. A run that finds
        another run of the same job still going is recorded as ``skipped``: runs of a job never overlap."""
        function = self.functions.get(job)
        holder = f"{self.holder}:{run_id}"
        if not await self._acquire(job, holder):
            JOB_RUNS.labels(job, "skipped").inc()
            log.info("job_skipped", job=job, run_id=run_id, reason="another run is in progress")
            await self._mark(run_id, status="skipped", finished_at=utcnow(), error="another run is in progress")
            return Outcome("skipped", error="another run is in progress")
        started = time.perf_counter()
        try:
            await self._mark(run_id, status="running", started_at=utcnow())
            if function is None:
                raise LookupError(f"unknown job {job}")
            result = await function()
        except Exception as exc:
            elapsed = time.perf_counter() - started
            error = f"{type(exc).__name__}: {exc}"[:300]
            JOB_RUNS.labels(job, "failed").inc()
            JOB_DURATION.labels(job).observe(elapsed)
            log.exception("job_failed", job=job, run_id=run_id, error=type(exc).__name__)
            await self._mark(
                run_id, status="failed", finished_at=utcnow(), duration_ms=int(elapsed * 1000), error=error
            )
            return Outcome("failed", error=error)
        finally:
            await self._release(job, holder)
        elapsed = time.perf_counter() - started
        JOB_RUNS.labels(job, "ok").inc()
        JOB_DURATION.labels(job).observe(elapsed)
        log.info("job_done", job=job, run_id=run_id, duration_ms=int(elapsed * 1000), **(result or {}))
        await self._mark(run_id, status="ok", finished_at=utcnow(), duration_ms=int(elapsed * 1000))
        return Outcome("ok", result=result)

    async def run_now(self, job: str, requested_by: int | None = None) -> Outcome:
        """Run a job here and now (the CLI), recorded and leased like any other run."""
        if job not in self.functions:
            raise KeyError(job)
        run_id = await self._insert_run(job, utcnow(), scheduled=False, requested_by=requested_by)
        assert run_id is not None
        return await self.execute(job, run_id)

    async def _mark(self, run_id: int, **values: Any) -> None:
        async with self.database.session() as session:
            await session.execute(update(JobRun).where(JobRun.id == run_id).values(**values))
            await session.commit()

    async def run_scheduler(self, stop: asyncio.Event, period_s: float = 1.0) -> None:
        """Tick until ``stop`` is set. A failing tick (the database away) is logged and retried next period."""
        await self.startup()
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:
                log.warning("scheduler_tick_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period_s)

    async def run_worker(self, stop: asyncio.Event) -> None:
        """Take jobs from the Redis stream until ``stop`` is set; the current job finishes first."""
        receiver = Receiver(self.broker, run_startup=False, max_async_tasks=4)
        await self.startup()
        await receiver.listen(stop)


async def prune_runs(database: Database) -> int:
    """Forget run records older than two weeks (the metrics have counted them)."""
    async with database.session() as session:
        result = await session.execute(delete(JobRun).where(JobRun.slot < utcnow() - KEEP_RUNS))
        await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
