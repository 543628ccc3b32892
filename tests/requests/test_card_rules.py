"""The rules a request card asks the domain about: which fields a principal may edit now (the same rule the edit
enforces), the money preview (the same computation and share as the move to done), and the masters' load."""

from __future__ import annotations

from decimal import Decimal

import pytest

from leadflow.accounts import service as accounts
from leadflow.accounts.models import Role
from leadflow.accounts.policies import Principal
from leadflow.platform.problems import ValidationProblem
from leadflow.requests import editing, handover, queries
from leadflow.requests.editing import EDITABLE, INTAKE_FIELDS, MONEY_FIELDS
from tests.conftest import Harness, error_fields
from tests.requests.helpers import API, Team, reach, team, url

INTAKE = set(INTAKE_FIELDS)


def principal(t: Team, role: str, user_id: int = 1) -> Principal:
    return Principal(
        id=t.master_id if role == "master" else user_id,
        login=role,
        role=Role(role),
        city_ids=frozenset({t.city.id}),
        master_city_id=t.city.id if role == "master" else None,
        session_id="s",
    )


async def rights(h: Harness, t: Team, role: str, rid: int) -> dict[str, editing.FieldRight]:
    async with h.database.session() as session:
        row = await queries.get_request(session, principal(t, "admin"), rid)
        return editing.field_rights(principal(t, role), row)


@pytest.mark.parametrize(
    ("role", "status", "editable"),
    [
        ("operator", "new", INTAKE),
        ("operator", "awaiting_acceptance", INTAKE - {"city_id"}),
        ("operator", "accepted", set()),
        ("director", "new", INTAKE | {"master_notes"}),
        ("director", "in_progress", INTAKE - {"city_id"} | {"master_notes"}),
        ("director", "done", INTAKE - {"city_id"} | {"master_notes"} | MONEY_FIELDS),
        ("admin", "done", INTAKE - {"city_id"} | {"master_notes"} | MONEY_FIELDS),
        ("master", "in_progress", {"master_notes"}),
        ("marketer", "new", set()),
    ],
)
async def test_editable_fields_by_role_and_status(h: Harness, role: str, status: str, editable: set[str]) -> None:
    t = await team(h)
    rid = (await reach(t, status))["id"]
    found = await rights(h, t, role, rid)
    assert set(found) == set(EDITABLE)
    assert {f for f, r in found.items() if r.editable} == editable
    for field, right in found.items():
        assert (right.reason is None) == right.editable, field
    async with h.database.session() as session:
        row = await queries.get_request(session, principal(t, "admin"), rid)
        assert editing.editable_fields(principal(t, role), row) == editable


async def test_locked_fields_carry_their_reason(h: Harness) -> None:
    t = await team(h)
    found = await rights(h, t, "director", (await reach(t, "in_progress"))["id"])
    assert found["result"].reason == editing.MONEY_LOCK
    assert found["city_id"].reason == editing.CITY_LOCK
    operator = await rights(h, t, "operator", (await reach(t, "accepted"))["id"])
    assert operator["client_name"].reason == editing.OPERATOR_LOCK
    assert operator["master_notes"].reason == editing.ROLE_MAY_NOT


async def test_the_edit_refuses_exactly_what_the_rights_lock(h: Harness) -> None:
    """Every field the rights call locked is refused by the edit with the same reason; the free ones pass."""
    t = await team(h)
    req = await reach(t, "in_progress")
    found = await rights(h, t, "director", req["id"])
    values = {"city_id": t.city.id + 1000, "result": "10", "expenses": "1"}
    for field in ("city_id", "result", "expenses"):
        assert not found[field].editable
        version = (await t.director.get(url(req["id"]))).json()["version"]
        answer = await t.director.patch(url(req["id"]), json={field: values[field], "version": version})
        assert answer.status_code == 409, answer.text
        assert error_fields(answer) == [field]
        assert answer.json()["errors"][0]["message"] == found[field].reason
    assert found["client_name"].editable
    version = (await t.director.get(url(req["id"]))).json()["version"]
    ok = await t.director.patch(url(req["id"]), json={"client_name": "Пётр", "version": version})
    assert ok.status_code == 200, ok.text


async def test_money_preview_is_what_the_move_to_done_books(h: Harness) -> None:
    t = await team(h)
    share = await t.admin.patch(f"{API}/masters/{t.master_id}", json={"company_share": "0.35"})
    assert share.status_code == 200, share.text
    req = await reach(t, "in_progress")
    async with h.database.session() as session:
        row = await queries.get_request(session, principal(t, "admin"), req["id"])
        # the master's own share, not the default: 100.10 × 0.35 = 35.035 → 35.04 (half-up)
        preview = await handover.preview_money(session, row, Decimal("100.10"), Decimal("0"), Decimal("0.5"))
        assert (preview.net_amount, preview.master_handover, preview.company_share) == (
            Decimal("100.10"),
            Decimal("35.04"),
            Decimal("0.35"),
        )
        preview = await handover.preview_money(session, row, Decimal("5000"), Decimal("1234.57"), Decimal("0.5"))
    done = await t.director.post(
        url(req["id"], "/transitions"),
        json={"to": "done", "version": req["version"], "result": "5000", "expenses": "1234.57"},
    )
    assert done.status_code == 200, done.text
    body = done.json()
    assert Decimal(body["net_amount"]) == preview.net_amount == Decimal("3765.43")
    assert Decimal(body["master_handover"]) == preview.master_handover == Decimal("1317.90")


async def test_money_preview_default_share_half_up_and_the_done_snapshot(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "in_progress")
    async with h.database.session() as session:
        row = await queries.get_request(session, principal(t, "admin"), req["id"])
        preview = await handover.preview_money(session, row, Decimal("0.05"), Decimal("0"), Decimal("0.5"))
        assert preview.master_handover == Decimal("0.03")  # 0.025 rounds half-up, not to even
    done = await reach(t, "done", result="1000", expenses="0")
    async with h.database.session() as session:
        row = await queries.get_request(session, principal(t, "admin"), done["id"])
        # a correction of a done request uses its snapshot share, not today's default
        preview = await handover.preview_money(session, row, Decimal("2000"), Decimal("0"), Decimal("0.9"))
        assert preview.company_share == Decimal(done["company_share"])
        assert preview.master_handover == (Decimal("2000") * Decimal(done["company_share"])).quantize(Decimal("0.01"))


async def test_money_preview_refuses_what_the_move_refuses(h: Harness) -> None:
    t = await team(h)
    req = await reach(t, "in_progress")
    async with h.database.session() as session:
        row = await queries.get_request(session, principal(t, "admin"), req["id"])
        with pytest.raises(ValidationProblem) as caught:
            await handover.preview_money(session, row, Decimal("10"), Decimal("20"), Decimal("0.5"))
        assert [e["field"] for e in caught.value.errors or []] == ["expenses"]
        with pytest.raises(ValidationProblem) as caught:
            await handover.preview_money(session, row, None, None, Decimal("0.5"))
        assert sorted(e["field"] for e in caught.value.errors or []) == ["expenses", "result"]


async def test_full_names_of_accounts(h: Harness) -> None:
    t = await team(h)
    other = await h.user("operator")
    async with h.database.session() as session:
        names = await accounts.full_names(session, [t.master_id, other.id, t.master_id, 999_999])
    assert names == {t.master_id: t.master_user.full_name, other.id: other.full_name}
    async with h.database.session() as session:
        assert await accounts.full_names(session, []) == {}
