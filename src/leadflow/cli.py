"""The ``leadflow`` command line (SPEC §12). Other tools rely on its exact contract:

- ``leadflow serve --host H --port P``: a busy port prints one line and exits with code 2; ``--port 0`` picks a free
  port; ``listening on http://H:PORT`` goes to stdout once the socket accepts connections; SIGTERM drains in-flight
  requests.
- ``leadflow migrate upgrade|downgrade|current|check``, ``leadflow create-admin --login L [--password-stdin]``,
  ``leadflow check``, ``leadflow openapi``, ``leadflow seed-demo``, ``leadflow worker``, ``leadflow sync-recordings``,
  ``leadflow import-leadschem --from URL [--media DIR] [--dry-run] [--report FILE]`` (an unreachable or foreign
  ``--from`` is one line on stderr and exit code 1, nothing written).
"""

from __future__ import annotations

import asyncio
import errno
import json
import signal
import socket
import sys
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from leadflow.platform.progress import bars
from leadflow.platform.settings import Settings, get_settings, secret_problem

if TYPE_CHECKING:
    from leadflow.legacy.report import Report
    from leadflow.platform.jobs import Outcome

app = typer.Typer(
    help="Leadflow: leads, dispatch, masters, cash desk.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
migrate_app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)
app.add_typer(migrate_app, name="migrate")
err = Console(stderr=True)
out = Console()


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        for error in exc.errors():
            field = ".".join(str(p) for p in error["loc"]) or "settings"
            err.print(f"[red]configuration error[/red] LEADFLOW_{field.upper()}: {error['msg']}")
        raise typer.Exit(2) from None


def _maintenance(settings: Settings) -> Settings:
    """The settings of a maintenance command (seed-demo, import-leadschem): a bulk load, an import and the VACUUM after
    them run long statements and transactions by design, so the PostgreSQL session limits that keep the service's
    requests from hanging (DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS, DB_IDLE_IN_TRANSACTION_TIMEOUT_MS) are not
    applied: the server's own settings hold."""
    off = {"db_statement_timeout_ms": 0, "db_lock_timeout_ms": 0, "db_idle_in_transaction_timeout_ms": 0}
    return settings.model_copy(update=off)


