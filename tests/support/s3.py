"""A real S3-compatible server for tests: moto's standalone server on loopback, one per test process.

Fixtures: ``s3_server`` (the running server with its bucket, for the whole session) and ``s3`` (the same endpoint,
its state reset and the bucket empty again before each test). moto is a dev dependency: if it does not start, the
test errors; nothing is skipped.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.imap import die_with_parent

RUNNING_ON = re.compile(rb"Running on (http://127\.0\.0\.1:\d+)")
# Straight to loopback, whatever HTTP_PROXY says.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class S3Endpoint:
    url: str
    bucket: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client("s3", ...)`` or aiobotocore's ``session.create_client("s3", ...)``."""
        return {
            "endpoint_url": self.url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": self.region,
        }

    def boto3_client(self) -> Any:
        import boto3  # here, not at the top: every test process loads this plugin, few use boto3

        return boto3.client("s3", **self.client_kwargs())


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1; port 0, so the OS picks a free port and the server prints it."""

    def __init__(self) -> None:
        fd, name = tempfile.mkstemp(prefix="leadflow-moto-", suffix=".log")
        os.close(fd)
        self.log = Path(name)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 30.0) -> str:
        # Not measured by coverage (it runs none of our code) and not talking to any real AWS.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "AWS_"))}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if not self.url and (match := RUNNING_ON.search(self.log.read_bytes())):
                self.url = match.group(1).decode()
            if self.url and self._answers():
                return self.url
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"moto's server did not start; its output:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            with _DIRECT.open(f"{self.url}/moto-api/", timeout=2) as response:
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self.stop()
        self.log.unlink(missing_ok=True)

    def log_tail(self, size: int = 4000) -> str:
        try:
            return self.log.read_bytes()[-size:].decode(errors="replace")
        except OSError:
            return ""


def reset(url: str) -> None:
    """Make moto forget every bucket, object and upload (its own reset endpoint)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with _DIRECT.open(request, timeout=10) as response:
        assert response.status == 200, response.status


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Endpoint]:
    """moto's S3 on loopback for this test process (each pytest-xdist worker has its own), with one bucket."""
    server = MotoServer()
    try:
        endpoint = S3Endpoint(url=server.start(), bucket="leadflow-test")
        endpoint.boto3_client().create_bucket(Bucket=endpoint.bucket)
        yield endpoint
    finally:
        server.close()


@pytest.fixture(scope="session")
def _s3_admin(s3_server: S3Endpoint) -> Any:
    return s3_server.boto3_client()


@pytest.fixture
def s3(s3_server: S3Endpoint, _s3_admin: Any) -> S3Endpoint:
    """The session's endpoint with its bucket empty (and no other bucket, object or upload left by a test)."""
    reset(s3_server.url)
    _s3_admin.create_bucket(Bucket=s3_server.bucket)
    return s3_server
