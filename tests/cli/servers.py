"""Real ``leadflow serve`` processes for tests that need more than one process or the real CLI contract."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import SECRET

LISTENING = re.compile(r"^listening on (http://[^\s]+:(\d+))$")


def cli_env(database_url: str, data_dir: Path, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env.update(
        {
            "LEADFLOW_DATABASE_URL": database_url,
            "LEADFLOW_DATA_DIR": str(data_dir),
            "LEADFLOW_SECRET_KEY": SECRET,
            "LEADFLOW_PASSWORD_HASH_CHEAP": "true",
            "LEADFLOW_LOG_LEVEL": "WARNING",
        }
    )
    env.update({f"LEADFLOW_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def run_cli(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leadflow", *args], env=env, input=stdin, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    port: int

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        return self.process.returncode


def start_server(
    env: dict[str, str],
    host: str = "127.0.0.1",
    port: int = 0,
    timeout: float = 30,
    args: tuple[str, ...] = (),
    log: Path | None = None,
) -> Server:
    """A ``leadflow serve`` process, live. Its stderr is a pipe, or (``log``) a file: a server that logs a lot (a
    fault test's errors) would otherwise block once the unread pipe is full."""
    handle = log.open("w", encoding="utf-8") if log is not None else None
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "leadflow", "serve", "--host", host, "--port", str(port), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=handle if handle is not None else subprocess.PIPE,
            text=True,
        )
    finally:
        if handle is not None:
            handle.close()  # the child has its own copy
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = process.stdout.readline().strip()
    match = LISTENING.match(line)
    if not match:
        process.kill()
        raise AssertionError(
            f"unexpected first line {line!r}; stderr: {process.stderr.read() if process.stderr else ''}"
        )
    server = Server(process, match.group(1), int(match.group(2)))
    # The socket is bound and listening already; wait until the app answers.
    import httpx

    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/health/live", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.05)
    server.stop(signal.SIGKILL)
    raise AssertionError("server did not become live")


@contextmanager
def servers(env: dict[str, str], count: int) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        for _ in range(count):
            started.append(start_server(env))
        yield started
    finally:
        for server in started:
            server.stop()
