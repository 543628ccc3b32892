"""The restore drill of docs/backups.md, on PostgreSQL: demo data in a fresh database, ``pg_dump`` (custom format),
``pg_restore`` into a new database, ``leadflow check`` against the copy, and the same report figures
(``GET /api/v1/reports/cities``) from a server on each. Needs ``pg_dump``/``pg_restore`` of the machine (Debian's
``postgresql-client``); skipped on the embedded run, a failure on the run with services when they are missing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from tests.cli.servers import cli_env, run_cli, start_server
from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.deploy.support import fresh_database, require_tool

pytestmark = pytest.mark.slow


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as libpq takes it (``postgresql://``, no driver)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _report(env: dict[str, str], login: str, password: str) -> dict[str, Any]:
    server = start_server(env)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            signed = client.post("/api/v1/auth/login", json={"login": login, "password": password})
            assert signed.status_code == 200, signed.text
            # Through tomorrow: the cities' own "today" runs ahead of this machine's after their midnight.
            tomorrow = dt.date.today() + dt.timedelta(days=1)
            period = {"date_from": "2020-01-01", "date_to": tomorrow.isoformat()}
            report = client.get("/api/v1/reports/cities", params=period)
            assert report.status_code == 200, report.text
            body: dict[str, Any] = report.json()
            return body
    finally:
        assert server.stop() == 0


def test_dump_restore_check_and_same_figures(tmp_path: Path) -> None:
    if not (ON_POSTGRES and DATABASE_URL):
        if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
            pytest.fail("the restore drill needs PostgreSQL on this run")
        pytest.skip("the restore drill runs on PostgreSQL (LEADFLOW_TEST_DATABASE_URL)")
    pg_dump = require_tool("pg_dump", "/usr/bin/pg_dump")
    pg_restore = require_tool("pg_restore", "/usr/bin/pg_restore")
    with fresh_database(DATABASE_URL, "drill_src") as source, fresh_database(DATABASE_URL, "drill_copy") as copy:
        source_env = cli_env(source, tmp_path / "data")
        for step in (["migrate", "upgrade"], ["seed-demo"]):
            done = run_cli(step, source_env, timeout=180)
            assert done.returncode == 0, done.stderr
        credentials = re.search(r"admin login: (\S+)\s+password: (\S+)", done.stdout)
        assert credentials, done.stdout
        login, password = credentials.groups()
        before = _report(source_env, login, password)
        totals = before["totals"]
        assert totals["requests_total"] > 0 and totals["done"] > 0, totals  # figures worth comparing
        assert totals["revenue"] != "0.00" and totals["cash_income"] != "0.00", totals

        dump = tmp_path / "leadflow.dump"
        dumped = subprocess.run(
            [pg_dump, "--format=custom", "--no-owner", "--file", str(dump), _libpq(source)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert dumped.returncode == 0, dumped.stderr
        restored = subprocess.run(
            [pg_restore, "--no-owner", "--exit-on-error", "--dbname", _libpq(copy), str(dump)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restored.returncode == 0, restored.stderr

        # The copy is complete: checked like a new deployment (which includes "migrations at head"), same figures.
        copy_env = cli_env(copy, tmp_path / "data")
        checked = run_cli(["check"], copy_env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "migrations: ok" in checked.stdout, checked.stdout
        after = _report(copy_env, login, password)
        assert after == before
