"""The console's own routes: the role's home, signing in and out, the language switch and the static files.

The work pages (intake, work list, request card, board, the master's jobs) live in modules of their own beside this
one, each an ``APIRouter(route_class=PageRoute)`` gathered by :data:`routers`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from starlette.responses import RedirectResponse, Response

from leadflow.accounts.auth import AuthService
from leadflow.accounts.auth_router import login_rate_limit
from leadflow.accounts.cookies import clear_session_cookies, set_session_cookies
from leadflow.accounts.models import Role
from leadflow.console import assets
from leadflow.console.i18n import COOKIE, LANGUAGES
from leadflow.console.render import HOME, render
from leadflow.console.session import PageRoute, PageUser, safe_next
from leadflow.platform.client import Client
from leadflow.platform.dependencies import AppSettings, LimiterDep, Session, component
from leadflow.platform.problems import NotFound, Problem

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Auth = Annotated[AuthService, Depends(component("auth", AuthService))]
LOGIN_ERRORS = {  # problem type → message key; anything else is the generic refusal
    "login-locked": "login.locked",
    "rate-limited": "login.rate_limited",
    "login-busy": "login.busy",
    "otp-required": "login.otp_required",
    "account-blocked": "login.blocked",
}


@router.get("/")
async def home(user: PageUser) -> Response:
    return RedirectResponse(HOME[user.role], status_code=303)


@router.get("/login")
async def login_page(request: Request, next: str | None = None) -> Response:  # the query's name
    return render(request, "login.html", {"next": safe_next(next), "form": {"login": ""}, "error": None, "otp": False})


@router.post("/login")
async def login(
    request: Request,
    session: Session,
    auth: Auth,
    client: Client,
    limiter: LimiterDep,
    settings: AppSettings,
    login: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=128)] = "",
    otp: Annotated[str, Form(max_length=20)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = safe_next(next)
    form = {"login": login}
    try:
        if not login or not password or "\x00" in login + password + otp:
            return render(
                request,
                "login.html",
                {"next": target, "form": form, "error": "login.missing", "otp": bool(otp)},
                status_code=422,
            )
        await login_rate_limit(request, limiter, settings)  # the API's per-address sign-in limit, shared with it
        issued = await auth.login(session, login, password, otp or None, client, "browser")
    except Problem as problem:
        retry = problem.headers.get("Retry-After")
        otp_step = problem.slug in ("otp-required",) or bool(otp)
        context = {
            "next": target,
            "form": form,
            # the password is posted again with the code (the page is never stored: no-store)
            "password": password if otp_step else "",
            "error": LOGIN_ERRORS.get(problem.slug, "login.failed"),
            "otp": otp_step,
            "retry_after": int(retry) if retry and retry.isdigit() else None,
        }
        return render(request, "login.html", context, status_code=problem.status, headers=problem.headers)
    if target == "/":
        target = HOME[Role(issued.user.role)]
    response = RedirectResponse(target, status_code=303)
    set_session_cookies(response, settings, issued)
    return response


@router.post("/logout")
async def logout(session: Session, auth: Auth, client: Client, user: PageUser) -> Response:
    """Close this session (the page session has checked the CSRF header already)."""
    await auth.logout(session, user.session_id, user.id, client)
    response = Response(status_code=204, headers={"HX-Redirect": "/login"})
    clear_session_cookies(response)
    return response


@router.post("/logout/everywhere")
async def logout_everywhere(session: Session, auth: Auth, client: Client, user: PageUser) -> Response:
    await auth.logout_everywhere(session, user.id, client)
    response = Response(status_code=204, headers={"HX-Redirect": "/login"})
    clear_session_cookies(response)
    return response


@router.get("/lang/{code}")
async def switch_language(code: str, next: str | None = None) -> Response:
    if code not in LANGUAGES:
        raise NotFound("No such page.")
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


@router.get("/static/{digest}/{relative:path}")
async def static(digest: str, relative: str) -> Response:
    found = assets.find(digest, relative)
    if found is None:
        raise NotFound("No such page.")
    body, kind = found
    return Response(body, media_type=kind, headers={"Cache-Control": assets.IMMUTABLE})
