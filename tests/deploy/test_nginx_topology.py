"""The deployment topology of ``compose.yaml`` without a container engine: Debian's nginx with the project's own
config (``deploy/nginx/templates/leadflow.conf.template``) over TLS in front of two ``leadflow serve`` processes and a
``leadflow worker``, on PostgreSQL + Redis with a fresh database of its own.

- ``nginx -t`` accepts the config, and its body limits are the service's (settings defaults).
- Through nginx over HTTPS: sign in with the cookie flow (``Secure`` cookies, CSRF), upload a file, get nginx's own
  413 as problem+json for a body above the limit, every security header once; the client address the service logs
  is the real one (``X-Forwarded-For`` from the trusted proxy; a spoofed hop from the client is ignored).
- The live stream (``GET /api/v1/stream``) comes through unbuffered: its first bytes arrive promptly.
- One web process stopped with SIGTERM in the middle of traffic: no request fails.
"""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from leadflow.app import UPLOAD_OVERHEAD
from leadflow.platform.settings import Settings
from tests.cli.servers import Server, cli_env, run_cli, start_server
from tests.conftest import DATABASE_URL, ON_POSTGRES, REDIS_URL
from tests.deploy.support import TEMPLATE, NginxSite, fresh_database, nginx_binary
from tests.files.helpers import padded_png, png

# One process builds the topology once for every test here (`make test` distributes with --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("nginx_topology")]

API = "/api/v1"
CLIENT_ADDRESS = "127.0.0.3"  # the browser; nginx reaches the service from 127.0.0.1, the only trusted proxy


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    site = NginxSite.prepare(tmp_path / "nginx", ("127.0.0.1:9", "127.0.0.1:10"))
    checked = site.check(nginx_binary())
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_body_limits_are_the_services() -> None:
    config = TEMPLATE.read_text()
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    server_wide = re.search(r"^    client_max_body_size (\d+);", config, re.MULTILINE)
    uploads = re.search(r"location ~ \^/api/v1/\.\+/files\$ \{\s*client_max_body_size (\d+);", config)
    assert server_wide and uploads
    assert int(server_wide.group(1)) == defaults.max_request_bytes == 10 * 1024 * 1024
    assert int(uploads.group(1)) == defaults.upload_max_bytes + UPLOAD_OVERHEAD


# The topology -----------------------------------------------------------------------------------------------------
@dataclass
class Topology:
    site: NginxSite
    servers: list[Server]
    worker: subprocess.Popen[str]
    admin_login: str
    admin_password: str

    def client(self, **kw: object) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.site.cert))
        transport = httpx.HTTPTransport(verify=context, local_address=CLIENT_ADDRESS)
        return httpx.Client(base_url=self.site.url, transport=transport, timeout=15, **kw)  # type: ignore[arg-type]

    @contextmanager
    def signed_in(self) -> Iterator[httpx.Client]:
        """The browser flow: cookies (``Secure``) and the double-submit CSRF header."""
        with self.client() as client:
            response = client.post(
                f"{API}/auth/login", json={"login": self.admin_login, "password": self.admin_password}
            )
            assert response.status_code == 200, response.text
            csrf = client.cookies.get("csrf_token")
            assert csrf
            client.headers["X-CSRF-Token"] = csrf
            yield client


