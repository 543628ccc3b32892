"""Prometheus metrics of the HTTP layer and the exposition that ``GET /metrics`` serves (docs/metrics.md).

Every module declares its metrics on the client library's default registry (``Counter(...)`` at import). With several
server processes (``leadflow serve --workers N``, or any server started with ``PROMETHEUS_MULTIPROC_DIR`` set) each
process writes its samples to files in that directory and a scrape of any process reads all of them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import structlog
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from leadflow import __version__
from leadflow.platform.settings import Settings

log = structlog.get_logger("leadflow.metrics")

disable_created_metrics()  # the *_created series double every counter and no rule or dashboard reads them
METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

HTTP_REQUESTS = Counter("http_requests_total", "HTTP responses.", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "Time to the last byte of the response.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
IN_PROGRESS = Gauge("http_requests_in_progress", "Requests being served.", ["method"], multiprocess_mode="livesum")
# A gauge rather than an Info: Info is not supported in multiprocess mode.
BUILD = Gauge("leadflow_build_info", "The running version (always 1).", ["version"], multiprocess_mode="max")
BUILD.labels(__version__).set(1)


def serve_worker_metrics(settings: Settings) -> None:
    """`leadflow worker` has no HTTP API: its job and mailbox metrics are served on their own small listener
    (WORKER_METRICS_HOST:WORKER_METRICS_PORT). A busy port is logged and the worker goes on without it."""
    if not settings.worker_metrics_port:
        return
    try:
        start_http_server(settings.worker_metrics_port, settings.worker_metrics_host)
    except OSError as exc:
        log.warning("worker_metrics_unavailable", port=settings.worker_metrics_port, error=str(exc))
        return
    log.info("worker_metrics", url=f"http://{settings.worker_metrics_host}:{settings.worker_metrics_port}/metrics")


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess(path: Path) -> None:
    """Before the server processes start: an empty directory for their samples (old files would add up)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    os.environ[MULTIPROC_ENV] = str(path)


def process_exited() -> None:
    """A server process stops: its live gauges no longer count."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid())


class _Families(Collector):
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self._families


def exposition(extra: Iterable[Metric] = ()) -> bytes:
    """Every metric of every process (multiprocess mode) or of this one, plus ``extra`` families (the business
    gauges, which come from the shared cache rather than from a process)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        # Process CPU and memory are per process; in multiprocess mode they describe the process that answered.
        ProcessCollector(registry=registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    added = CollectorRegistry()
    added.register(_Families(extra))
    return body + generate_latest(added)
