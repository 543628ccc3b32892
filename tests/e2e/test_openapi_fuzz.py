"""Schemathesis against the OpenAPI document of a real server process: no input, however odd, gets a 5xx, and
answers match the documented schemas. Bounded (a few examples per operation) to keep CI short. Generation includes
NUL characters, and the coverage phase sends strings at maxLength and maxLength+1 (positive and negative mode)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.servers import cli_env, start_server
from tests.conftest import PASSWORD, Harness

pytestmark = pytest.mark.slow

# Endpoints that end the fuzzer's own session would only make the rest of the run unauthenticated; the event stream
# never ends (its own tests are in tests/console/test_stream.py).
EXCLUDED = r"/auth/(logout|password|2fa/.*)|/users/\{user_id\}/(block|password)$|/stream$"


async def test_no_server_errors_and_documented_shapes(h: Harness, database_url: str, tmp_path: Path) -> None:
    admin = await h.user("admin", login="fuzz.admin")
    city = await h.city("Fuzz City")
    await h.user("master", master_city=city.id)
    env = cli_env(
        database_url, tmp_path / "data", rate_limit_per_minute=1_000_000, login_rate_limit_per_minute=1_000_000
    )
    server = start_server(env)
    try:
        token = httpx.post(f"{server.url}/api/v1/auth/token", data={"username": admin.login, "password": PASSWORD})
        headers = ["-H", f"Authorization: Bearer {token.json()['access_token']}"]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/api/v1/openapi.json",
                *headers,
                "--checks",
                "not_a_server_error,response_schema_conformance",
                "--max-examples",
                "5",
                "--seed",
                "20261124",
                "--exclude-path-regex",
                EXCLUDED,
                "--phases",
                "coverage,fuzzing",
                "--mode",
                "all",
                "--generation-allow-x00",
                "true",
                "--max-time",
                "45",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env={**env, "SCHEMATHESIS_HOOKS": ""},
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
