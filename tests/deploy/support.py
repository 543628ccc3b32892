"""What the deployment tests share: Debian's nginx run with the project's own config (``deploy/nginx/templates/``),
a self-signed certificate, and a fresh PostgreSQL database of its own.

nginx is taken from ``/usr/sbin/nginx`` (or ``PATH``); ``.ci/run`` installs Debian's ``nginx-light`` when it is
missing. Without it a test is skipped, or fails when ``LEADFLOW_TEST_REQUIRE_SERVICES`` is set (the CI run with
services), like every other missing tool.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "nginx" / "templates" / "leadflow.conf.template"
PLACEHOLDER = re.compile(r"\$\{(LEADFLOW_[A-Z0-9_]+)\}")


def require_tool(name: str, *candidates: str) -> str:
    """The path of a tool, or a skip (a failure on the run with services) when the machine does not have it."""
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    if found := shutil.which(name):
        return found
    message = f"{name} is not installed (Debian: apt-get install {name})"
    if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


def nginx_binary() -> str:
    return require_tool("nginx", "/usr/sbin/nginx")


def render(template: str, values: dict[str, str]) -> str:
    """What the nginx image's envsubst step makes of the template: the ``${LEADFLOW_...}`` names replaced, nginx's own
    ``$variables`` kept. Every placeholder must have a value."""
    missing = sorted({name for name in PLACEHOLDER.findall(template) if name not in values})
    assert not missing, f"no value for {missing}"
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` and ``127.0.0.1`` with its key, both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class NginxSite:
    """The project's site config rendered for loopback, inside a minimal main config of the test's own (pid, logs
    and temporary files under ``directory``)."""

    directory: Path
    http_port: int
    https_port: int
    cert: Path
    key: Path

    @classmethod
    def prepare(cls, directory: Path, upstreams: tuple[str, str]) -> NginxSite:
        directory.mkdir(parents=True, exist_ok=True)
        cert, key = self_signed(directory)
        site = cls(directory, free_port(), free_port(), cert, key)
        values = {
            "LEADFLOW_API1": upstreams[0],
            "LEADFLOW_API2": upstreams[1],
            "LEADFLOW_LISTEN_HOST": "127.0.0.1",
            "LEADFLOW_HTTP_PORT": str(site.http_port),
            "LEADFLOW_HTTPS_PORT": str(site.https_port),
            "LEADFLOW_SERVER_NAME": "localhost",
            "LEADFLOW_TLS_CERT": str(cert),
            "LEADFLOW_TLS_KEY": str(key),
        }
        (directory / "leadflow.conf").write_text(render(TEMPLATE.read_text(), values))
        temp = directory / "temp"
        temp.mkdir(exist_ok=True)
        user = "user root;" if os.geteuid() == 0 else ""
        (directory / "nginx.conf").write_text(
            f"""{user}
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {directory}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory}/leadflow.conf;
}}
"""
        )
        return site

    @property
    def config(self) -> Path:
        return self.directory / "nginx.conf"

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    def check(self, binary: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "-t", "-p", str(self.directory), "-c", str(self.config)],
            capture_output=True,
            text=True,
            timeout=30,
        )

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text() if path.exists() else ""

    @contextmanager
    def running(self, binary: str) -> Iterator[subprocess.Popen[bytes]]:
        process = subprocess.Popen(
            [binary, "-p", str(self.directory), "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise AssertionError(f"nginx exited: {process.stderr.read() if process.stderr else b''!r}")
                try:
                    socket.create_connection(("127.0.0.1", self.https_port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise AssertionError(f"nginx did not listen; {self.error_log()}")
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGQUIT)  # graceful
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def fresh_database(base_url: str, tag: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on the server of ``base_url``, dropped afterwards."""
    name = f"{make_url(base_url).database}_{tag}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(base_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(_admin(base_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
