"""A private PostgreSQL instance that a test may stop and start again (the shared one must stay up for everyone).

Debian's ``initdb`` and ``pg_ctl`` (``/usr/lib/postgresql/<version>/bin``, or whatever is on ``PATH``) make a throwaway
cluster in a temporary directory, on a free loopback port, with durability off (``fsync``, ``synchronous_commit``,
``full_page_writes``) since nothing in it outlives the test. PostgreSQL refuses to run as root, so as root the
commands run as the ``postgres`` OS user (``runuser``) on a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.ports import free_port

OS_USER = "postgres"
DATABASE = "leadflow"


def postgres_bin_dir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl`` (the newest Debian version first), or None."""
    for initdb in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version, reverse=True):
        return Path(initdb).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def _as_root() -> bool:
    return os.geteuid() == 0


@dataclass
class PrivatePostgres:
    bin_dir: Path
    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="leadflow-pg-")))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def dsn(self) -> str:
        """The plain libpq/asyncpg address of the same database."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if _as_root():
            command = ["runuser", "-u", OS_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise AssertionError(f"{args[0]} failed ({done.returncode}): {done.stderr or done.stdout}\n{tail}")
        return done

    def init(self) -> None:
        if _as_root():
            account = pwd.getpwnam(OS_USER)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.root.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", DATABASE)

    def start(self) -> None:
        options = " ".join(
            (
                f"-p {self.port}",
                "-c listen_addresses=127.0.0.1",
                f"-c unix_socket_directories={self.root}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=100",
                "-c shared_buffers=32MB",
            )
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast``: every session is ended at once, the server shuts down cleanly."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def destroy(self) -> None:
        if self.running:
            with contextlib.suppress(AssertionError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


def private_postgres_or_skip() -> PrivatePostgres:
    """A new private cluster with an empty ``leadflow`` database, started. Skips where the PostgreSQL server binaries
    (or, as root, the ``postgres`` OS user) are missing; with ``LEADFLOW_TEST_REQUIRE_SERVICES`` set that fails."""
    bin_dir = postgres_bin_dir()
    missing = None
    if bin_dir is None or not (bin_dir / "pg_ctl").exists():
        missing = "the PostgreSQL server binaries (initdb, pg_ctl)"
    elif _as_root():
        try:
            pwd.getpwnam(OS_USER)
        except KeyError:
            missing = f"the {OS_USER!r} OS user to run PostgreSQL as"
    if missing:
        if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
            pytest.fail(f"{missing} are required on this run")
        pytest.skip(f"needs {missing}")
    assert bin_dir is not None
    server = PrivatePostgres(bin_dir)
    try:
        server.init()
    except BaseException:
        server.destroy()
        raise
    return server
