"""The browser flow: cookies, CSRF double-submit, refresh rotation and reuse, logout."""

from __future__ import annotations

import httpx

from leadflow.accounts.models import Role
from tests.conftest import PASSWORD, Harness, problem


async def browser_login(h: Harness, login: str) -> httpx.AsyncClient:
    client = h.new_client()
    response = await client.post("/api/v1/auth/login", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return client


async def test_login_sets_cookies_and_no_token_in_body(h: Harness) -> None:
    user = await h.user(Role.admin)
    client = h.new_client()
    response = await client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["user"]["id"] == user.id
    for name in ("access_token", "refresh_token", "csrf_token"):
        assert name in response.cookies
        assert response.cookies[name] not in response.text
    cookies = {c.split("=", 1)[0]: c for c in response.headers.get_list("set-cookie")}
    assert "HttpOnly" in cookies["access_token"] and "SameSite=lax" in cookies["access_token"]
    assert "HttpOnly" in cookies["refresh_token"] and "Path=/;" in cookies["refresh_token"]
    assert "HttpOnly" not in cookies["csrf_token"]
    assert "Secure" not in cookies["access_token"]  # development default
    me = await client.get("/api/v1/auth/me")
    assert me.status_code == 200


async def test_secure_cookies_when_configured(harness_factory) -> None:  # type: ignore[no-untyped-def]
    h = await harness_factory(cookie_secure=True)
    user = await h.user(Role.operator)
    response = await h.client.post("/api/v1/auth/login", json={"login": user.login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookies = response.headers.get_list("set-cookie")
    assert {c.split("=", 1)[0] for c in cookies} == {"access_token", "refresh_token", "csrf_token"}
    assert all("Secure" in c for c in cookies)


async def test_csrf_required_for_cookie_writes_only(h: Harness) -> None:
    admin = await h.user(Role.admin)
    client = await browser_login(h, admin.login)
    body = {"name": "Тверь"}
    problem(await client.post("/api/v1/cities", json=body), 403, "csrf-failed")
    problem(
        await client.post("/api/v1/cities", json=body, headers={"X-CSRF-Token": "forged.value"}), 403, "csrf-failed"
    )
    # A token signed for another session does not pass either.
    other = await browser_login(h, admin.login)
    foreign = other.cookies["csrf_token"]
    problem(await client.post("/api/v1/cities", json=body, headers={"X-CSRF-Token": foreign}), 403, "csrf-failed")
    listing = await client.get("/api/v1/cities")  # safe methods need no token
    assert listing.json()["total"] == 0
    ok = await client.post("/api/v1/cities", json=body, headers={"X-CSRF-Token": client.cookies["csrf_token"]})
    assert ok.status_code == 201, ok.text
    # Bearer clients need no CSRF token at all.
    api = await h.as_user(admin)
    assert (await api.post("/api/v1/cities", json={"name": "Псков"})).status_code == 201


async def test_cookie_refresh_rotates_and_reuse_revokes_family(h: Harness) -> None:
    user = await h.user(Role.operator)
    client = await browser_login(h, user.login)
    old_refresh = client.cookies["refresh_token"]
    csrf = client.cookies["csrf_token"]
    problem(await client.post("/api/v1/auth/refresh"), 403, "csrf-failed")
    response = await client.post("/api/v1/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert response.status_code == 200, response.text
    new_refresh = client.cookies["refresh_token"]
    assert new_refresh != old_refresh
    assert "refresh_token" not in response.json()
    assert (await client.get("/api/v1/auth/me")).status_code == 200
    # Replaying the old token (a thief's copy) closes the whole session.
    thief = h.new_client()
    reuse = await thief.post("/api/v1/auth/refresh", json={"refresh_token": old_refresh})
    problem(reuse, 401, "refresh-token-reused")
    problem(await client.get("/api/v1/auth/me"), 401)
    problem(await client.post("/api/v1/auth/refresh", json={"refresh_token": new_refresh}), 401)


async def test_api_refresh_and_logout(h: Harness) -> None:
    user = await h.user(Role.marketer)
    pair = (await h.client.post("/api/v1/auth/token", data={"username": user.login, "password": PASSWORD})).json()
    rotated = await h.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh_token"] != pair["refresh_token"] and new["token_type"] == "bearer"
    auth = {"Authorization": f"Bearer {new['access_token']}"}
    assert (await h.client.get("/api/v1/auth/me", headers=auth)).status_code == 200
    out = await h.client.post("/api/v1/auth/logout", json={"refresh_token": new["refresh_token"]})
    assert out.status_code == 204
    problem(await h.client.get("/api/v1/auth/me", headers=auth), 401)  # the access token died with the session
    problem(await h.client.post("/api/v1/auth/refresh", json={"refresh_token": new["refresh_token"]}), 401)


async def test_forged_and_malformed_refresh_tokens(h: Harness) -> None:
    user = await h.user(Role.operator)
    pair = (await h.client.post("/api/v1/auth/token", data={"username": user.login, "password": PASSWORD})).json()
    session_id, generation, _mac = pair["refresh_token"].split(".")
    for token in ("garbage", f"{session_id}.{generation}.forgedmac", f"{session_id}.5.forgedmac", "a.b.c"):
        problem(await h.client.post("/api/v1/auth/refresh", json={"refresh_token": token}), 401)
    # A forged token does not revoke the genuine session.
    assert (
        await h.client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).status_code == 200
    problem(await h.client.post("/api/v1/auth/refresh", json={"refresh_token": 5}), 422)
    problem(await h.client.post("/api/v1/auth/refresh", json={"refresh_token": "x", "extra": 1}), 422)
    problem(await h.client.post("/api/v1/auth/refresh"), 401)


async def test_cookie_logout_clears_and_revokes(h: Harness) -> None:
    user = await h.user(Role.director)
    client = await browser_login(h, user.login)
    access = client.cookies["access_token"]
    problem(await client.post("/api/v1/auth/logout"), 403, "csrf-failed")
    out = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": client.cookies["csrf_token"]})
    assert out.status_code == 204
    replay = h.new_client(headers={"Authorization": f"Bearer {access}"})
    problem(await replay.get("/api/v1/auth/me"), 401)


async def test_logout_needs_a_genuine_refresh_token(h: Harness) -> None:
    user = await h.user(Role.operator)
    pair = (await h.client.post("/api/v1/auth/token", data={"username": user.login, "password": PASSWORD})).json()
    session_id = pair["refresh_token"].split(".")[0]
    stranger = h.new_client()
    problem(await stranger.post("/api/v1/auth/logout", json={"refresh_token": f"{session_id}.0.anything"}), 401)
    api = h.new_client(headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert (await api.get("/api/v1/auth/me")).status_code == 200
