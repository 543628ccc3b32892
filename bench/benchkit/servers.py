"""The processes measured: `leadflow serve --port 0` on the benchmark database, and the bare app (bench/bare_app.py).
Both print ``listening on http://HOST:PORT`` first; their other output goes to a log file (a full pipe would stall
them)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

BENCH_DIR = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"^listening on (http://\S+:\d+)$")


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    url: str
    log: Path

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _drain(stream: object, log: Path) -> None:
    with log.open("a", encoding="utf-8") as handle:
        for line in stream:  # type: ignore[attr-defined]
            handle.write(line)
            handle.flush()


def start(name: str, command: list[str], env: dict[str, str], log: Path, live_path: str, timeout: float = 60) -> Server:
    with log.open("w", encoding="utf-8") as handle:
        handle.write(f"$ {' '.join(command)}\n")
    errors = log.open("a", encoding="utf-8")
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
    errors.close()
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    match = LISTENING.match(first)
    if not match:
        process.kill()
        process.wait()
        raise RuntimeError(f"{name} did not start (first line {first!r}); see {log}")
    threading.Thread(target=_drain, args=(process.stdout, log), daemon=True).start()
    server = Server(name, process, match.group(1), log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}; see {log}")
        try:
            if httpx.get(server.url + live_path, timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer {live_path} within {timeout:.0f} s; see {log}")


def leadflow_env(settings: dict[str, str]) -> dict[str, str]:
    """The environment of a `leadflow` command: this one without its LEADFLOW_ settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env.update(settings)
    return env


def start_service(settings: dict[str, str], workers: int, log: Path) -> Server:
    command = [sys.executable, "-m", "leadflow", "serve", "--host", "127.0.0.1", "--port", "0"]
    if workers > 1:
        command += ["--workers", str(workers)]
    return start("leadflow serve", command, leadflow_env(settings), log, "/health/live")


def start_bare(log: Path) -> Server:
    command = [sys.executable, str(BENCH_DIR / "bare_app.py"), "--port", "0"]
    return start("bare app", command, dict(os.environ), log, "/bare")


def probe(url: str, count: int = 20) -> float:
    """The median latency of ``count`` sequential GETs of ``url``, in ms (the quiet figure :func:`settle` waits for)."""
    timings = []
    with httpx.Client(timeout=10) as client:
        for _ in range(count):
            t0 = time.perf_counter()
            client.get(url)
            timings.append((time.perf_counter() - t0) * 1000)
    return sorted(timings)[len(timings) // 2]


def settle(url: str, quiet_ms: float, timeout: float = 90) -> bool:
    """Wait until ``url`` answers within ``quiet_ms`` three times in a row (the server has worked off what an
    overloaded run left queued); whether it did within ``timeout`` seconds."""
    started = time.monotonic()
    calm = 0
    with httpx.Client(timeout=10) as client:
        while calm < 3:
            if time.monotonic() - started > timeout:
                return False
            t0 = time.perf_counter()
            try:
                client.get(url)
                fast = (time.perf_counter() - t0) * 1000 < quiet_ms
            except httpx.HTTPError:
                fast = False
            calm = calm + 1 if fast else 0
            time.sleep(0.1)
    return True
