"""The closed loop: wrk with a fixed number of connections, each sending its next request as soon as the previous one
is answered; throughput and latency from the Lua scripts' own results line (bench/wrk/common.lua)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

WRK_DIR = Path(__file__).resolve().parent.parent / "wrk"
INSTALL_HINT = (
    "wrk is not installed: the closed-loop runs need it. On Debian or Ubuntu: `sudo apt-get install wrk`; "
    "on macOS: `brew install wrk`; or build it from https://github.com/wg/wrk."
)


@dataclass
class ClosedResult:
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    error_kinds: dict[str, int] = field(default_factory=dict)


def available() -> str | None:
    return shutil.which("wrk")


def run(
    url: str,
    script: str,
    env: dict[str, str],
    seconds: int,
    *,
    connections: int = 32,
    threads: int = 2,
    timeout_s: int = 10,
    log: Path | None = None,
) -> ClosedResult:
    """One wrk run of ``script`` (a file of bench/wrk/) against ``url``; every non-2xx answer, socket error, timeout
    and request sent without valid data is an error."""
    command = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", f"{timeout_s}s",
        "-s", str(WRK_DIR / script), url,
    ]  # fmt: skip
    environment = {**os.environ, **env, "BENCH_WRK_DIR": str(WRK_DIR), "BENCH_THREADS": str(threads)}
    done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=seconds + 120, check=False)
    if log is not None:
        with log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command)}\n{done.stdout}{done.stderr}\n")
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    data = json.loads(line.removeprefix("BENCH_RESULT "))
    kinds = {status: int(n) for status, n in data["statuses"].items()}
    for name in ("connect", "read", "write", "timeout", "starved"):
        if data[name]:
            kinds[name] = int(data[name])
    if not data["requests"]:
        kinds["none answered"] = 1  # every request took longer than the run: no figure, and not zero errors
    duration = data["duration_us"] / 1e6
    return ClosedResult(
        connections=connections,
        seconds=duration,
        requests=int(data["requests"]),
        rps=data["requests"] / duration if duration else 0.0,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors=sum(kinds.values()),
        error_kinds=kinds,
    )
