"""Rendering a page or a fragment: one Jinja2 environment (autoescaped), the request's language, the signed-in user
and the navigation their role has."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal
from leadflow.console import assets
from leadflow.console.i18n import COOKIE, Translator, pick_language
from leadflow.platform.cache import Cache

TEMPLATES = Path(__file__).parent / "templates"
FRAGMENT_TTL_S = 120  # a cached fragment outlives its minute by a little, never by hours
env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["asset"] = assets.url


@dataclass(frozen=True)
class NavItem:
    path: str
    label_key: str
    hotkey: str | None = None


# What each role's navigation shows, in order; the first is the role's home page (SPEC §14).
HOME = {
    Role.operator: "/intake",
    Role.director: "/board",
    Role.master: "/my",
    Role.marketer: "/requests",
    Role.admin: "/requests",
}
NAV: dict[Role, tuple[NavItem, ...]] = {
    Role.admin: (
        NavItem("/requests", "nav.work", "w"),
        NavItem("/intake", "nav.intake", "i"),
        NavItem("/board", "nav.board", "d"),
    ),
    Role.director: (
        NavItem("/board", "nav.board", "d"),
        NavItem("/requests", "nav.work", "w"),
        NavItem("/intake", "nav.intake", "i"),
    ),
    Role.operator: (NavItem("/intake", "nav.intake", "i"), NavItem("/requests", "nav.work", "w")),
    Role.marketer: (NavItem("/requests", "nav.work", "w"),),
    Role.master: (NavItem("/my", "nav.my"),),
}


def translator(request: Request) -> Translator:
    return Translator(pick_language(request.cookies.get(COOKIE), request.headers.get("accept-language")))


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    principal: Principal | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    html = render_text(request, template, context, principal=principal)
    return html_response(html, status_code=status_code, headers=headers)


def render_text(
    request: Request, template: str, context: dict[str, Any] | None = None, *, principal: Principal | None = None
) -> str:
    """The page or fragment as text (what :func:`render` answers; a fragment kept in the cache is kept as this)."""
    t = translator(request)
    values = {
        "request": request,
        "t": t,
        "lang": t.lang,
        "user": principal,
        "nav": NAV.get(principal.role, ()) if principal is not None else (),
        "path": request.url.path,
        **(context or {}),
    }
    return env.get_template(template).render(values)


async def cached_fragment(
    request: Request,
    cache: Cache,
    namespace: str,
    parts: dict[str, Any],
    tags: list[str],
    rendered: Callable[[], Awaitable[str]],
) -> HTMLResponse:
    """A fragment every open page of a scope refetches after each write (the intake queue, the board), rendered once
    per write for all of them: kept under ``parts`` plus the language and the minute (what moves with the clock, an
    overdue callback, the board's "now", is at most a minute old) until one of ``tags`` is bumped. ``parts`` must
    hold everything the fragment shows besides that: the role and scope, the search, the city and day."""
    key = {**parts, "lang": translator(request).lang, "minute": int(time.time() // 60)}
    html = await cache.get_or_compute(namespace, key, tags, rendered, ttl_s=FRAGMENT_TTL_S)
    return html_response(str(html))


def html_response(html: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response