def _services() -> tuple[str, str]:
    if not (ON_POSTGRES and REDIS_URL and DATABASE_URL):
        if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
            pytest.fail("the topology needs PostgreSQL and Redis on this run")
        pytest.skip("the topology runs on PostgreSQL + Redis (LEADFLOW_TEST_DATABASE_URL, LEADFLOW_TEST_REDIS_URL)")
    return DATABASE_URL, REDIS_URL


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    database, redis = _services()
    binary = nginx_binary()
    root = tmp_path_factory.mktemp("topology")
    with fresh_database(database, "topology") as url:
        env = cli_env(
            url,
            root / "data",
            redis_url=redis,
            redis_prefix=f"topology-{os.getpid()}",
            trusted_proxies="127.0.0.1",
            cookie_secure="true",
            worker_metrics_port=0,
            rate_limit_per_minute=100_000,  # the traffic below is one user's
            log_level="ERROR",  # nobody reads the processes' pipes while they run
        )
        for step in (["migrate", "upgrade"], ["seed-demo"]):
            done = run_cli(step, env, timeout=180)
            assert done.returncode == 0, done.stderr
        credentials = re.search(r"admin login: (\S+)\s+password: (\S+)", done.stdout)
        assert credentials, done.stdout
        worker = subprocess.Popen(
            [sys.executable, "-m", "leadflow", "worker"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        servers: list[Server] = []
        try:
            assert worker.stdout is not None
            started = worker.stdout.readline()
            assert "running: Redis queue" in started, started + (worker.stderr.read() if worker.stderr else "")
            servers = [start_server(env), start_server(env)]
            site = NginxSite.prepare(root / "nginx", (f"127.0.0.1:{servers[0].port}", f"127.0.0.1:{servers[1].port}"))
            with site.running(binary):
                yield Topology(site, servers, worker, credentials.group(1), credentials.group(2))
        finally:
            for server in servers:
                server.stop()
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0


def test_plain_http_redirects_to_https(topology: Topology) -> None:
    answer = httpx.get(f"http://127.0.0.1:{topology.site.http_port}/health/ready?x=1")
    assert answer.status_code == 301
    assert answer.headers["location"] == f"https://127.0.0.1:{topology.site.https_port}/health/ready?x=1"


def test_ready_through_tls_with_each_security_header_once(topology: Topology) -> None:
    with topology.client() as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 200 and ready.json() == {"status": "ok"}
        assert ready.extensions["http_version"] == b"HTTP/1.1"
        for name in (
            "strict-transport-security",
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
            "content-security-policy",
            "permissions-policy",
        ):
            assert len(ready.headers.get_list(name)) == 1, (name, ready.headers.get_list(name))
        assert ready.headers["x-frame-options"] == "DENY"
        assert "server" not in ready.headers or "nginx/" not in ready.headers["server"]
        # Prometheus scrapes the processes on the private network; nginx does not publish /metrics.
        assert client.get("/metrics").status_code == 404


def test_sign_in_upload_and_client_address(topology: Topology) -> None:
    with topology.signed_in() as client:
        # The cookies are Secure (LEADFLOW_COOKIE_SECURE) and still come back: the browser is on HTTPS.
        me = client.get(f"{API}/auth/me")
        assert me.status_code == 200 and me.json()["login"] == topology.admin_login
        request_id = client.get(f"{API}/requests", params={"limit": 1}).json()["items"][0]["id"]
        upload = client.post(
            f"{API}/requests/{request_id}/files",
            files={"file": ("bso.png", png(seed=41), "application/octet-stream")},
            data={"kind": "bso"},
            headers={"X-Forwarded-For": "203.0.113.7"},  # spoofed by the client: must be ignored
        )
        assert upload.status_code == 201, upload.text
        stored = client.get(f"{API}/files/{upload.json()['id']}")
        assert stored.status_code == 200 and stored.content == png(seed=41)
        log = client.get(f"{API}/file-access-log").json()["items"]
        mine = [row for row in log if row["file_id"] == upload.json()["id"] and row["action"] == "upload"]
        assert [row["ip"] for row in mine] == [CLIENT_ADDRESS]


def test_body_above_the_limit_is_nginx_problem(topology: Topology) -> None:
    with topology.signed_in() as client:
        request_id = client.get(f"{API}/requests", params={"limit": 1}).json()["items"][0]["id"]
        big = padded_png(10 * 1024 * 1024 + 128 * 1024)  # above the upload route's 10 MiB + 64 KiB
        refused = client.post(
            f"{API}/requests/{request_id}/files",
            files={"file": ("bso.png", big, "application/octet-stream")},
            data={"kind": "bso"},
        )
        assert refused.status_code == 413
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"] == "https://leadflow.dev/problems/request-too-large"
        assert refused.headers["x-frame-options"] == "DENY"
        assert refused.headers["strict-transport-security"].startswith("max-age=")
        # Just under the limit the service answers itself: the file passes nginx and is judged by its bytes.
        near = client.post(
            f"{API}/requests/{request_id}/files",
            files={"file": ("bso.png", padded_png(10 * 1024 * 1024), "application/octet-stream")},
            data={"kind": "bso"},
        )
        assert near.status_code == 201, near.text


def test_live_stream_is_not_buffered(topology: Topology) -> None:
    """The stream's first comment arrives at once, and a change made through the other process arrives as an event
    while the stream stays open: nginx passes each frame on as it comes (buffered, a few dozen bytes would wait)."""
    with topology.signed_in() as client:
        city_id = client.get(f"{API}/requests", params={"limit": 1}).json()["items"][0]["city_id"]
        started = time.monotonic()
        with client.stream("GET", f"{API}/stream", headers={"Accept": "text/event-stream"}, timeout=10) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            chunks = stream.iter_raw()
            first = next(chunks)
            assert b"connected" in first and time.monotonic() - started < 5, first
            created = client.post(f"{API}/requests", json={"city_id": city_id, "client_phone": "79850001234"})
            assert created.status_code == 201, created.text
            waited, seen = time.monotonic(), b""
            while b"request.changed" not in seen:
                seen += next(chunks)
            assert time.monotonic() - waited < 5
            assert f'"id":{created.json()["id"]}'.encode() in seen, seen


def test_sigterm_on_one_process_loses_no_request(topology: Topology) -> None:
    statuses: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def traffic() -> None:
        with topology.signed_in() as client:
            while not stop.is_set():
                try:
                    statuses.append(client.get(f"{API}/auth/me").status_code)
                except httpx.HTTPError as error:
                    errors.append(repr(error))

    threads = [threading.Thread(target=traffic) for _ in range(4)]
    for thread in threads:
        thread.start()

    def answered(count: int) -> bool:
        deadline = time.monotonic() + 30
        while len(statuses) + len(errors) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(statuses) + len(errors) >= count

    try:
        assert answered(20)  # traffic on both processes
        before = len(statuses)
        assert topology.servers[0].stop(signal.SIGTERM) == 0  # drains what it has in flight, exits 0
        assert answered(before + 40)  # and the traffic goes on
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}
    # The stopped process was still in nginx's list: a request went there, failed (refused, or its kept-alive
    # connection closed) and was passed on to the other process.
    stopped = f'upstream: "http://127.0.0.1:{topology.servers[0].port}/'
    assert stopped in topology.site.error_log()
