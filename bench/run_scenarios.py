"""Run every load scenario of bench/locustfile.py and print throughput as a ratio to a bare FastAPI endpoint
measured in the same run (SPEC §13), then the latency under a fixed open load.

    uv run --group bench python bench/run_scenarios.py --url http://127.0.0.1:8765 --seconds 30

The service at ``--url`` must be a `leadflow serve` on the benchmark data set with
``LEADFLOW_RATE_LIMIT_EXEMPT_LOGINS=bench.admin``. The bare app is started here on ``--bare-port``. Every run is
printed with its figures; nothing is written outside a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
SCENARIOS = ["list", "list_filtered", "get_one", "create", "transition", "transactions", "balance", "login", "webhook"]
TARGETS = {"list": 0.20, "list_filtered": 0.20, "get_one": 0.35, "create": 0.10, "transition": 0.10, "webhook": 0.10}


def locust(host: str, tag: str, users: int, seconds: int, rate: float = 0) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        prefix = str(Path(folder) / "run")
        command = [
            sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless", "--only-summary",
            "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--tags", tag, "--host", host, "--csv", prefix,
        ]  # fmt: skip
        if rate:
            command += ["--rate", str(rate)]
        subprocess.run(command, check=False, capture_output=True, text=True)
        with open(f"{prefix}_stats.csv", encoding="utf-8") as handle:
            rows = {row["Name"]: row for row in csv.DictReader(handle)}
    # The scenario's own row: set-up calls (sign-in, sampling ids) are named "setup: …" and left out.
    measured = [row for name, row in rows.items() if name != "Aggregated" and not name.startswith("setup")]
    total = max(measured, key=lambda row: int(row["Request Count"]))
    return {
        "rps": float(total["Requests/s"]),
        "p50": float(total["50%"]),
        "p99": float(total["99%"]),
        "requests": float(total["Request Count"]),
        "failures": float(total["Failure Count"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8765")
    parser.add_argument("--bare-port", type=int, default=8799)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100, help="the open load for the latency runs (0 to skip)")
    parser.add_argument("--only", nargs="*", default=SCENARIOS)
    args = parser.parse_args()
    bare = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(HERE), "bare_app:app", "--port", str(args.bare_port),
         "--log-level", "warning", "--no-access-log"],
    )  # fmt: skip
    try:
        for _ in range(50):
            try:
                httpx.get(f"http://127.0.0.1:{args.bare_port}/bare")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yardstick = locust(f"http://127.0.0.1:{args.bare_port}", "bare", args.users, args.seconds)
    finally:
        bare.terminate()
        bare.wait()
    print(f"bare endpoint: {yardstick['rps']:.0f} req/s with {args.users} closed-loop clients")
    print(f"{'scenario':<14} {'req/s':>7} {'ratio':>6} {'target':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}", end="")
    print(f"   open {args.rate:g}/s: {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}" if args.rate else "")
    for scenario in args.only:
        closed = locust(args.url, scenario, args.users, args.seconds)
        ratio = closed["rps"] / yardstick["rps"] if yardstick["rps"] else 0
        target = f"{TARGETS[scenario]:.0%}" if scenario in TARGETS else "-"
        line = (
            f"{scenario:<14} {closed['rps']:7.0f} {ratio:6.0%} {target:>6} {closed['p50']:7.0f} {closed['p99']:7.0f} "
            f"{closed['failures']:6.0f}"
        )
        if args.rate:
            opened = locust(args.url, scenario, args.users, args.seconds, args.rate)
            line += f"   {'':>9} {opened['p50']:7.0f} {opened['p99']:7.0f} {opened['failures']:6.0f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
