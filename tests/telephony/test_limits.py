"""Signed deliveries whose values do not fit the columns they are stored in are refused (422), never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Harness, problem
from tests.telephony.mango import KNOWN_LINE, post_payload
from tests.telephony.test_webhook import calls, requests_of, setup_line, tel

__all__ = ["tel"]

INT_MAX = 2**31 - 1
TALK = 946684800  # 2000-01-01, the earliest moment the parser takes


def _call(entry: str, line: str = KNOWN_LINE, caller: str = "79035550009") -> dict[str, Any]:
    return {
        "entry_id": entry,
        "timestamp": 1752566571,
        "call_state": "Appeared",
        "from": {"number": caller},
        "to": {"number": line, "line_number": line},
    }


def _summary(entry: str, *, talk: int, end: int, line: str = KNOWN_LINE) -> dict[str, Any]:
    return {
        "entry_id": entry,
        "call_direction": 1,
        "from": {"number": "79035550009"},
        "line_number": line,
        "create_time": talk,
        "talk_time": talk,
        "end_time": end,
        "entry_result": 1,
    }


async def test_entry_id_at_the_column_limit_creates_a_request(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    answer = await post_payload(tel.client, "call", _call("e" * 100))
    assert answer.status_code == 200, answer.text
    assert answer.json()["outcome"] == "created_request"
    [lead] = await requests_of(admin, "79035550009")
    assert lead["source"] == "telephony"


@pytest.mark.parametrize("length", [101, 128])
async def test_entry_id_longer_than_the_request_column_is_refused(tel: Harness, length: int) -> None:
    admin, _, _ = await setup_line(tel)
    body = problem(await post_payload(tel.client, "call", _call("e" * length)), 422, "malformed-webhook")
    assert [e["field"] for e in body["errors"]] == ["json.entry_id"]
    assert await calls(admin) == []
    assert await requests_of(admin, "79035550009") == []


async def test_duration_at_the_integer_limit_is_stored(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    answer = await post_payload(tel.client, "summary", _summary("long-1", talk=TALK, end=TALK + INT_MAX))
    assert answer.status_code == 200, answer.text
    [call] = await calls(admin)
    assert call["duration_s"] == INT_MAX


async def test_duration_past_the_integer_limit_is_refused(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    answer = await post_payload(tel.client, "summary", _summary("long-2", talk=TALK, end=TALK + INT_MAX + 1))
    body = problem(answer, 422, "malformed-webhook")
    assert [e["field"] for e in body["errors"]] == ["json.end_time"]
    assert await calls(admin) == []


async def test_line_at_the_column_limit_is_stored_and_one_past_is_refused(tel: Harness) -> None:
    admin, _, _ = await setup_line(tel)
    line = "sip:" + "a" * 124
    answer = await post_payload(tel.client, "call", _call("line-1", line=line))
    assert answer.status_code == 200, answer.text
    [call] = await calls(admin)
    assert call["line"] == line
    body = problem(await post_payload(tel.client, "call", _call("line-2", line=line + "a")), 422, "malformed-webhook")
    assert [e["field"] for e in body["errors"]] == ["json.to.line_number"]
    assert len(await calls(admin)) == 1


@pytest.mark.parametrize(
    ("event", "payload", "field"),
    [
        ("call", _call("nul\x00entry"), "json.entry_id"),
        ("call", _call("nul-line", line="sip:a\x00b"), "json.to.line_number"),
        ("summary", {**_summary("nul\x00sum", talk=TALK, end=TALK + 5)}, "json.entry_id"),
        ("summary", _summary("nul-sum", talk=TALK, end=TALK + 5, line="7958\x004440011"), "json.line_number"),
    ],
)
async def test_nul_in_a_stored_field_is_refused(tel: Harness, event: str, payload: dict[str, Any], field: str) -> None:
    admin, _, _ = await setup_line(tel)
    body = problem(await post_payload(tel.client, event, payload), 422, "malformed-webhook")
    assert field in [e["field"] for e in body["errors"]]
    assert await calls(admin) == []
