"""Rendering a page or a fragment: one Jinja2 environment (autoescaped), the request's language, the signed-in user
and the navigation their role has."""

from __future__ import annotations

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

TEMPLATES = Path(__file__).parent / "templates"
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


def html_response(html: str, *, status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    response = HTMLResponse(html, status_code=status_code, headers=headers)
    response.headers["Vary"] = "Cookie, Accept-Language"
    return response
