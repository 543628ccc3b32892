"""The provider's recorded payloads (``fixtures/mango``, copied from the shared fixture set with its README) and
helpers to deliver them to the webhook as the provider does: the form body exactly as recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from leadflow.telephony.mango import MangoProvider

FIXTURES = Path(__file__).parent / "fixtures" / "mango"
SIGNING = json.loads((FIXTURES / "signing.json").read_text())
API_KEY: str = SIGNING["vpbx_api_key"]
API_SALT: str = SIGNING["vpbx_api_salt"]
KNOWN_LINE = "79584440011"
UNKNOWN_LINE = "79587770000"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())  # type: ignore[no-any-return]


def scenario(folder: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((FIXTURES / folder).glob("*.json"))]


def url(item: dict[str, Any]) -> str:
    return "/api/v1/telephony/mango" + item["request"]["path"]


async def deliver(client: httpx.AsyncClient, item: dict[str, Any]) -> httpx.Response:
    return await client.post(url(item), content=item["request"]["body"], headers=FORM)


def signed_body(payload: str | dict[str, Any], *, key: str = API_KEY, salt: str = API_SALT) -> str:
    """A form body for any payload, signed as the provider signs (the json field exactly as sent)."""
    return MangoProvider(key, salt).delivery(payload)


async def post_payload(client: httpx.AsyncClient, event: str, payload: str | dict[str, Any]) -> httpx.Response:
    return await client.post(f"/api/v1/telephony/mango/events/{event}", content=signed_body(payload), headers=FORM)