# serve ---------------------------------------------------------------------------------------------------------
def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            print(f"error: port {port} on {host} is already in use", file=sys.stderr)
        else:
            print(f"error: cannot listen on {host}:{port}: {exc.strerror}", file=sys.stderr)
        raise typer.Exit(2) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (LEADFLOW_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port; 0 picks a free one (LEADFLOW_PORT).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    graceful_timeout: Annotated[int, typer.Option(help="Seconds to drain in-flight requests on SIGTERM.")] = 30,
) -> None:
    """Serve the HTTP API."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from leadflow.platform.metrics import multiprocess_dir, prepare_multiprocess

    settings = _settings()
    if workers > 1 and not settings.redis_configured:
        print(
            "error: --workers above 1 needs LEADFLOW_REDIS_URL: rate limits must be shared by every process",
            file=sys.stderr,
        )
        raise typer.Exit(2)
    settings.effective_secret_key()  # generated once here, before any worker starts
    if workers > 1 and not multiprocess_dir():
        # Every server process writes its metric samples here and any of them answers a scrape for all.
        prepare_multiprocess(settings.data_dir / "prometheus")
    host = host or settings.host
    port = settings.port if port is None else port
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    config = uvicorn.Config(
        "leadflow.app:create_app",
        factory=True,
        workers=workers,
        proxy_headers=False,  # the client address is resolved by our own trusted-proxy rule
        server_header=False,
        date_header=True,
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=graceful_timeout,
        lifespan="on",
    )
    print(f"listening on http://{shown}:{bound_port}", flush=True)
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal; a finished drain exits with 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = uvicorn.Server(config)
    if workers > 1:
        Multiprocess(config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])


# migrate -------------------------------------------------------------------------------------------------------
@migrate_app.command("upgrade")
def migrate_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from leadflow.platform import migrations

    migrations.upgrade(_settings().effective_database_url, revision)
    out.print(f"database at {revision}")


@migrate_app.command("downgrade")
def migrate_downgrade(revision: Annotated[str, typer.Argument()] = "-1") -> None:
    """Revert migrations down to REVISION (default: one step)."""
    from leadflow.platform import migrations

    migrations.downgrade(_settings().effective_database_url, revision)
    out.print(f"database at {revision}")


@migrate_app.command("current")
def migrate_current() -> None:
    """Print the database's revision and the code's head."""
    current, head = asyncio.run(_revisions(_settings()))
    print(f"current: {current or 'empty'}\nhead: {head}")


@migrate_app.command("check")
def migrate_check() -> None:
    """Fail when the models and the migrations disagree (alembic check)."""
    from alembic.util.exc import AutogenerateDiffsDetected, CommandError

    from leadflow.platform import migrations

    try:
        migrations.check(_settings().effective_database_url)
    except (AutogenerateDiffsDetected, CommandError) as exc:
        err.print(f"[red]migrations out of date:[/red] {exc}")
        raise typer.Exit(1) from None
    out.print("models and migrations agree")


@migrate_app.command("revision")
def migrate_revision(message: Annotated[str, typer.Option("--message", "-m", help="What the change is.")]) -> None:
    """For developers: write a new revision from the difference between the models and an up-to-date database."""
    from leadflow.platform import migrations

    url = _settings().effective_database_url
    migrations.upgrade(url)
    migrations.revision(url, message)


async def _revisions(settings: Settings) -> tuple[str | None, str | None]:
    from leadflow.platform.migrations import current_revision, head_revision
    from leadflow.runtime import running

    async with running(settings) as runtime, runtime.database.engine.connect() as conn:
        current = await conn.run_sync(current_revision)
    return current, head_revision()


# create-admin --------------------------------------------------------------------------------------------------
@app.command("create-admin")
def create_admin(
    login: Annotated[str, typer.Option(help="Login of the new administrator.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
    full_name: Annotated[str, typer.Option(help="Display name.")] = "Administrator",
) -> None:
    """Create an administrator account."""
    from pydantic import TypeAdapter

    from leadflow.accounts.schemas import Login
    from leadflow.platform.security import password_problem

    try:
        TypeAdapter(Login).validate_python(login)
    except ValidationError:
        err.print("error: a login is 3-100 characters of letters, digits and . _ @ -")
        raise typer.Exit(1) from None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        err.print("error: no terminal to prompt on; pass --password-stdin and pipe the password")
        raise typer.Exit(2)
    problem = password_problem(password)
    if problem:
        err.print(f"error: password refused: {problem}")
        raise typer.Exit(1)
    user_id = asyncio.run(_create_admin(_settings(), login, password, full_name))
    out.print(f"created admin {login!r} (id {user_id})")


async def _create_admin(settings: Settings, login: str, password: str, full_name: str) -> int:
    from leadflow.accounts.service import UserService
    from leadflow.platform.problems import Problem
    from leadflow.runtime import running

    async with running(settings) as runtime:
        try:
            async with runtime.database.session() as session:
                user = await UserService(runtime.hasher).create_admin(session, login, password, full_name)
                return user.id
        except Problem as exc:
            err.print(f"error: {exc.detail}")
            raise typer.Exit(1) from None


# seed-demo -----------------------------------------------------------------------------------------------------
class Scale(StrEnum):
    small = "small"
    large = "large"


@app.command("seed-demo")
def seed_demo(
    scale: Annotated[
        Scale,
        typer.Option(help="small: the demo team and a few dozen requests; large: adds the benchmark set of SPEC §13."),
    ] = Scale.small,
) -> None:
    """Fill an empty database with demo data once, and print the demo admin's login."""
    import time

    from leadflow.demo import large

    settings = _maintenance(_settings())
    login, password, created = asyncio.run(_seed(settings))
    out.print(f"demo data {'created' if created else 'already present'}")
    if scale is Scale.large:
        started = time.monotonic()
        with bars(err) as advance:
            counts = asyncio.run(_load_large(settings, advance))
        if counts:
            summary = ", ".join(f"{n:,} {table}" for table, n in counts.items())
            out.print(f"benchmark data created in {time.monotonic() - started:.1f} s: {summary}")
            out.print(f"benchmark accounts: bench.admin, bench.director.01, ... password: {large.BENCH_PASSWORD}")
        else:
            out.print("benchmark data already present")
    out.print(f"admin login: [bold]{login}[/bold]  password: [bold]{password}[/bold]")
    from leadflow.demo.seed import DEMO_PASSWORD, DEMO_TEAM

    team = ", ".join(f"{role}: {name}" for role, name in DEMO_TEAM)
    out.print(f"demo team ({team}) password: [bold]{DEMO_PASSWORD}[/bold]")


async def _seed(settings: Settings) -> tuple[str, str, bool]:
    from leadflow.demo.seed import seed
    from leadflow.runtime import running

    async with running(settings) as runtime:
        return await seed(settings, runtime.database)


async def _load_large(settings: Settings, advance: Callable[[str, int, int], None]) -> dict[str, int]:
    from leadflow.demo import large
    from leadflow.runtime import running

    async with running(settings) as runtime:
        return await large.load(settings, runtime.database, advance)


