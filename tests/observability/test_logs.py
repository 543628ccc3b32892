"""Structured logs: one JSON event per request with request id, user, route template, status and latency;
phones and names masked; no secrets."""

from __future__ import annotations

import json
import logging

import pytest

from leadflow.accounts.models import Role
from leadflow.platform.logging import mask_phone, scrub_processor
from tests.conftest import PASSWORD, Harness


def test_masking() -> None:
    assert mask_phone("call 79161234567 now") == "call 7916*****67 now"
    assert mask_phone("+7 (916) 123-45-67") == "7916*****67"
    assert mask_phone("order 12345") == "order 12345"
    event = scrub_processor(
        None,
        "info",
        {
            "event": "x",
            "client_name": "Иван Петров",
            "password": "p",
            "refresh_token": "t",
            "data": {"phone": "89161234567"},
        },
    )
    assert event["client_name"] == "И*** П***"
    assert event["password"] == "[redacted]" and event["refresh_token"] == "[redacted]"
    assert event["data"]["phone"] == "8916*****67"


async def test_request_log_line(capsys: pytest.CaptureFixture[str], h: Harness) -> None:
    logging.getLogger().setLevel(logging.INFO)
    user = await h.user(Role.admin)
    api = await h.as_user(user)
    await api.get("/api/v1/cities/12345", headers={"X-Request-ID": "trace-me-1"})
    await h.client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    request = next(line for line in lines if line.get("request_id") == "trace-me-1" and line["event"] == "request")
    assert request["route"] == "/api/v1/cities/{row_id}"
    assert request["status"] == 404 and request["method"] == "GET"
    assert request["user_id"] == user.id and request["latency_ms"] >= 0
    everything = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    assert PASSWORD not in everything
    assert "eyJ" not in everything


def test_addresses_are_not_mistaken_for_phones() -> None:
    assert mask_phone("from 192.168.100.100") == "from 192.168.100.100"
    event = scrub_processor(None, "info", {"event": "request", "client_ip": "10.100.200.300"})
    assert event["client_ip"] == "10.100.200.300"
