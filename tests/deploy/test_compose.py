"""``compose.yaml`` and the ``Dockerfile`` hold together without a container engine.

``docker-compose config`` (Debian's ``docker-compose`` package, which validates against the Compose schema offline)
accepts the file and renders it; the rendered services are the topology of SPEC §12, and the names and addresses
that must agree do: nginx's fixed address is the API's trusted proxy, nginx's upstreams and Prometheus' targets are
the services' names and ports, Grafana gets the shipped dashboard. ``.ci/run`` installs the package when it is
missing; without it the rendering test is skipped, or fails on the run with services.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.support import ROOT, require_tool

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
SECRETS = {
    "LEADFLOW_SECRET_KEY": "compose-test-secret-0123456789-abcdefghijklmnop",
    "POSTGRES_PASSWORD": "compose-test-password",
    "LEADFLOW_METRICS_TOKEN": "compose-test-token",
    "GRAFANA_ADMIN_PASSWORD": "compose-test-grafana",
}


def render(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = require_tool("docker-compose", "/usr/bin/docker-compose")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS and not k.startswith(("COMPOSE_", "DOCKER_"))}
    return subprocess.run(
        [binary, "--project-name", "leadflow", "--file", str(COMPOSE), "config"],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    result = render(SECRETS)
    assert result.returncode == 0, result.stderr
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def _host_ip(port: str | dict[str, Any]) -> str:
    """Compose v1 renders ``127.0.0.1:3000:3000/tcp``, v2 a mapping with ``host_ip``."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    parts = port.split(":")
    return parts[0] if len(parts) == 3 else ""


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Target -> source of a service's volumes, from either rendering."""
    out: dict[str, str] = {}
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            out[str(volume["target"])] = str(volume.get("source", ""))
        else:
            source, target = volume.split(":")[:2]
            out[target] = source
    return out


def test_the_topology(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    assert set(services) == {
        "migrate",
        "api1",
        "api2",
        "worker",
        "nginx",
        "postgres",
        "redis",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    for name in ("api1", "api2"):
        api = services[name]
        assert api["command"][:2] == ["leadflow", "serve"]
        assert api["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["command"] == ["leadflow", "worker"]
    assert services["migrate"]["command"] == ["leadflow", "migrate", "upgrade"]
    # Only nginx faces the internet; the monitoring UIs are published on loopback only.
    published = {name: service.get("ports", []) for name, service in services.items() if service.get("ports")}
    assert set(published) == {"nginx", "prometheus", "grafana"}
    for name in ("prometheus", "grafana"):
        assert all(_host_ip(port) == "127.0.0.1" for port in published[name]), published[name]


def test_nginx_is_the_trusted_proxy(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    address = services["nginx"]["networks"]["backend"]["ipv4_address"]
    for name in ("api1", "api2", "worker", "migrate"):
        env = services[name]["environment"]
        assert env["LEADFLOW_TRUSTED_PROXIES"] == address
        assert env["LEADFLOW_COOKIE_SECURE"] == "true" and env["LEADFLOW_ENVIRONMENT"] == "production"
        assert env["LEADFLOW_SECRET_KEY"] == SECRETS["LEADFLOW_SECRET_KEY"]
    nginx = services["nginx"]["environment"]
    assert {nginx["LEADFLOW_API1"], nginx["LEADFLOW_API2"]} == {"api1:8000", "api2:8000"}
    assert nginx["NGINX_ENVSUBST_FILTER"] == "^LEADFLOW_"
    mounts = _mounts(services["nginx"])
    assert mounts["/etc/nginx/templates"] == str(ROOT / "deploy/nginx/templates")
    assert mounts["/etc/nginx/conf.d/default.conf"] == "/dev/null"  # the image's welcome site is gone
    template = (ROOT / "deploy/nginx/templates/leadflow.conf.template").read_text()
    assert set(re.findall(r"\$\{(LEADFLOW_[A-Z0-9_]+)\}", template)) == {k for k in nginx if k.startswith("LEADFLOW_")}


def test_monitoring_is_wired(rendered: dict[str, Any]) -> None:
    services = rendered["services"]
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = {
        job["job_name"]: sorted(t for c in job["static_configs"] for t in c["targets"])
        for job in prometheus["scrape_configs"]
    }
    assert targets == {"leadflow": ["api1:8000", "api2:8000"], "leadflow-worker": ["worker:9101"]}
    assert services["worker"]["environment"]["LEADFLOW_WORKER_METRICS_PORT"] == "9101"
    token = prometheus["scrape_configs"][0]["authorization"]["credentials_file"]
    assert [s["target"] for s in services["prometheus"]["secrets"]] == [token]
    mounts = _mounts(services["grafana"])
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/leadflow.yml").read_text())
    folder = provider["providers"][0]["options"]["path"]
    assert mounts[f"{folder}/leadflow-dashboard.json"] == str(ROOT / "deploy/grafana/leadflow-dashboard.json")
    alertmanager = (ROOT / "deploy/alertmanager/alertmanager.yml").read_text()
    for secret in services["alertmanager"]["secrets"]:
        assert secret["target"] in alertmanager


def test_missing_secret_is_refused() -> None:
    result = render({k: v for k, v in SECRETS.items() if k != "LEADFLOW_SECRET_KEY"})
    assert result.returncode != 0
    assert "LEADFLOW_SECRET_KEY" in result.stderr


def _stages(text: str) -> list[list[str]]:
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    stages: list[list[str]] = []
    for line in (raw.strip() for raw in lines):
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


def test_dockerfile_is_multi_stage_non_root_from_the_lock() -> None:
    stages = _stages(DOCKERFILE.read_text())
    assert len(stages) >= 2
    build, runtime = "\n".join(stages[0]), stages[-1]
    assert "COPY pyproject.toml uv.lock" in build and "uv sync --frozen --no-dev" in build
    assert not any(line.startswith("RUN") and "uv " in line for line in runtime)  # no resolver in the runtime
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert runtime[-1] == 'CMD ["leadflow", "serve"]'
    health = next(line for line in runtime if line.startswith("HEALTHCHECK"))
    assert "/health/ready" in health
    assert any("--from=build" in line and "/app/.venv" in line for line in runtime)


def test_docker_context_keeps_secrets_and_data_out() -> None:
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ignore[1:2] == ["*"] or "*" in ignore
    allowed = {line[1:] for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "uv.lock", "README.md", "src/"}
    assert Path(ROOT / "deploy/secrets/.gitignore").read_text().splitlines()[1] == "*"
