from __future__ import annotations

import jwt
import pytest

from leadflow.accounts.models import Role
from tests.conftest import PASSWORD, SECRET, Harness, problem


async def test_token_login_and_me(h: Harness) -> None:
    admin = await h.user(Role.admin, login="Boss.Admin")
    response = await h.client.post("/api/v1/auth/token", data={"username": "boss.admin", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    me = await h.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == admin.id
    assert me.json()["login"] == "Boss.Admin"
    assert "password_hash" not in me.text and "totp" not in me.text.replace("two_factor_enabled", "")


async def test_wrong_password_and_unknown_login_look_the_same(h: Harness) -> None:
    await h.user(Role.operator, login="known")
    wrong = await h.client.post("/api/v1/auth/login", json={"login": "known", "password": "Wrong-password-1"})
    unknown = await h.client.post("/api/v1/auth/login", json={"login": "nobody", "password": "Wrong-password-1"})
    a, b = problem(wrong, 401, "invalid-credentials"), problem(unknown, 401, "invalid-credentials")
    a.pop("instance"), b.pop("instance")
    assert a == b


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        jwt.encode({"sub": "1", "sid": "x", "tv": 0, "typ": "access", "iat": 1, "exp": 2}, SECRET, algorithm="HS256"),
        jwt.encode(
            {"sub": "1", "sid": "x", "tv": 0, "typ": "access", "iat": 1, "exp": 9999999999},
            "forged-key-forged-key-forged-key!!",
            algorithm="HS256",
        ),
        jwt.encode(
            {"sub": "1", "sid": "x", "tv": 0, "typ": "access", "iat": 1, "exp": 9999999999}, None, algorithm="none"
        ),
    ],
    ids=["garbage", "expired", "forged", "alg-none"],
)
async def test_bad_tokens_are_401(h: Harness, token: str) -> None:
    await h.user(Role.admin)
    response = await h.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    problem(response, 401)
