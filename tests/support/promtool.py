"""``promtool`` for the tests of the shipped alert rules (``deploy/prometheus/rules/``).

The binary on ``PATH`` when there is one; otherwise a copy cached under ``~/.cache/leadflow-test/promtool/``, taken
out of Debian's ``prometheus`` package: ``apt-get download`` (no root needed; as root, ``apt-get update`` first
when the download fails) into a temporary directory, ``dpkg-deb -x``, copy ``usr/bin/promtool``. Nothing is installed and no service is started. Test processes
(pytest-xdist workers) fetch it one at a time (a file lock), and the first one's copy serves the others.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

CACHE_DIR = Path.home() / ".cache" / "leadflow-test" / "promtool"
# Why the last attempt to get promtool failed (shown in the skip or failure message).
fetch_error: str = ""


def _cached() -> str | None:
    binary = CACHE_DIR / "promtool"
    return str(binary) if binary.is_file() and os.access(binary, os.X_OK) else None


@cache
def promtool() -> str | None:
    """A path to a working ``promtool``, or None when it cannot be had (:data:`fetch_error` then says why)."""
    global fetch_error
    if found := shutil.which("promtool"):
        return found
    if found := _cached():
        return found
    if not (shutil.which("apt-get") and shutil.which("dpkg-deb")):
        fetch_error = "promtool is not on PATH and apt-get or dpkg-deb is missing"
        return None
    try:
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        with (CACHE_DIR / ".lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers all get here at once
            if found := _cached():
                return found
            return _fetch()
    except OSError as error:
        fetch_error = f"cannot prepare {CACHE_DIR}: {error}"
        return None


def _fetch() -> str | None:
    """Download Debian's ``prometheus`` package, unpack it and keep its promtool (the caller holds the lock)."""
    global fetch_error
    with tempfile.TemporaryDirectory(prefix="leadflow-promtool-") as work:
        ok, output = _run(["apt-get", "download", "prometheus"], cwd=work)
        if not ok and os.geteuid() == 0:  # perhaps the package lists are missing or stale: refresh them once
            updated, update_output = _run(["apt-get", "update"], cwd=work)
            ok, output = _run(["apt-get", "download", "prometheus"], cwd=work) if updated else (False, update_output)
        if not ok:
            fetch_error = output[-2000:]
            return None
        debs = sorted(Path(work).glob("prometheus_*.deb"))
        if not debs:
            fetch_error = f"apt-get download prometheus left no .deb in {work}: {output[-1000:]}"
            return None
        ok, output = _run(["dpkg-deb", "-x", str(debs[-1]), str(Path(work) / "root")], cwd=work)
        source = Path(work) / "root" / "usr" / "bin" / "promtool"
        if not ok or not source.is_file():
            fetch_error = output[-2000:] or f"{debs[-1].name} has no usr/bin/promtool"
            return None
        # Copy under a temporary name and rename: a reader never sees half a binary.
        partial = CACHE_DIR / f".promtool.{os.getpid()}"
        shutil.copyfile(source, partial)
        partial.chmod(0o755)
        partial.replace(CACHE_DIR / "promtool")
    binary = CACHE_DIR / "promtool"
    ok, output = _run([str(binary), "--version"], cwd=str(CACHE_DIR))
    if not ok:
        binary.unlink(missing_ok=True)
        fetch_error = f"the promtool taken from Debian's package does not run: {output[-1000:]}"
        return None
    return str(binary)


def _run(command: list[str], cwd: str) -> tuple[bool, str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"{' '.join(command)}: {error}"
    return done.returncode == 0, done.stdout + done.stderr
