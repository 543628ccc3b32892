"""The console's shell without a browser: signing in (with the second factor, lockout and rate-limit answers), the
page session renewed from the refresh cookie (two tabs at once are not a theft, a real reuse still is), signing out,
CSRF, CSP, the language switch, the static files and their manifest, and the message catalogues."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import select, update

from leadflow.accounts.models import AuthSession, Role, User
from leadflow.console import assets
from leadflow.console.render import HOME
from tests.conftest import PASSWORD, Harness

CONSOLE = Path(__file__).resolve().parents[2] / "src" / "leadflow" / "console"
LOGIN_FORM = {"login": "", "password": PASSWORD, "next": "/"}


async def page_sign_in(h: Harness, login: str, **extra: str) -> httpx.Response:
    return await h.client.post("/login", data={**LOGIN_FORM, "login": login, **extra})


def csrf(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["csrf_token"], "HX-Request": "true"}


async def test_signed_out_a_page_redirects_to_sign_in_and_back(h: Harness) -> None:
    response = await h.client.get("/")
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert (await h.client.get("/?x=1")).headers["location"] == "/login?next=/%3Fx%3D1"
    fragment = await h.client.get(
        "/", headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/board?day=1"}
    )
    assert fragment.status_code == 401
    assert fragment.headers["hx-redirect"] == "/login?next=/board%3Fday%3D1"

    page = await h.client.get("/login?next=/requests%3Fstatus%3Dnew")
    assert page.status_code == 200
    assert 'name="next" value="/requests?status=new"' in page.text
    user = await h.user(Role.director)
    signed = await h.client.post(
        "/login", data={"login": user.login, "password": PASSWORD, "next": "/requests?status=new"}
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/requests?status=new"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", ""])
async def test_only_a_path_of_this_site_is_a_place_to_come_back_to(h: Harness, target: str) -> None:
    user = await h.user(Role.operator)
    response = await h.client.post("/login", data={"login": user.login, "password": PASSWORD, "next": target})
    assert response.status_code == 303
    assert response.headers["location"] == "/intake"


@pytest.mark.parametrize("role", list(Role))
async def test_each_role_lands_on_its_home_page(h: Harness, role: Role) -> None:
    city = await h.city()
    user = await (h.user(role, master_city=city.id) if role is Role.master else h.user(role, cities=[city.id]))
    response = await page_sign_in(h, user.login)
    assert response.status_code == 303
    assert response.headers["location"] == HOME[role]
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    for name in ("access_token", "refresh_token"):
        assert "HttpOnly" in cookies[name] and "Path=/;" in cookies[name] and "SameSite=lax" in cookies[name]
    assert "HttpOnly" not in cookies["csrf_token"]  # the page's script sends it back as a header
    again = await h.client.get("/")
    assert again.status_code == 303 and again.headers["location"] == HOME[role]


async def test_a_wrong_password_is_refused_next_to_the_form_keeping_the_login(h: Harness) -> None:
    user = await h.user(Role.operator)
    response = await h.client.post("/login", data={"login": user.login, "password": "not-the-password", "next": "/"})
    assert response.status_code == 401
    assert "Неверный логин или пароль." in response.text
    assert f'value="{user.login}"' in response.text
    assert "not-the-password" not in response.text
    assert "access_token" not in response.headers.get("set-cookie", "")


async def test_a_locked_login_shows_a_countdown_from_retry_after(h: Harness) -> None:
    user = await h.user(Role.operator)
    for _ in range(h.settings.login_max_failures):
        await h.client.post("/login", data={"login": user.login, "password": "wrong-password-1", "next": "/"})
    locked = await page_sign_in(h, user.login)
    assert locked.status_code == 423
    seconds = int(locked.headers["retry-after"])
    assert f'data-countdown="{seconds}"' in locked.text
    assert "data-countdown-disables" in locked.text


async def test_the_per_address_limit_shows_a_countdown(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(login_rate_limit_per_minute=2)
    user = await h.user(Role.operator)
    answers = [await page_sign_in(h, user.login) for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [303, 303]
    assert answers[2].status_code == 429
    assert "data-countdown=" in answers[2].text


async def test_the_second_factor_is_a_second_step(h: Harness) -> None:
    user = await h.user(Role.director)
    secret = pyotp.random_base32()
    async with h.database.session() as session:
        await session.execute(update(User).where(User.id == user.id).values(totp_secret=secret))
        await session.commit()
    first = await page_sign_in(h, user.login)
    assert first.status_code == 401
    assert 'name="otp"' in first.text and 'autocomplete="one-time-code"' in first.text
    wrong = await page_sign_in(h, user.login, otp="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 401 and 'name="otp"' in wrong.text
    right = await page_sign_in(h, user.login, otp=pyotp.TOTP(secret).now())
    assert right.status_code == 303 and right.headers["location"] == "/board"


async def test_an_expired_access_token_is_renewed_on_a_page_load(h: Harness) -> None:
    user = await h.user(Role.operator)
    await page_sign_in(h, user.login)
    old_refresh = h.client.cookies["refresh_token"]
    h.client.cookies.delete("access_token")  # as the browser does when it expires
    response = await h.client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/intake"
    assert h.client.cookies["access_token"]
    assert h.client.cookies["refresh_token"] != old_refresh  # rotated


async def test_two_tabs_renewing_at_once_keep_the_session_but_a_late_reuse_closes_it(h: Harness) -> None:
    user = await h.user(Role.operator)
    await page_sign_in(h, user.login)
    refresh = h.client.cookies["refresh_token"]
    tabs = [h.new_client(cookies={"refresh_token": refresh}) for _ in range(2)]
    answers = await asyncio.gather(*(tab.get("/") for tab in tabs))
    assert [a.status_code for a in answers] == [303, 303]
    assert all(a.headers["location"] == "/intake" for a in answers)
    assert all("access_token=" in a.headers.get("set-cookie", "") for a in answers)
    # Exactly one tab rotated the refresh token; the other kept it (no second rotation).
    rotated = [a for a in answers if "refresh_token=" in a.headers.get("set-cookie", "")]
    assert len(rotated) == 1
    async with h.database.session() as session:
        row = await session.scalar(select(AuthSession).where(AuthSession.user_id == user.id))
        assert row is not None and row.revoked_at is None and row.generation == 1
        # Later, the old token comes back: that is a reuse, and the session is closed.
        await session.execute(
            update(AuthSession)
            .where(AuthSession.id == row.id)
            .values(last_used_at=row.last_used_at - dt.timedelta(minutes=5))
        )
        await session.commit()
    late = await h.new_client(cookies={"refresh_token": refresh}).get("/")
    assert late.status_code == 303 and late.headers["location"] == "/login"
    async with h.database.session() as session:
        row = await session.scalar(select(AuthSession).where(AuthSession.user_id == user.id))
        assert row is not None and row.revoked_reason == "reuse"
    for tab in tabs:
        await tab.aclose()


async def test_sign_out_needs_the_csrf_header_and_closes_the_session(h: Harness) -> None:
    user = await h.user(Role.operator)
    await page_sign_in(h, user.login)
    refused = await h.client.post("/logout", headers={"HX-Request": "true"})
    assert refused.status_code == 403
    signed_out = await h.client.post("/logout", headers=csrf(h.client))
    assert signed_out.status_code == 204 and signed_out.headers["hx-redirect"] == "/login"
    assert (await h.client.get("/")).headers["location"] == "/login"


async def test_sign_out_everywhere_closes_every_session(h: Harness) -> None:
    user = await h.user(Role.operator)
    other = h.new_client()
    await other.post("/login", data={**LOGIN_FORM, "login": user.login})
    await page_sign_in(h, user.login)
    assert (await h.client.post("/logout/everywhere", headers=csrf(h.client))).status_code == 204
    assert (await other.get("/")).headers["location"] == "/login"
    async with h.database.session() as session:
        live = await session.scalars(
            select(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        )
        assert list(live) == []
    await other.aclose()


async def test_pages_have_their_own_csp_and_the_api_keeps_its_own(h: Harness) -> None:
    page = await h.client.get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text and " style=" not in page.text and " onclick=" not in page.text
    api = await h.client.get("/api/v1/auth/me")
    assert api.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


async def test_language_russian_by_default_english_by_header_or_switch(h: Harness) -> None:
    assert '<html lang="ru">' in (await h.client.get("/login")).text
    english = await h.client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Sign in" in english.text
    switched = await h.client.get("/lang/en?next=/login")
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    assert '<html lang="en">' in (await h.client.get("/login")).text
    assert (await h.client.get("/lang/de")).status_code == 404


async def test_static_files_are_content_hashed_cached_and_not_rate_limited(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(rate_limit_per_minute=3)
    url = assets.url("js/console.js")
    digest = hashlib.sha256((assets.STATIC / "js/console.js").read_bytes()).hexdigest()[:12]
    assert url == f"/static/{digest}/js/console.js"
    answers = [await h.client.get(url) for _ in range(6)]
    assert {a.status_code for a in answers} == {200}
    assert answers[0].headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answers[0].headers["content-type"].startswith("text/javascript")
    assert (await h.client.get("/static/000000000000/js/console.js")).status_code == 404
    assert (await h.client.get(f"/static/{digest}/..%2Fi18n.py")).status_code == 404


def test_vendored_files_match_their_manifest() -> None:
    vendor = CONSOLE / "static" / "vendor"
    manifest = json.loads((vendor / "manifest.json").read_text())
    listed = {entry["file"] for entry in manifest["files"]}
    on_disk = {p.name for p in vendor.iterdir() if p.is_file() and p.name != "manifest.json"}
    assert listed == on_disk
    for entry in manifest["files"]:
        assert hashlib.sha256((vendor / entry["file"]).read_bytes()).hexdigest() == entry["sha256"], entry["file"]
        assert entry["version"] in entry["file"] and entry["license"]
        assert (vendor / entry["license_file"]).is_file()


def test_both_catalogues_have_the_same_keys_and_every_used_key() -> None:
    ru = json.loads((CONSOLE / "messages" / "ru.json").read_text(encoding="utf-8"))
    en = json.loads((CONSOLE / "messages" / "en.json").read_text(encoding="utf-8"))
    assert set(ru) == set(en)
    assert all(ru[k].strip() and en[k].strip() for k in ru)
    used: set[str] = set()
    for source in [*CONSOLE.rglob("*.html"), *CONSOLE.rglob("*.py")]:
        used.update(re.findall(r"""\bt\(\s*["']([a-z0-9_]+\.[a-z0-9_.]+)["']""", source.read_text(encoding="utf-8")))
    assert used, "no keys found"
    dynamic = {
        key for key in used if key.endswith(("_", "."))
    }  # a prefix completed in the template ("errors.text_" ~ status)
    assert sorted(used - dynamic - set(ru)) == []
    assert all(any(k.startswith(prefix) for k in ru) for prefix in dynamic)


async def test_an_admin_without_the_required_second_factor_can_still_sign_out(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(require_2fa_for_admins=True)
    admin = await h.user(Role.admin)
    assert (await page_sign_in(h, admin.login)).status_code == 303
    refused = await h.client.get("/requests")
    assert refused.status_code == 403 and "<html" in refused.text
    signed_out = await h.client.post("/logout", headers=csrf(h.client))
    assert signed_out.status_code == 204 and signed_out.headers["hx-redirect"] == "/login"
    assert (await h.client.get("/")).headers["location"] == "/login"
