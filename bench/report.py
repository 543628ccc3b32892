"""The benchmark of SPEC §13 (issue 15, "Fast under load"): `make bench` runs this.

1. Ensures the PostgreSQL database with the benchmark data set (default
   postgresql+asyncpg://postgres@127.0.0.1:5432/leadflow_bench; created, migrated and loaded with
   `leadflow seed-demo --scale large` when missing, migrated only when present).
2. Starts `leadflow serve --port 0` on it (the benchmark's accounts exempt from the rate limit, log level WARNING,
   Redis when reachable, `--workers N` if asked) and the bare FastAPI app (bench/bare_app.py), one process.
3. Runs the bare ceiling, /health/live, every SPEC §13 scenario, the console's intake and board fragments, and the
   bare ceiling again: each as a closed loop (wrk -t2 -c32, throughput and latency) and then paced (a fixed
   100 requests/s whatever the answers, latency measured from the scheduled moment).
4. Prints one table: req/s, % of bare, p50/p99, paced p50/p99, errors, the target and whether it is met.
5. Writes docs/performance.json, docs/performance.svg and the generated part of docs/performance.md (only for a full
   run of the large set; --write-docs / --no-write-docs decide otherwise).

    make bench                                    # everything, about 8 minutes
    make bench BENCH_ARGS="--quick"               # a smoke run, 3 s per scenario
    uv run --group bench python bench/report.py --only list get_one --workers 2
    uv run --group bench python bench/report.py --url http://127.0.0.1:8000   # a service already running

docs/performance.md explains the method. Traffic goes only to loopback addresses (and to --url).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import redis
from benchkit import dataset, paced, results, servers, wrk
from benchkit.results import Outcome
from benchkit.scenarios import BY_NAME, EXEMPT_LOGINS, SERVICE, Scenarios
from rich.console import Console

from leadflow.telephony.mango import MangoProvider

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
# Wide enough for the table in a log or a pipe too (rich would fold it to 80 columns).
console = Console(highlight=False, width=max(shutil.get_terminal_size((160, 40)).columns, 160))


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", metavar="SCENARIO", help=f"some of: {', '.join(SERVICE)}")
    parser.add_argument("--workers", type=int, default=1, help="`leadflow serve --workers N` (N > 1 needs Redis)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 3 s closed, 2 s paced, 1 s warm-up")
    parser.add_argument("--seconds", type=int, help="closed-loop seconds per scenario (default 15)")
    parser.add_argument("--paced-seconds", type=float, help="paced seconds per scenario (default 10)")
    parser.add_argument("--warmup", type=int, help="unmeasured closed-loop seconds before each scenario (default 2)")
    parser.add_argument("--rate", type=float, default=100, help="the paced load, requests per second (default 100)")
    parser.add_argument("--no-paced", action="store_true", help="closed loop only")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--dataset",
        choices=["large", "small"],
        default="large",
        help="large: SPEC §13's set; small: the same generator scaled down, for smoke runs (figures not comparable)",
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL"),
        help=f"default {dataset.LARGE_URL} (large) or {dataset.SMALL_URL} (small); env BENCH_DATABASE_URL",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="Redis for the service (cache, limits, queue) under the key prefix leadflow-bench; env BENCH_REDIS_URL",
    )
    parser.add_argument("--no-redis", action="store_true", help="serve without Redis (in-process cache and queue)")
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one more setting for the service, e.g. LEADFLOW_DB_POOL_SIZE=20 (repeatable)",
    )
    parser.add_argument("--url", help="measure this running service instead of starting one (no data set check)")
    parser.add_argument("--mango-key", default=os.environ.get("BENCH_MANGO_KEY", "bench-mango-key"))
    parser.add_argument("--mango-salt", default=os.environ.get("BENCH_MANGO_SALT", "bench-mango-salt"))
    write = parser.add_mutually_exclusive_group()
    write.add_argument("--write-docs", dest="write_docs", action="store_true", default=None)
    write.add_argument("--no-write-docs", dest="write_docs", action="store_false")
    args = parser.parse_args(argv)
    args.only = results.names_known(args.only) if args.only else list(SERVICE)
    if "bare" in args.only:
        args.only.remove("bare")  # always measured first and last
    args.seconds = args.seconds or (3 if args.quick else 15)
    args.paced_seconds = args.paced_seconds or (2 if args.quick else 10)
    args.warmup = args.warmup if args.warmup is not None else (1 if args.quick else 2)
    args.database_given = bool(args.database_url)
    args.database_url = args.database_url or (dataset.LARGE_URL if args.dataset == "large" else dataset.SMALL_URL)
    if args.write_docs is None:
        args.write_docs = not args.quick and args.dataset == "large" and args.only == list(SERVICE) and not args.url
    return args


def redis_reachable(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


def service_settings(args: argparse.Namespace, data_dir: Path, use_redis: bool) -> dict[str, str]:
    settings = {
        "LEADFLOW_DATABASE_URL": args.database_url,
        "LEADFLOW_DATA_DIR": str(data_dir),
        "LEADFLOW_SECRET_KEY": secrets.token_urlsafe(48),
        "LEADFLOW_LOG_LEVEL": "WARNING",
        # The measured accounts are exempt from the per-user limit (a setting production refuses, SPEC §13). The
        # per-address limits (anonymous requests such as sign-ins, sign-ins themselves, webhooks) are raised: all the
        # load comes from one address and would measure the limiter's 429s, not the work. The limiter still counts.
        "LEADFLOW_RATE_LIMIT_EXEMPT_LOGINS": ",".join(EXEMPT_LOGINS),
        "LEADFLOW_RATE_LIMIT_PER_MINUTE": "1000000",
        "LEADFLOW_LOGIN_RATE_LIMIT_PER_MINUTE": "1000000",
        "LEADFLOW_WEBHOOK_RATE_LIMIT_PER_MINUTE": "1000000",
        "LEADFLOW_MANGO_API_KEY": args.mango_key,
        "LEADFLOW_MANGO_API_SALT": args.mango_salt,
    }
    if use_redis:
        settings |= {"LEADFLOW_REDIS_URL": args.redis_url, "LEADFLOW_REDIS_PREFIX": "leadflow-bench"}
    for item in args.server_env:
        name, _, value = item.partition("=")
        if not name.startswith("LEADFLOW_") or not _:
            raise SystemExit(f"--server-env takes LEADFLOW_NAME=VALUE, not {item!r}")
        settings[name] = value
    return settings


def measure(
    name: str, scenarios: Scenarios, args: argparse.Namespace, log: Path, ceiling_rps: float, run: str = ""
) -> Outcome:
    spec = BY_NAME[name]
    console.print(f"[bold]{name}[/bold]: {spec.title}", end="")
    if name != "bare":
        scenarios.renew_tokens()
    if args.warmup:
        url, script, env = scenarios.wrk_plan(name, args.warmup, ceiling_rps)
        wrk.run(url, script, env, args.warmup, connections=args.connections, threads=args.threads, log=log)
    url, script, env = scenarios.wrk_plan(name, args.seconds, ceiling_rps)
    closed = wrk.run(url, script, env, args.seconds, connections=args.connections, threads=args.threads, log=log)
    console.print(f"  closed {closed.rps:,.0f} req/s, p99 {closed.p99_ms:.1f} ms, errors {closed.errors}", end="")
    settle(url, name, args)
    result = None
    if not args.no_paced:
        url, source = scenarios.paced_source(name)
        result = asyncio.run(paced.run(url, source, args.rate, args.paced_seconds))
        console.print(f"; paced p99 {result.p99_ms:.1f} ms, errors {result.errors}", end="")
        settle(url, name, args)
    console.print()
    return Outcome(spec, closed, result, run=run)


def settle(url: str, name: str, args: argparse.Namespace) -> None:
    """Before the next run, wait for the server to work off what this one left queued."""
    probe = url + ("/bare" if name == "bare" else "/health/live")
    quiet = max(10.0, 3 * args.quiet_ms[name == "bare"])
    if not servers.settle(probe, quiet):
        console.print(" [yellow](still busy 90 s after the run: the next figures may suffer)[/yellow]", end="")


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)  # progress shows as it happens in a log file too
    # SIGTERM (a stopped `make bench`) unwinds like Ctrl-C: the servers started here are stopped, not orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not wrk.available():
        console.print(f"[red]{wrk.INSTALL_HINT}[/red]")
        return 2
    started = time.monotonic()
    load = os.getloadavg()[0]
    if load > 0.5:
        console.print(
            f"[yellow]note: the load average is {load:.2f} before the run; other work on this machine lowers and "
            "scatters the figures[/yellow]"
        )
    work = Path(tempfile.mkdtemp(prefix="leadflow-bench-"))
    log = work / "wrk.log"
    console.print(f"working files and logs: {work}")
    use_redis = False
    facts: dict[str, Any] = {}
    with ExitStack() as stack:
        if args.url:
            service_url = args.url.rstrip("/")
            service = f"a running service at {service_url}"
            if args.database_given:  # the service's database, for its version and row counts
                facts = dataset.facts(args.database_url)
        else:
            use_redis = not args.no_redis and redis_reachable(args.redis_url)
            if args.workers > 1 and not use_redis:
                console.print(f"[red]--workers {args.workers} needs Redis; none answers at {args.redis_url}[/red]")
                return 2
            if not args.no_redis and not use_redis:
                console.print(f"[yellow]no Redis at {args.redis_url}: serving with the in-process cache[/yellow]")
            settings = service_settings(args, work / "data", use_redis)
            facts = dataset.ensure(args.database_url, args.dataset, servers.leadflow_env(settings))
            server = servers.start_service(settings, args.workers, work / "leadflow.log")
            stack.callback(server.stop)
            service_url = server.url
            service = f"leadflow serve on {dataset.parse(args.database_url).database}"
        bare = servers.start_bare(work / "bare.log")
        stack.callback(bare.stop)
        console.print(f"service {service_url}, bare app {bare.url}")
        args.quiet_ms = (servers.probe(service_url + "/health/live"), servers.probe(bare.url + "/bare"))
        mango = MangoProvider(args.mango_key, args.mango_salt)
        scenarios = Scenarios(service_url, bare.url, mango, work / "data-files", args.connections, args.threads)
        stack.callback(scenarios.close)
        try:
            seen = scenarios.prepare()
        except (RuntimeError, httpx.HTTPError) as exc:
            console.print(f"[red]cannot read the data set through the API: {exc}[/red]")
            return 1
        console.print(f"data set: {seen['requests']:,} requests, {seen['transactions']:,} transactions")
        outcomes = [measure("bare", scenarios, args, log, 0, run="first")]
        top = outcomes[0].closed.rps if outcomes[0].closed else 1000.0
        for name in args.only:
            try:
                outcomes.append(measure(name, scenarios, args, log, top))
            except (RuntimeError, httpx.HTTPError, OSError) as exc:
                console.print(f"\n[red]{name} failed: {exc}[/red]")
                outcomes.append(Outcome(BY_NAME[name], None, None, failure=str(exc)[:300]))
        outcomes.append(measure("bare", scenarios, args, log, 0, run="last"))
    results.apply_ratios(outcomes)
    elapsed = time.monotonic() - started
    run_settings = {
        "service": service,
        "workers": args.workers,
        "redis": "yes (key prefix leadflow-bench)" if use_redis else None,
        "connections": args.connections,
        "threads": args.threads,
        "closed_seconds": args.seconds,
        "warmup_seconds": args.warmup,
        "paced_rate": args.rate,
        "paced_seconds": 0 if args.no_paced else args.paced_seconds,
        "quick": args.quick,
        "server_env": args.server_env,
        "elapsed_seconds": round(elapsed),
    }
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "source": results.commit(REPO),
        "machine": results.machine(load),
        "postgresql": facts.get("postgresql"),
        "settings": run_settings,
        "dataset": {
            "scale": args.dataset if not args.url else "as found",
            **seen,
            "tables": {k: v for k, v in facts.items() if k not in ("loaded", "postgresql")} or None,
        },
        "bare_rps": results.ceiling(outcomes),
        "scenarios": [o.as_dict() for o in outcomes],
    }
    console.print()
    results.print_table(outcomes, run_settings, console)
    if args.write_docs:
        results.write_json(DOCS / "performance.json", report)
        title = f"Leadflow {report['source']['commit'][:12] if report['source']['commit'] else ''}, {report['date']}"
        results.chart(DOCS / "performance.svg", outcomes, title)
        generated = results.generated_markdown(report, outcomes, "performance.svg")
        results.rewrite_markdown(DOCS / "performance.md", generated)
        console.print("written: docs/performance.json, docs/performance.svg, docs/performance.md (generated part)")
    else:
        results.write_json(work / "performance.json", report)
        results.chart(work / "performance.svg", outcomes, f"Leadflow (not for the docs), {report['date']}")
        console.print(
            f"figures in {work}/performance.json and .svg; docs/ left as they are (a partial, quick or small run; "
            "--write-docs writes them anyway)"
        )
    console.print(f"took {elapsed / 60:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
