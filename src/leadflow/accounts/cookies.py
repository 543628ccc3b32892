"""The browser session's cookies, set and cleared in one place for the API's sign-in routes and the console's pages.

The refresh cookie's path is ``/``: a page load whose access token has expired renews it from the refresh cookie and
goes on (the console's page session), so the pages must receive it. It stays ``HttpOnly`` and ``SameSite=Lax``.
"""

from __future__ import annotations

from starlette.responses import Response

from leadflow.accounts.auth import IssuedSession
from leadflow.platform.api import API_PREFIX
from leadflow.platform.settings import Settings

ACCESS, REFRESH, CSRF = "access_token", "refresh_token", "csrf_token"
LEGACY_REFRESH_PATH = f"{API_PREFIX}/auth"  # where earlier versions kept the refresh cookie


def set_session_cookies(response: Response, settings: Settings, issued: IssuedSession) -> None:
    cookies = [  # name, value, lifetime, hidden from scripts
        (ACCESS, issued.access_token, settings.access_token_ttl_s, True),
        (CSRF, issued.csrf_token, settings.refresh_token_ttl_s, False),  # read by the page's script
    ]
    if issued.refresh_token is not None:  # None: the session kept its refresh token (a concurrent tab rotated it)
        cookies.append((REFRESH, issued.refresh_token, settings.refresh_token_ttl_s, True))
    for name, value, max_age, httponly in cookies:
        response.set_cookie(
            name, value, max_age=max_age, httponly=httponly, secure=settings.secure_cookies, samesite="lax", path="/"
        )


def clear_session_cookies(response: Response) -> None:
    for name in (ACCESS, REFRESH, CSRF):
        response.delete_cookie(name, path="/")
    response.delete_cookie(REFRESH, path=LEGACY_REFRESH_PATH)
