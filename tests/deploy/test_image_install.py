"""The install the ``Dockerfile`` makes, made here without a container engine: ``uv sync --frozen --no-dev
--no-editable`` (the Dockerfile's command) into an environment of its own gives a ``leadflow`` that migrates and
serves with the runtime dependencies alone (no test or lint tool is there), run as an unprivileged user whose only
writable directory is the data directory, like the image's ``leadflow`` user."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.servers import LISTENING
from tests.deploy.support import ROOT, require_tool

pytestmark = pytest.mark.slow

DOCKERFILE = ROOT / "Dockerfile"
SYSTEM_PYTHON = "/usr/bin/python3"


def _usable(python: str) -> bool:
    if not os.access(python, os.X_OK):
        return False
    probe = subprocess.run([python, "-c", "import sys; print(sys.version_info >= (3, 11))"], capture_output=True)
    return probe.stdout.strip() == b"True"


def _dockerfile_sync() -> list[str]:
    """The arguments of the Dockerfile's last ``uv sync`` (the one that installs the project)."""
    syncs = re.findall(r"^RUN uv sync (.+)$", DOCKERFILE.read_text(), re.MULTILINE)
    assert syncs, "the Dockerfile installs with uv sync"
    return syncs[-1].split()


@pytest.fixture
def app_root() -> Iterator[Path]:
    """A directory another user can enter (pytest's own temporary directories are private to their owner)."""
    root = Path(tempfile.mkdtemp(prefix="leadflow-image-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_the_image_install_serves_with_runtime_dependencies_only(app_root: Path) -> None:
    uv = require_tool("uv", str(Path.home() / ".local" / "bin" / "uv"))
    args = _dockerfile_sync()
    assert {"--frozen", "--no-dev", "--no-editable"} <= set(args)
    env_dir = app_root / ".venv"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LEADFLOW_", "VIRTUAL_ENV", "UV_"))}
    # The image's interpreter is the system one (/usr/local/bin/python3 of the python image), which every user may
    # run; here Debian's, when it is new enough, else this one.
    interpreter = SYSTEM_PYTHON if _usable(SYSTEM_PYTHON) else sys.executable
    synced = subprocess.run(
        [uv, "sync", *args, "--quiet"],
        cwd=ROOT,
        env={
            **base,
            "UV_PROJECT_ENVIRONMENT": str(env_dir),
            "UV_LINK_MODE": "hardlink",  # from uv's cache, readable by everyone; the image copies instead
            "UV_PYTHON": interpreter,
            "UV_PYTHON_DOWNLOADS": "never",
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert synced.returncode == 0, synced.stderr
    python = env_dir / "bin" / "python"
    for tool in ("pytest", "httpx", "ruff", "mypy", "bandit"):
        probe = subprocess.run([python, "-c", f"import {tool}"], capture_output=True, timeout=60)
        assert probe.returncode != 0, f"{tool} is in the runtime environment"

    data = app_root / "data"
    data.mkdir()
    as_user: dict[str, object] = {}
    if os.geteuid() == 0 and interpreter == SYSTEM_PYTHON:  # like the image: a user owning only the data directory
        nobody = pwd.getpwnam("nobody")
        os.chown(data, nobody.pw_uid, nobody.pw_gid)
        as_user = {"user": nobody.pw_uid, "group": nobody.pw_gid}
    run_env = {
        **base,
        "HOME": str(data),
        "LEADFLOW_DATA_DIR": str(data),
        "LEADFLOW_PASSWORD_HASH_CHEAP": "true",
        "LEADFLOW_LOG_LEVEL": "WARNING",
    }
    leadflow = str(env_dir / "bin" / "leadflow")
    migrated = subprocess.run(
        [leadflow, "migrate", "upgrade"], cwd=data, env=run_env, capture_output=True, text=True, timeout=120, **as_user
    )  # type: ignore[call-overload]
    assert migrated.returncode == 0, migrated.stderr
    server = subprocess.Popen(
        [leadflow, "serve", "--port", "0"],
        cwd=data,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **as_user,  # type: ignore[arg-type]
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline().strip()
        match = LISTENING.match(line)
        assert match, (line, server.stderr.read() if server.stderr else "")
        ready = httpx.get(f"{match.group(1)}/health/ready", timeout=30)
        assert ready.status_code == 200, ready.text
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0
