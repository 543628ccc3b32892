"""Signing in as a browser does (cookies, the CSRF double-submit header) for the work list and card tests."""

from __future__ import annotations

import re
from typing import Any

import httpx

from leadflow.accounts.models import User
from tests.conftest import PASSWORD, Harness


async def browser(h: Harness, user: User, lang: str = "en") -> httpx.AsyncClient:
    """A client signed in by cookies, speaking ``lang``, sending the CSRF header on unsafe requests (as console.js)."""
    client = h.new_client()
    response = await client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.cookies.set("lang", lang)
    return client


def csrf(client: httpx.AsyncClient, htmx: bool = True) -> dict[str, str]:
    headers = {"X-CSRF-Token": client.cookies["csrf_token"]}
    if htmx:
        headers["HX-Request"] = "true"
    return headers


def field_tag(html: str, name: str) -> str:
    """The opening tag of the form control named ``name`` (input, select or textarea)."""
    found = re.search(rf'<(input|select|textarea)[^>]*\bname="{re.escape(name)}"[^>]*>', html)
    assert found, f"no control {name!r}"
    return found.group(0)


def is_disabled(html: str, name: str) -> bool:
    return re.search(r"\sdisabled(\s|>|=)", field_tag(html, name)) is not None


def move_buttons(html: str) -> list[str]:
    return re.findall(r'data-move="([a-z_]+)"', html)


def form_of(html: str) -> dict[str, Any]:
    """The values the card's fields form would submit: enabled inputs, selected options, textareas."""
    form = html[html.index('<form id="fields"') : html.index("</form>", html.index('<form id="fields"'))]
    values: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if name and " disabled" not in tag:
            value = re.search(r'value="([^"]*)"', tag)
            values[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"(?![^>]*disabled)[^>]*>(.*?)</textarea>', form, re.S):
        values[name] = body
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"(?![^>]*disabled)[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        values[name] = chosen.group(1) if chosen else ""
    return values
