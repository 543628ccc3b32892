"""Auth, users and masters endpoints."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from pydantic import BaseModel, Field

from leadflow.accounts import schemas
from leadflow.accounts.auth import AuthService, IssuedSession
from leadflow.accounts.models import Role, User, UserStatus
from leadflow.accounts.policies import (
    AdminOnly,
    Principal,
    SignedIn,
    UserManager,
    check_csrf,
    current_principal,
    require_roles,
)
from leadflow.accounts.service import UserService, passport_visible
from leadflow.administration.dependencies import Runtime
from leadflow.audit import service as audit
from leadflow.platform.api import API_PREFIX
from leadflow.platform.client import Client
from leadflow.platform.dependencies import AppSettings, LimiterDep, Paging, Session, get_settings
from leadflow.platform.params import IdPath, IdQuery, SearchQuery
from leadflow.platform.problems import (
    PROBLEM_RESPONSES,
    RateLimited,
    Unauthenticated,
    ValidationProblem,
)
from leadflow.platform.ratelimit import per_minute
from leadflow.platform.schemas import InputModel, Page

AUTH_PATH = f"{API_PREFIX}/auth"

auth_router = APIRouter(prefix=AUTH_PATH, tags=["auth"], responses=PROBLEM_RESPONSES)
users_router = APIRouter(prefix=API_PREFIX, tags=["users"], responses=PROBLEM_RESPONSES)

MasterReaders = Annotated[Principal, Depends(require_roles(Role.admin, Role.director, Role.operator, Role.master))]


def _auth(request: Request) -> AuthService:
    return request.app.state.auth


def _users(request: Request) -> UserService:
    return request.app.state.users


Auth = Annotated[AuthService, Depends(_auth)]
Users = Annotated[UserService, Depends(_users)]


async def login_rate_limit(request: Request, limiter: LimiterDep, settings: AppSettings) -> None:
    """The per-address limit of the sign-in endpoints, on top of the per-login lockout."""
    amount = settings.login_rate_limit_per_minute
    decision = await limiter.hit(per_minute(amount), "login", str(request.state.client_ip))
    if not decision.allowed:
        raise RateLimited(decision.retry_after, "Too many sign-in attempts from this address; wait a minute.")


LoginLimited = Depends(login_rate_limit)


# Shaping --------------------------------------------------------------------------------------------------------
def user_out(user: User, viewer: Principal | None) -> schemas.UserOut:
    master: dict[str, Any] | None = None
    if user.master is not None:
        master = schemas.MasterProfileDetail.model_validate(user.master, from_attributes=True).model_dump()
        if viewer is None or not passport_visible(viewer, user):
            master["passport"] = None
    return schemas.UserOut(
        id=user.id,
        login=user.login,
        full_name=user.full_name,
        role=Role(user.role),
        status=UserStatus(user.status),
        city_ids=user.city_ids,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        master=master,
        two_factor_enabled=bool(user.totp_secret),
    )


def master_out(user: User, viewer: Principal, detail: bool) -> dict[str, Any]:
    assert user.master is not None
    data = {
        "id": user.id,
        "login": user.login,
        "full_name": user.full_name,
        "status": user.status,
        "city_id": user.master.city_id,
        "phone": user.master.phone,
        "birth_date": user.master.birth_date,
        "telegram_chat_id": user.master.telegram_chat_id,
        "company_share": user.master.company_share,
        "notes": user.master.notes,
    }
    if detail:
        data["passport"] = user.master.passport if passport_visible(viewer, user) else None
    return data


def _set_session_cookies(response: Response, request: Request, issued: IssuedSession) -> None:
    settings = get_settings(request)
    cookies = (  # name, value, lifetime, hidden from scripts, path
        ("access_token", issued.access_token, settings.access_token_ttl_s, True, "/"),
        ("refresh_token", issued.refresh_token, settings.refresh_token_ttl_s, True, AUTH_PATH),
        ("csrf_token", issued.csrf_token, settings.refresh_token_ttl_s, False, "/"),  # read by the page's script
    )
    for name, value, max_age, httponly, path in cookies:
        response.set_cookie(
            name, value, max_age=max_age, httponly=httponly, secure=settings.secure_cookies, samesite="lax", path=path
        )


def _clear_session_cookies(response: Response) -> None:
    response.delete_cookie("access_token", path="/")
    response.delete_cookie("refresh_token", path=AUTH_PATH)
    response.delete_cookie("csrf_token", path="/")


# Auth -----------------------------------------------------------------------------------------------------------
@auth_router.post(
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
    _set_session_cookies(response, request, issued)
    user = await _users(request).get_self(session, issued.user.id)
    return schemas.LoginResult(user=user_out(user, None))


@auth_router.post(
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
        access_token=issued.access_token, refresh_token=issued.refresh_token, expires_in=issued.expires_in
    )


@auth_router.post(
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
            access_token=issued.access_token, refresh_token=issued.refresh_token, expires_in=issued.expires_in
        )
    cookie = request.cookies.get("refresh_token")
    if not cookie:
        raise Unauthenticated("No refresh token: send {refresh_token} or the refresh cookie.")
    session_id = auth.session_of_refresh_token(cookie)
    if session_id is None:
        raise Unauthenticated("The refresh token is invalid; sign in again.", type="invalid-token")
    check_csrf(request, auth.signer, session_id)
    issued = await auth.refresh(session, cookie, client)
    _set_session_cookies(response, request, issued)
    user = await _users(request).get_self(session, issued.user.id)
    return schemas.LoginResult(user=user_out(user, None))


@auth_router.post("/logout", status_code=204, response_class=Response, summary="Sign out (revokes the session)")
async def logout(
    request: Request, session: Session, auth: Auth, client: Client, body: schemas.RefreshBody | None = None
) -> Response:
    session_id: str | None = None
    user_id: int | None = None
    if body is not None and body.refresh_token:
        session_id = await auth.genuine_session(session, body.refresh_token)
    elif request.headers.get("authorization") or request.cookies.get("access_token"):
        principal = await current_principal(request, session, auth.signer, get_settings(request))  # checks CSRF
        session_id, user_id = principal.session_id, principal.id
    elif request.cookies.get("refresh_token"):
        session_id = await auth.genuine_session(session, request.cookies["refresh_token"])
        check_csrf(request, auth.signer, session_id)
    else:
        raise Unauthenticated()
    await auth.logout(session, session_id, user_id, client)
    response = Response(status_code=204)
    _clear_session_cookies(response)
    return response


@auth_router.get("/me", response_model=schemas.UserOut, summary="The signed-in user")
async def me(principal: SignedIn, session: Session, request: Request) -> schemas.UserOut:
    user = await _users(request).get_self(session, principal.id)
    return user_out(user, principal)


@auth_router.post("/password", status_code=204, response_class=Response, summary="Change your own password")
async def change_password(
    body: schemas.PasswordChange, principal: SignedIn, session: Session, auth: Auth, client: Client
) -> Response:
    await auth.change_password(session, principal, body.current_password, body.new_password, client)
    return Response(status_code=204)


class TotpSetup(BaseModel):
    secret: str
    otpauth_uri: str


class TotpCode(InputModel):
    code: str = Field(min_length=6, max_length=20)


class TotpDisable(InputModel):
    password: schemas.RawPassword
    otp: str = Field(min_length=6, max_length=20, description="A current code or an unused recovery code.")


class RecoveryCodes(BaseModel):
    recovery_codes: list[str]


@auth_router.post("/2fa/setup", response_model=TotpSetup, summary="Start TOTP set-up (returns the secret once)")
async def totp_setup(principal: SignedIn, session: Session, auth: Auth, client: Client) -> TotpSetup:
    secret, uri = await auth.totp_setup(session, principal, client)
    return TotpSetup(secret=secret, otpauth_uri=uri)


@auth_router.post("/2fa/confirm", response_model=RecoveryCodes, summary="Confirm TOTP with a code")
async def totp_confirm(
    body: TotpCode, principal: SignedIn, session: Session, auth: Auth, client: Client
) -> RecoveryCodes:
    codes = await auth.totp_confirm(session, principal, body.code, client)
    return RecoveryCodes(recovery_codes=codes)


@auth_router.post("/2fa/disable", status_code=204, response_class=Response, summary="Turn TOTP off")
async def totp_disable(
    body: TotpDisable, principal: SignedIn, session: Session, auth: Auth, client: Client
) -> Response:
    await auth.totp_disable(session, principal, body.password, body.otp, client)
    return Response(status_code=204)


# Users ----------------------------------------------------------------------------------------------------------
@users_router.get("/users", response_model=Page[schemas.UserListItem], summary="List accounts in your scope")
async def list_users(
    principal: UserManager,
    session: Session,
    users: Users,
    paging: Paging,
    role: Role | None = None,
    status: UserStatus | None = None,
    city_id: IdQuery = None,
    q: SearchQuery = None,
) -> dict[str, Any]:
    rows, total = await users.list_users(session, principal, paging, role=role, status=status, city_id=city_id, q=q)
    return paging.envelope(rows, total)


@users_router.post("/users", response_model=schemas.UserOut, status_code=201, summary="Create an account")
async def create_user(
    body: schemas.UserCreate, principal: UserManager, session: Session, users: Users, client: Client
) -> schemas.UserOut:
    user = await users.create_user(session, principal, body, client)
    return user_out(user, principal)


@users_router.get("/users/{user_id}", response_model=schemas.UserOut, summary="Get an account")
async def get_user(user_id: IdPath, principal: UserManager, session: Session, users: Users) -> schemas.UserOut:
    return user_out(await users.get_user(session, principal, user_id), principal)


@users_router.patch("/users/{user_id}", response_model=schemas.UserOut, summary="Change an account")
async def update_user(
    user_id: IdPath, body: schemas.UserUpdate, principal: UserManager, session: Session, users: Users, client: Client
) -> schemas.UserOut:
    return user_out(await users.update_user(session, principal, user_id, body, client), principal)


@users_router.delete("/users/{user_id}", status_code=204, response_class=Response, summary="Delete an account")
async def delete_user(
    user_id: IdPath, principal: UserManager, session: Session, users: Users, client: Client
) -> Response:
    await users.delete_user(session, principal, user_id, client)
    return Response(status_code=204)


@users_router.post(
    "/users/{user_id}/password",
    status_code=204,
    response_class=Response,
    summary="Reset an account's password (ends its sessions)",
)
async def reset_password(
    user_id: IdPath, body: schemas.PasswordReset, principal: UserManager, session: Session, users: Users, client: Client
) -> Response:
    await users.reset_password(session, principal, user_id, body.password, client)
    return Response(status_code=204)


@users_router.post("/users/{user_id}/block", response_model=schemas.UserOut, summary="Block an account")
async def block_user(
    user_id: IdPath, principal: UserManager, session: Session, users: Users, client: Client
) -> schemas.UserOut:
    return user_out(await users.set_status(session, principal, user_id, UserStatus.blocked, client), principal)


@users_router.post("/users/{user_id}/unblock", response_model=schemas.UserOut, summary="Unblock an account")
async def unblock_user(
    user_id: IdPath, principal: UserManager, session: Session, users: Users, client: Client
) -> schemas.UserOut:
    return user_out(await users.set_status(session, principal, user_id, UserStatus.active, client), principal)


# Masters --------------------------------------------------------------------------------------------------------
@users_router.get("/masters", response_model=Page[schemas.MasterListItem], summary="List masters in your scope")
async def list_masters(
    principal: MasterReaders,
    session: Session,
    users: Users,
    paging: Paging,
    city_id: IdQuery = None,
    status: UserStatus | None = None,
    q: SearchQuery = None,
) -> dict[str, Any]:
    rows, total = await users.list_masters(session, principal, paging, city_id=city_id, status=status, q=q)
    return paging.envelope([master_out(u, principal, detail=False) for u in rows], total)


@users_router.get("/masters/{master_id}", response_model=schemas.MasterOut, summary="Get a master profile")
async def get_master(master_id: IdPath, principal: MasterReaders, session: Session, users: Users) -> dict[str, Any]:
    return master_out(await users.get_master(session, principal, master_id), principal, detail=True)


@users_router.patch("/masters/{master_id}", response_model=schemas.MasterOut, summary="Change a master profile")
async def update_master(
    master_id: IdPath,
    body: schemas.MasterUpdate,
    principal: UserManager,
    session: Session,
    users: Users,
    client: Client,
) -> dict[str, Any]:
    user = await users.update_master(session, principal, master_id, body, client)
    return master_out(user, principal, detail=True)


@users_router.get(
    "/audit-log",
    response_model=Page[schemas.AuditEntryOut],
    summary="Security-relevant actions, newest first (admin)",
    description="Logins (ok, failed, locked), logouts, password and role changes, blocks, 2FA and settings changes.",
)
async def audit_log(
    _: AdminOnly,
    session: Session,
    paging: Paging,
    runtime: Runtime,
    action: Annotated[str | None, Query(max_length=50)] = None,
    actor_id: IdQuery = None,
    result: Annotated[str | None, Query(max_length=20)] = None,
    login: Annotated[str | None, Query(max_length=100)] = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> dict[str, Any]:
    rows, total = await audit.list_entries(
        session,
        paging,
        zone=runtime.business_timezone,
        action=action,
        actor_id=actor_id,
        result=result,
        login=login,
        date_from=date_from,
        date_to=date_to,
    )
    return paging.envelope(rows, total)
