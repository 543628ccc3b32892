"""The CLI contract of SPEC §12 that outside tools rely on, exercised on real processes."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from leadflow.platform.migrations import head_revision
from tests.cli.servers import cli_env, run_cli, start_server
from tests.conftest import ON_POSTGRES, PASSWORD, Harness

pytestmark = pytest.mark.slow


@pytest.fixture
def env(database_url: str, seeded_rows: object, tmp_path: Path) -> dict[str, str]:
    return cli_env(database_url, tmp_path / "data")


def test_serve_port_zero_prints_the_address_and_serves(env: dict[str, str]) -> None:
    server = start_server(env)
    try:
        assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
        live = httpx.get(f"{server.url}/health/live")
        assert live.status_code == 200 and live.headers["x-request-id"]
        ready = httpx.get(f"{server.url}/health/ready")
        assert ready.status_code == 200
        assert httpx.get(f"{server.url}/api/v1/openapi.json").json()["info"]["title"] == "Leadflow"
    finally:
        assert server.stop() == 0


def test_busy_port_is_one_line_and_exit_code_2(env: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "leadflow", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: port {port} on 127.0.0.1 is already in use"
    assert "Traceback" not in result.stderr and result.stdout == ""


async def test_sigterm_lets_in_flight_requests_finish(env: dict[str, str], h: Harness) -> None:
    users = [await h.user("operator") for _ in range(16)]
    slow_env = {**env, "LEADFLOW_PASSWORD_HASH_CHEAP": "false", "LEADFLOW_LOGIN_RATE_LIMIT_PER_MINUTE": "1000"}
    server = start_server(slow_env)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        # Logins with the production hash are CPU-bound (four at a time); sixteen take a while.
        pending = [
            asyncio.create_task(client.post("/api/v1/auth/token", data={"username": user.login, "password": PASSWORD}))
            for user in users
        ]
        # Signal as soon as the first answer is back: the server is accepting, and the rest are still in flight.
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        assert len(done) < 16
        server.process.send_signal(signal.SIGTERM)
        results = await asyncio.gather(*pending, return_exceptions=True)
    statuses = [r.status_code if isinstance(r, httpx.Response) else repr(r) for r in results]
    assert statuses == [200] * 16, statuses
    assert server.process.wait(timeout=30) == 0


def test_create_admin_from_stdin(env: dict[str, str]) -> None:
    created = run_cli(["create-admin", "--login", "root.admin", "--password-stdin"], env, stdin=PASSWORD + "\n")
    assert created.returncode == 0, created.stderr
    assert "root.admin" in created.stdout
    again = run_cli(["create-admin", "--login", "ROOT.admin", "--password-stdin"], env, stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "taken" in again.stderr
    weak = run_cli(["create-admin", "--login", "weak.admin", "--password-stdin"], env, stdin="1234567890\n")
    assert weak.returncode == 1 and "password refused" in weak.stderr
    server = start_server(env)
    try:
        token = httpx.post(f"{server.url}/api/v1/auth/token", data={"username": "root.admin", "password": PASSWORD})
        assert token.status_code == 200
    finally:
        server.stop()


def test_migrate_current_and_check(env: dict[str, str]) -> None:
    current = run_cli(["migrate", "current"], env)
    assert current.returncode == 0
    assert f"current: {head_revision()}" in current.stdout
    check = run_cli(["migrate", "check"], env)
    assert check.returncode == 0, check.stderr


def test_check_reports_each_dependency(env: dict[str, str]) -> None:
    result = run_cli(["check"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "database" in result.stdout and "migrations" in result.stdout
    broken = run_cli(["check"], {**env, "LEADFLOW_REDIS_URL": "redis://127.0.0.1:1/0"})
    assert broken.returncode == 1 and "redis: unreachable" in broken.stdout


def test_production_refuses_a_weak_secret(env: dict[str, str]) -> None:
    result = run_cli(["check"], {**env, "LEADFLOW_ENVIRONMENT": "production", "LEADFLOW_SECRET_KEY": "changeme"})
    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr and "Traceback" not in result.stderr
    serve = run_cli(["serve", "--port", "0"], {**env, "LEADFLOW_ENVIRONMENT": "production", "LEADFLOW_SECRET_KEY": ""})
    assert serve.returncode == 2 and "SECRET_KEY" in serve.stderr


def test_openapi_written(env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = run_cli(["openapi", "--output", str(target)], env)
    assert result.returncode == 0
    assert '"/api/v1/auth/login"' in target.read_text()


def test_several_workers_need_redis(env: dict[str, str]) -> None:
    result = run_cli(["serve", "--port", "0", "--workers", "2"], env)
    assert result.returncode == 2
    assert "LEADFLOW_REDIS_URL" in result.stderr and "Traceback" not in result.stderr


def test_create_admin_refuses_a_bad_login(env: dict[str, str]) -> None:
    for login in (" admin", "x" * 101, "ad"):
        result = run_cli(["create-admin", "--login", login, "--password-stdin"], env, stdin=PASSWORD + "\n")
        assert result.returncode == 1 and "login" in result.stderr


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's session limits")
def test_seed_demo_runs_without_the_session_limits(env: dict[str, str]) -> None:
    """The service's PostgreSQL session limits (a statement timeout, an idle-in-transaction timeout) are for requests
    and jobs; a bulk load runs under the server's own settings. Here no real statement or pause would fit in them."""
    strict = {**env, "LEADFLOW_DB_STATEMENT_TIMEOUT_MS": "1", "LEADFLOW_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS": "1"}
    seeded = run_cli(["seed-demo"], strict)
    assert seeded.returncode == 0, seeded.stderr
    assert "demo data created" in seeded.stdout
