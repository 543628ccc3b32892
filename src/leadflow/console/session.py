"""Who is looking at a page: the cookie session of SPEC §11, renewed on the way when its access token has expired.

A page route depends on :data:`PageUser`. The access cookie is read as the API reads it (``load_principal``: account
status and token version on every request). When it has expired and the refresh cookie is there, the session is
renewed (``AuthService.refresh`` with the browser's rotation grace, so two tabs renewing at once are not taken for a
theft) and the page goes on; the new cookies are set on whatever the page answers (:class:`PageRoute`). With no
session, a page redirects to ``/login?next=<the page>``; an htmx fragment answers 401 with ``HX-Redirect`` there.
Unsafe requests carry the double-submit CSRF token (htmx sends the header on every request, ``console.js``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from leadflow.accounts.auth import AuthService
from leadflow.accounts.cookies import ACCESS, REFRESH, set_session_cookies
from leadflow.accounts.models import Role
from leadflow.accounts.policies import SAFE_METHODS, Principal, check_csrf, load_principal
from leadflow.administration.service import two_factor_required_for_admins
from leadflow.console.render import render
from leadflow.platform.client import client_info
from leadflow.platform.dependencies import AppSettings, CacheDep, Session, SignerDep, component
from leadflow.platform.problems import Forbidden, Problem
from leadflow.platform.security import TokenError

RENEWED = "renewed_session"
TWO_FACTOR_FREE = frozenset({"/logout", "/logout/everywhere"})


class SignInRequired(Exception):
    """No live session behind the page's cookies."""


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def safe_next(target: str | None) -> str:
    """Only a path of this site (never ``//host`` or a scheme) is a place to come back to after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def login_url(request: Request) -> str:
    here = request.headers.get("hx-current-url") if is_htmx(request) else None
    if here:
        parts = urlsplit(here)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
    else:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = safe_next(target)
    return "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"


async def page_principal(
    request: Request,
    session: Session,
    signer: SignerDep,
    settings: AppSettings,
    cache: CacheDep,
    auth: Annotated[AuthService, Depends(component("auth", AuthService))],
) -> Principal:
    principal: Principal | None = None
    token = request.cookies.get(ACCESS)
    if token:
        try:
            principal = await load_principal(session, signer.read_access_token(token), cache)
        except TokenError:
            principal = None
    if principal is None and request.cookies.get(REFRESH):
        try:
            issued = await auth.refresh(session, request.cookies[REFRESH], client_info(request), grace=True)
            principal = await load_principal(session, signer.read_access_token(issued.access_token))
            request.state.renewed_session = issued
        except (Problem, TokenError):
            principal = None
    if principal is None:
        raise SignInRequired
    if request.method not in SAFE_METHODS:
        check_csrf(request, signer, principal.session_id)
    request.state.user_id = principal.id
    if (
        principal.role is Role.admin
        and not principal.two_factor_enabled
        and request.url.path not in TWO_FACTOR_FREE  # signing out is always allowed, as in the API
        and await two_factor_required_for_admins(session, settings, cache)
    ):
        raise Forbidden("Administrators must turn on two-factor sign-in first.", type="two-factor-required")
    return principal


PageUser = Annotated[Principal, Depends(page_principal)]


class PageRoute(APIRoute):
    """A console route: a missing session becomes the way to the sign-in page, and a session renewed while the page
    was being made sets its new cookies on the answer, whatever the answer is."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                target = login_url(request)
                if is_htmx(request):
                    response = Response(status_code=401, headers={"HX-Redirect": target})
                else:
                    response = RedirectResponse(target, status_code=303)
            except Problem as problem:
                # The same page for a missing object and one outside the caller's scope (both are 404 below).
                template = "fragments/error.html" if is_htmx(request) else "error.html"
                response = render(request, template, {"problem": problem}, status_code=problem.status)
                response.headers.update(problem.headers)
            issued = getattr(request.state, RENEWED, None)
            if issued is not None:
                set_session_cookies(response, request.app.state.settings, issued)
            return response

        return page
