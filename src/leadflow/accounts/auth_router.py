"""Sign-in endpoints: login (with the 2FA step), tokens, refresh, logout, the signed-in user, own password, 2FA."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, Response

from leadflow.accounts import reads, schemas
from leadflow.accounts.auth import AuthService
from leadflow.accounts.cookies import clear_session_cookies, set_session_cookies
from leadflow.accounts.policies import SignedIn, check_csrf, current_principal
from leadflow.accounts.shaping import user_out
from leadflow.platform.api import API_PREFIX
from leadflow.platform.client import Client
from leadflow.platform.dependencies import AppSettings, LimiterDep, Session, component
from leadflow.platform.problems import PROBLEM_RESPONSES, RateLimited, Unauthenticated, ValidationProblem
from leadflow.platform.ratelimit import per_minute

AUTH_PATH = f"{API_PREFIX}/auth"

router = APIRouter(prefix=AUTH_PATH, tags=["auth"], responses=PROBLEM_RESPONSES)


Auth = Annotated[AuthService, Depends(component("auth", AuthService))]


async def login_rate_limit(request: Request, limiter: LimiterDep, settings: AppSettings) -> None:
    """The per-address limit of the sign-in endpoints, on top of the per-login lockout."""
    amount = settings.login_rate_limit_per_minute
    decision = await limiter.hit(per_minute(amount), "login", str(request.state.client_ip))
    if not decision.allowed:
        raise RateLimited(decision.retry_after, "Too many sign-in attempts from this address; wait a minute.")


LoginLimited = Depends(login_rate_limit)


@router.post(
    "/login",
    response_model=schemas.LoginResult,
    dependencies=[LoginLimited],
    summary="Sign in (browser)",
    description="Sets the `access_token`, `refresh_token` and `csrf_token` cookies. Tokens never appear in the body.",
    responses={401: {"description": "Wrong login or password"}, 423: {"description": "Login locked"}},
)
async def login(
    body: schemas.LoginBody, request: Request, response: Response, session: Session, auth: Auth, client: Client
) -> schemas.LoginResult:
    issued = await auth.login(session, body.login, body.password, body.otp, client, "browser")
    set_session_cookies(response, request.app.state.settings, issued)
    user = await reads.get_self(session, issued.user.id)
    return schemas.LoginResult(user=user_out(user, None))


@router.post(
    "/token",
    response_model=schemas.TokenPair,
    dependencies=[LoginLimited],
    summary="Get tokens (API clients, OAuth2 password form)",
)
async def token(
    session: Session,
    auth: Auth,
    client: Client,
    username: Annotated[str, Form(min_length=1, max_length=100)],
    password: Annotated[str, Form(min_length=1, max_length=128)],
    otp: Annotated[str | None, Form(max_length=20)] = None,
) -> schemas.TokenPair:
    for name, value in (("username", username), ("password", password), ("otp", otp or "")):
        if "\x00" in value:
            raise ValidationProblem.field(name, "NUL characters are not allowed.")
    issued = await auth.login(session, username, password, otp, client, "api")
    return schemas.TokenPair(
        access_token=issued.access_token, refresh_token=str(issued.refresh_token), expires_in=issued.expires_in
    )


@router.post(
    "/refresh",
    summary="Rotate the refresh token",
    description=(
        "API clients send `{refresh_token}` and get a new pair. Browsers send nothing in the body: the refresh cookie "
        "is used, the `X-CSRF-Token` header is required, and new cookies are set. A reused refresh token closes "
        "the whole session."
    ),
    response_model=schemas.TokenPair | schemas.LoginResult,
)
async def refresh(
    request: Request,
    response: Response,
    session: Session,
    auth: Auth,
    client: Client,
    body: schemas.RefreshBody | None = None,
) -> Any:
    if body is not None and body.refresh_token:
        issued = await auth.refresh(session, body.refresh_token, client)
        return schemas.TokenPair(
            access_token=issued.access_token, refresh_token=str(issued.refresh_token), expires_in=issued.expires_in
        )
    cookie = request.cookies.get("refresh_token")
    if not cookie:
        raise Unauthenticated("No refresh token: send {refresh_token} or the refresh cookie.")
    session_id = auth.session_of_refresh_token(cookie)
    if session_id is None:
        raise Unauthenticated("The refresh token is invalid; sign in again.", type="invalid-token")
    check_csrf(request, auth.signer, session_id)
    issued = await auth.refresh(session, cookie, client, grace=True)
    set_session_cookies(response, request.app.state.settings, issued)
    user = await reads.get_self(session, issued.user.id)
    return schemas.LoginResult(user=user_out(user, None))


@router.post("/logout", status_code=204, response_class=Response, summary="Sign out (revokes the session)")
async def logout(
    request: Request, session: Session, auth: Auth, client: Client, body: schemas.RefreshBody | None = None
) -> Response:
    session_id: str | None = None
    user_id: int | None = None
    if body is not None and body.refresh_token:
        session_id = await auth.genuine_session(session, body.refresh_token)
    elif request.headers.get("authorization") or request.cookies.get("access_token"):
        principal = await current_principal(
            request, session, auth.signer, request.app.state.settings, request.app.state.cache
        )  # checks CSRF
        session_id, user_id = principal.session_id, principal.id
    elif request.cookies.get("refresh_token"):
        session_id = await auth.genuine_session(session, request.cookies["refresh_token"])
        check_csrf(request, auth.signer, session_id)
    else:
        raise Unauthenticated()
    await auth.logout(session, session_id, user_id, client)
    response = Response(status_code=204)
    clear_session_cookies(response)
    return response


@router.get("/me", response_model=schemas.UserOut, summary="The signed-in user")
async def me(principal: SignedIn, session: Session) -> schemas.UserOut:
    user = await reads.get_self(session, principal.id)
    return user_out(user, principal)


@router.post("/password", status_code=204, response_class=Response, summary="Change your own password")
async def change_password(
    body: schemas.PasswordChange, principal: SignedIn, session: Session, auth: Auth, client: Client
) -> Response:
    await auth.change_password(session, principal, body.current_password, body.new_password, client)
    return Response(status_code=204)


@router.post("/2fa/setup", response_model=schemas.TotpSetup, summary="Start TOTP set-up (returns the secret once)")
async def totp_setup(principal: SignedIn, session: Session, auth: Auth, client: Client) -> schemas.TotpSetup:
    secret, uri = await auth.totp_setup(session, principal, client)
    return schemas.TotpSetup(secret=secret, otpauth_uri=uri)


@router.post(
    "/2fa/confirm",
    response_model=schemas.RecoveryCodes,
    summary="Confirm TOTP with a code and your password",
    description=(
        "Turns two-factor sign-in on. Needs a current code and your current password: a wrong password is 422 "
        "(field `password`) and counts against your login's lockout, like `POST /auth/password`."
    ),
    responses={423: {"description": "Login locked"}},
)
async def totp_confirm(
    body: schemas.TotpConfirm, principal: SignedIn, session: Session, auth: Auth, client: Client
) -> schemas.RecoveryCodes:
    codes = await auth.totp_confirm(session, principal, body.code, body.password, client)
    return schemas.RecoveryCodes(recovery_codes=codes)


@router.post("/2fa/disable", status_code=204, response_class=Response, summary="Turn TOTP off")
async def totp_disable(
    body: schemas.TotpDisable, principal: SignedIn, session: Session, auth: Auth, client: Client
) -> Response:
    await auth.totp_disable(session, principal, body.password, body.otp, client)
    return Response(status_code=204)
