"""GET /metrics (SPEC §10): who may scrape, route templates as labels, the counters the alerts rely on really move,
and several server processes answer as one (multiprocess mode)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.cli.servers import cli_env, start_server
from tests.conftest import Harness, problem
from tests.requests.helpers import create, team


def samples(text: str, name: str, **labels: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def label_values(text: str, name: str, label: str) -> set[str]:
    return {
        s.labels[label]
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and label in s.labels
    }


async def test_loopback_scrapes_and_routes_are_templates(h: Harness) -> None:
    t = await team(h)
    req = await create(t.operator, t.city.id)
    assert (await h.app.state.jobs.run_now("metrics.business")).status == "ok"  # the job computes the gauges
    assert (await t.operator.get(f"/api/v1/requests/{req['id']}")).status_code == 200
    assert (await t.operator.get("/api/v1/no/such/path/123")).status_code == 404
    response = await h.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    routes = label_values(response.text, "http_requests_total", "route")
    assert "/api/v1/requests/{request_id}" in routes
    assert "unmatched" in routes
    assert not any(route.rstrip("/").split("/")[-1].isdigit() for route in routes), routes
    assert samples(response.text, "http_requests_total", route="/api/v1/requests/{request_id}", status="200") >= 1
    assert samples(response.text, "http_request_duration_seconds_count", route="/api/v1/requests/{request_id}") >= 1
    # Pool, statements, process, build, business gauges.
    assert samples(response.text, "leadflow_db_query_duration_seconds_count", operation="select") > 0
    assert "leadflow_db_pool_checked_out" in response.text
    assert "process_resident_memory_bytes" in response.text or "process_cpu_seconds_total" in response.text
    assert samples(response.text, "leadflow_build_info") == 1
    assert samples(response.text, "leadflow_requests", city=t.city.name, status="new") == 1
    assert samples(response.text, "leadflow_business_snapshot_timestamp_seconds") > 0


async def test_a_scrape_does_not_need_the_database(harness_factory: Any) -> None:
    """The HTTP, pool and cache metrics matter most when the database is down: a scrape never touches it."""
    h: Harness = await harness_factory(database_url="postgresql+asyncpg://postgres@127.0.0.1:9/none")
    assert (await h.client.get("/api/v1/cities")).status_code in (401, 503)
    response = await h.client.get("/metrics")
    assert response.status_code == 200
    assert "http_requests_total" in response.text
    # No snapshot yet: the gauge has no sample (absent, not 0).
    assert "\nleadflow_business_snapshot_timestamp_seconds " not in response.text


async def test_other_addresses_are_refused_unless_allowed(harness_factory: Any) -> None:
    h: Harness = await harness_factory()
    problem(await h.new_client(ip="203.0.113.9").get("/metrics"), 403, "forbidden")
    allowed: Harness = await harness_factory(metrics_allow="10.0.0.0/8,127.0.0.1")
    assert allowed.settings.metrics_allow[0] == ipaddress.ip_network("10.0.0.0/8")
    assert (await allowed.new_client(ip="10.2.3.4").get("/metrics")).status_code == 200
    problem(await allowed.new_client(ip="192.168.1.1").get("/metrics"), 403)


async def test_a_token_is_required_when_set(harness_factory: Any) -> None:
    h: Harness = await harness_factory(metrics_token="s3cret-scrape-token-0123456789")
    problem(await h.client.get("/metrics"), 401)  # loopback is not enough once a token is set
    problem(await h.client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401)
    problem(await h.client.get("/metrics", headers={"Authorization": "Basic s3cret-scrape-token-0123456789"}), 401)
    far = h.new_client(ip="198.51.100.7", headers={"Authorization": "Bearer s3cret-scrape-token-0123456789"})
    assert (await far.get("/metrics")).status_code == 200


async def test_security_counters_move(harness_factory: Any) -> None:
    h: Harness = await harness_factory(
        rate_limit_per_minute=3, mango_api_key="k" * 16, mango_api_salt="s" * 16, login_max_failures=2
    )
    before = (await h.client.get("/metrics")).text
    user = await h.user("operator")
    for _ in range(2):
        wrong = await h.client.post("/api/v1/auth/token", data={"username": user.login, "password": "wrong-password!"})
        assert wrong.status_code == 401
    signed = await h.as_user(await h.user("admin"))
    statuses = [(await signed.get("/api/v1/auth/me")).status_code for _ in range(4)]
    assert statuses[-1] == 429
    bad = await h.client.post(
        "/api/v1/telephony/mango/events/call",
        content="vpbx_api_key=kkkkkkkkkkkkkkkk&sign=00&json=%7B%7D",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert bad.status_code == 403
    after = (await h.client.get("/metrics")).text
    assert samples(after, "leadflow_login_failures_total") - samples(before, "leadflow_login_failures_total") == 2
    assert samples(after, "leadflow_login_lockouts_total") - samples(before, "leadflow_login_lockouts_total") == 1
    assert samples(after, "leadflow_rate_limited_total", bucket="user") > samples(
        before, "leadflow_rate_limited_total", bucket="user"
    )
    assert samples(after, "leadflow_webhook_events_total", outcome="bad_signature") > samples(
        before, "leadflow_webhook_events_total", outcome="bad_signature"
    )


def test_several_server_processes_answer_as_one(database_url: str, tmp_path: Path, redis_url: str) -> None:
    env = cli_env(database_url, tmp_path / "data", redis_url=redis_url)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = start_server(env, args=("--workers", "2"))
    try:
        with httpx.Client(base_url=server.url) as client:
            for _ in range(40):  # new connections: spread over both processes
                assert httpx.get(f"{server.url}/health/live").status_code == 200
            for _ in range(6):  # whichever process answers the scrape, it counts all 40
                text = client.get("/metrics").text
                assert samples(text, "http_requests_total", route="/health/live", status="200") >= 40
                assert samples(text, "leadflow_build_info") == 1
        # Both processes wrote samples (one file per metric type and process id).
        pids = {p.stem.rsplit("_", 1)[-1] for p in (tmp_path / "data" / "prometheus").glob("counter_*.db")}
        assert len(pids) >= 2, pids
    finally:
        assert server.stop() == 0
