"""Background jobs: the in-process scheduler, the Redis worker, and once-per-cluster with two real processes."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from leadflow.platform.db import Database
from leadflow.platform.jobs import JOB_RUNS, JobRun, Jobs, slot_of
from leadflow.platform.settings import Settings
from tests.cli.servers import cli_env
from tests.conftest import REDIS_URL, Harness


async def runs(database: Database, job: str) -> list[JobRun]:
    async with database.session() as session:
        return list((await session.scalars(select(JobRun).where(JobRun.job == job).order_by(JobRun.slot))).all())


async def settle(database: Database, job: str, count: int, timeout: float = 15) -> list[JobRun]:
    """Wait until ``count`` runs of ``job`` have finished (ok or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await runs(database, job)
        done = [r for r in found if r.status in ("ok", "failed")]
        if len(done) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


def in_process(settings: Settings) -> Settings:
    return settings.model_copy(update={"redis_url": None})


async def test_a_slot_runs_once_however_many_schedulers_tick(h: Harness) -> None:
    calls: list[int] = []

    async def job() -> dict[str, Any]:
        calls.append(1)
        return {"n": len(calls)}

    one, two = Jobs(in_process(h.settings), h.database), Jobs(in_process(h.settings), h.database)
    for jobs in (one, two):
        jobs.add("test.count", job, every_s=60)
    now = dt.datetime(2026, 11, 24, 12, 0, 5, tzinfo=dt.UTC)
    assert await one.tick(now) == ["test.count"]
    assert await two.tick(now + dt.timedelta(seconds=20)) == []  # same minute: already claimed
    assert await one.tick(now + dt.timedelta(seconds=30)) == []
    await settle(h.database, "test.count", 1)  # (a slot that comes while a run is going is skipped: no overlap)
    assert await two.tick(now + dt.timedelta(seconds=60)) == ["test.count"]  # the next slot
    found = await settle(h.database, "test.count", 2)
    assert [r.status for r in found] == ["ok", "ok"]
    assert [r.slot for r in found] == [slot_of(now, 60), slot_of(now, 60) + dt.timedelta(minutes=1)]
    assert {r.holder for r in found} == {one.holder, two.holder}
    assert all(r.scheduled and r.duration_ms is not None and r.finished_at for r in found)
    assert len(calls) == 2
    for jobs in (one, two):
        await jobs.shutdown()


async def test_concurrent_ticks_of_many_processes_claim_a_slot_once(h: Harness) -> None:
    async def job() -> None:
        return None

    schedulers = [Jobs(in_process(h.settings), h.database) for _ in range(6)]
    for jobs in schedulers:
        jobs.add("test.race", job, every_s=3600)
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    queued = await asyncio.gather(*(jobs.tick(now) for jobs in schedulers))
    assert sum(len(q) for q in queued) == 1
    assert len(await settle(h.database, "test.race", 1)) == 1
    for jobs in schedulers:
        await jobs.shutdown()


async def test_a_failing_job_is_recorded_and_counted(h: Harness) -> None:
    async def broken() -> None:
        raise RuntimeError("mailbox on fire")

    jobs = Jobs(in_process(h.settings), h.database)
    jobs.add("test.broken", broken)
    before = JOB_RUNS.labels("test.broken", "failed")._value.get()
    run_id = await jobs.enqueue("test.broken", requested_by=None)
    [run] = await settle(h.database, "test.broken", 1)
    assert run.id == run_id
    assert run.status == "failed"
    assert run.error == "RuntimeError: mailbox on fire"
    assert not run.scheduled
    assert JOB_RUNS.labels("test.broken", "failed")._value.get() == before + 1
    await jobs.shutdown()


async def test_the_redis_worker_runs_what_another_process_queued(h: Harness, redis_url: str) -> None:
    done: list[str] = []

    async def job() -> None:
        done.append("ran")

    settings = h.settings.model_copy(update={"redis_url": redis_url})
    producer, consumer = Jobs(settings, h.database), Jobs(settings, h.database)
    producer.add("test.remote", job, every_s=60)
    consumer.add("test.remote", job, every_s=60)
    stop = asyncio.Event()
    worker = asyncio.create_task(consumer.run_worker(stop))
    await asyncio.sleep(0.3)
    assert await producer.tick() == ["test.remote"]
    [run] = await settle(h.database, "test.remote", 1)
    assert run.status == "ok" and run.holder == producer.holder
    assert done == ["ran"]
    stop.set()
    await asyncio.wait_for(worker, 10)
    for jobs in (producer, consumer):
        await jobs.shutdown()


@pytest.mark.slow
async def test_two_worker_processes_run_each_slot_once(h: Harness, database_url: str, tmp_path: Path) -> None:
    extra = {"redis_url": REDIS_URL, "redis_prefix": h.settings.redis_prefix} if REDIS_URL else {}
    env = cli_env(
        database_url,
        tmp_path / "data",
        housekeeping_interval_s=1,
        recordings_interval_s=3600,
        worker_metrics_port=0,
        **extra,
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "leadflow", "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    holders = set()
    try:
        for process in workers:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("worker ") and "platform.housekeeping every 1 s" in line, line
            holders.add(line.split()[1])
        await asyncio.sleep(5)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=20) for process in workers]
    assert codes == [0, 0], [p.stderr.read() if p.stderr else "" for p in workers]
    found = await runs(h.database, "platform.housekeeping")
    slots = [r.slot for r in found]
    assert len(slots) == len(set(slots)), "a slot ran twice"
    # One run a second for about five seconds: two processes did not double it.
    assert 3 <= len(found) <= 8, len(found)
    finished = [r for r in found if r.status == "ok"]
    assert len(finished) >= len(found) - 1  # the last one may have been cut by the stop
    assert len(holders) == 2 and {r.holder for r in found} <= holders  # every run was claimed by one of the two


