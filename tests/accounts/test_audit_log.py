"""GET /audit-log: the security-relevant actions, for admins only (SPEC §2, §5)."""

from __future__ import annotations

from tests.conftest import PASSWORD, Harness, problem


async def test_admins_read_the_audit_log_newest_first_with_filters(h: Harness) -> None:
    admin_user = await h.user("admin")
    admin = await h.as_user(admin_user)
    operator = await h.user("operator")
    bad = await h.client.post("/api/v1/auth/token", data={"username": operator.login, "password": "Wrong-pass-123"})
    assert bad.status_code == 401
    await h.token(operator)
    everything = (await admin.get("/api/v1/audit-log", params={"per_page": 200})).json()
    logins = [e for e in everything["items"] if e["action"] == "login"]
    assert everything["total"] == len(everything["items"]) >= 3
    ours = [e for e in logins if e["login"] == operator.login]
    assert [e["result"] for e in ours] == ["ok", "failed"]  # newest first
    assert ours[0]["at"].endswith("Z") and ours[0]["ip"] == "127.0.0.1"
    failed = (await admin.get("/api/v1/audit-log", params={"action": "login", "result": "failed"})).json()
    assert failed["total"] == 1 and failed["items"][0]["login"] == operator.login
    by_login = (await admin.get("/api/v1/audit-log", params={"login": operator.login.upper()})).json()
    assert by_login["total"] == 2
    by_actor = (await admin.get("/api/v1/audit-log", params={"actor_id": operator.id, "action": "login"})).json()
    assert [e["result"] for e in by_actor["items"]] == ["ok", "failed"]
    paged = (await admin.get("/api/v1/audit-log", params={"per_page": 1, "page": 2})).json()
    assert paged["total"] == everything["total"] and paged["items"] == [everything["items"][1]]
    assert (await admin.get("/api/v1/audit-log", params={"date_from": "2000-01-01", "date_to": "2000-01-02"})).json()[
        "total"
    ] == 0
    problem(await admin.get("/api/v1/audit-log", params={"date_from": "1999-12-31"}), 422)
    for body in everything["items"]:
        assert PASSWORD not in str(body)


async def test_only_admins_read_it(h: Harness) -> None:
    for role in ("director", "operator", "marketer", "master"):
        problem(await (await h.signed_in(role)).get("/api/v1/audit-log"), 403)
    problem(await h.client.get("/api/v1/audit-log"), 401)