# import-leadschem ----------------------------------------------------------------------------------------------
@app.command("import-leadschem")
def import_leadschem(
    source: Annotated[str, typer.Option("--from", help="The LeadSchem database: postgresql://user:pass@host/db.")],
    media: Annotated[
        Path | None,
        typer.Option(help="Where the old files are (bso, expense, recording paths).", exists=True, file_okay=False),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Do everything, keep nothing, print the report.")] = False,
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here (default DATA_DIR/imports/).")] = None,
) -> None:
    """Copy a LeadSchem database into Leadflow (docs/import.md); a second run changes nothing."""
    from leadflow.legacy.reader import SourceError

    settings = _maintenance(_settings())
    try:
        result = asyncio.run(_import_leadschem(settings, source, media, dry_run))
    except SourceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from None
    result.render(out)
    path = report or result.default_path(settings.data_dir)
    result.write(path)
    out.print(f"report written to {path}")
    if result.stopped:
        raise typer.Exit(1)


async def _import_leadschem(settings: Settings, source: str, media: Path | None, dry_run: bool) -> Report:
    from leadflow.legacy import importer
    from leadflow.legacy.reader import LegacyReader
    from leadflow.runtime import running

    reader = await LegacyReader.open(source)  # not LeadSchem or unreachable: one line, nothing written
    try:
        async with running(settings) as runtime:
            with bars(err) as advance:
                return await importer.run(settings, runtime.database, runtime.storage, reader, media, dry_run, advance)
    finally:
        await reader.close()


# background jobs -----------------------------------------------------------------------------------------------
@app.command()
def worker() -> None:
    """Run background jobs and their schedules (Redis queue; in-process when no Redis is configured)."""
    settings = _settings()
    asyncio.run(_worker(settings))


async def _worker(settings: Settings) -> None:
    from leadflow.platform.logging import configure_logging
    from leadflow.platform.metrics import serve_worker_metrics
    from leadflow.runtime import build_runtime

    configure_logging(settings.log_level, settings.log_json)
    runtime = build_runtime(settings)  # the jobs' writes invalidate what the web processes cache
    jobs = runtime.jobs
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serve_worker_metrics(settings)
    mode = "in-process (no Redis)" if jobs.in_process else "Redis queue"
    schedule = ", ".join(f"{s.job} every {s.every_s} s" for s in jobs.schedules)
    print(f"worker {jobs.holder} running: {mode}; {schedule}", flush=True)
    try:
        loops = [jobs.run_scheduler(stop)]
        if not jobs.in_process:
            loops.append(jobs.run_worker(stop))
        await asyncio.gather(*loops)
    finally:
        await runtime.close()
    print("worker stopped", flush=True)


@app.command("sync-recordings")
def sync_recordings() -> None:
    """Read the recordings mailbox now, in this process, and print what it found (one run, recorded in job_runs;
    refused while another run of the sync is going)."""
    settings = _settings()
    if not (settings.imap_host and settings.imap_user):
        err.print("note: LEADFLOW_IMAP_HOST and LEADFLOW_IMAP_USER are not set; only retrying pending links")
    outcome = asyncio.run(_sync_recordings(settings))
    for key, value in sorted((outcome.result or {}).items()):
        out.print(f"{key}: {value}")
    if outcome.status != "ok":
        err.print(f"error: the sync {outcome.status}: {outcome.error}")
        raise typer.Exit(1)


async def _sync_recordings(settings: Settings) -> Outcome:
    from leadflow.recordings.tasks import SYNC_JOB
    from leadflow.runtime import running

    async with running(settings) as runtime:
        return await runtime.jobs.run_now(SYNC_JOB)


# check / openapi -----------------------------------------------------------------------------------------------
@app.command()
def check() -> None:
    """Validate the configuration and reach the database and Redis."""
    settings = _settings()
    problems = 0
    if settings.is_production or settings.secret_key:
        problem = secret_problem(settings.secret_key)
        if problem:
            err.print(f"[red]✗[/red] secret key: {problem}")
            problems += 1 if settings.is_production else 0
    results = asyncio.run(_connectivity(settings))
    for name, (ok, detail) in results.items():
        mark = "[green]✓[/green]" if ok else "[red]✗[/red]"
        out.print(f"{mark} {name}: {detail}")
        problems += 0 if ok else 1
    if problems:
        raise typer.Exit(1)


# What `leadflow check` prints for each state of a health check (observability.health.run_checks).
_CHECK_FAILED = {
    "database": "unreachable",
    "migrations": "not at head",
    "storage": "not writable",
    "redis": "unreachable",
    "jobs": "run records unreadable",
}


async def _connectivity(settings: Settings) -> dict[str, tuple[bool, str]]:
    from leadflow.observability.health import run_checks
    from leadflow.runtime import running

    async with running(settings) as runtime:
        checks = await run_checks(runtime.database, runtime.redis, runtime.storage)
    results: dict[str, tuple[bool, str]] = {"environment": (True, settings.environment.value)}
    for name, state in checks.items():
        if state["status"] == "fail":
            results[name] = (False, f"{_CHECK_FAILED[name]} ({state['error']})")
        else:
            detail = f" ({state['detail']})" if "detail" in state else ""
            results[name] = (True, state["status"].replace("_", " ") + detail)
    return results


@app.command()
def openapi(output: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None) -> None:
    """Print (or write) the OpenAPI document."""
    from leadflow.app import create_app

    spec = json.dumps(create_app(_settings()).openapi(), ensure_ascii=False, indent=2)
    if output:
        output.write_text(spec + "\n", encoding="utf-8")
        out.print(f"wrote {output}")
    else:
        print(spec)


def main() -> None:
    app()