async def test_runs_of_one_job_never_overlap(h: Harness) -> None:
    release = asyncio.Event()
    started: list[int] = []

    async def slow() -> None:
        started.append(1)
        await asyncio.wait_for(release.wait(), 10)

    jobs = Jobs(in_process(h.settings), h.database)
    jobs.add("test.slow", slow)
    first = asyncio.create_task(jobs.run_now("test.slow"))
    for _ in range(500):
        if started:
            break
        await asyncio.sleep(0.01)
    second = await jobs.run_now("test.slow")  # the CLI or the "sync now" button while a scheduled run goes on
    assert second.status == "skipped"
    release.set()
    assert (await first).status == "ok"
    third = await jobs.run_now("test.slow")  # the lease was given back
    assert third.status == "ok"
    assert [r.status for r in await runs(h.database, "test.slow")] == ["ok", "skipped", "ok"]
    assert len(started) == 2
    await jobs.shutdown()


@pytest.mark.slow
async def test_a_worker_serves_its_job_metrics(h: Harness, database_url: str, tmp_path: Path) -> None:
    """With Redis the jobs run in `leadflow worker`, which has no API: its job metrics have their own listener."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    extra = {"redis_url": REDIS_URL, "redis_prefix": h.settings.redis_prefix} if REDIS_URL else {}
    env = cli_env(
        database_url,
        tmp_path / "data",
        housekeeping_interval_s=1,
        recordings_interval_s=3600,
        worker_metrics_port=port,
        **extra,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "leadflow", "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("worker ")
        text = ""
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(50):
                await asyncio.sleep(0.2)
                try:
                    text = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
                except httpx.HTTPError:
                    continue
                if 'leadflow_job_runs_total{result="ok",task="platform.housekeeping"}' in text:
                    break
        assert 'leadflow_job_runs_total{result="ok",task="platform.housekeeping"}' in text, text[-2000:]
        assert "leadflow_job_duration_seconds_bucket" in text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
